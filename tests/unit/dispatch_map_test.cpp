// The lock-free dispatch-key map: what the submit fast path reads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "dispatch_map.hpp"

using sfw::layer::DispatchMap;

namespace {
struct FakeState {
  int id;
};
void *key(int n) { return reinterpret_cast<void *>(static_cast<uintptr_t>(0x1000 + n * 16)); }
} // namespace

TEST(DispatchMap, InsertFindErase) {
  DispatchMap<FakeState> map;
  EXPECT_EQ(map.find(key(1)), nullptr);
  map.insert(key(1), std::make_shared<FakeState>(FakeState{1}));
  map.insert(key(2), std::make_shared<FakeState>(FakeState{2}));
  ASSERT_NE(map.find(key(1)), nullptr);
  EXPECT_EQ(map.find(key(1))->id, 1);
  EXPECT_EQ(map.get(key(2))->id, 2);
  auto erased = map.erase(key(1));
  ASSERT_NE(erased, nullptr);
  EXPECT_EQ(erased->id, 1);
  EXPECT_EQ(map.find(key(1)), nullptr);
  EXPECT_EQ(map.erase(key(1)), nullptr);
  EXPECT_EQ(map.size(), 1u);
}

// One thread creates and destroys "devices" while another "submits" on a live one, looking it
// up lock-free every time. Run under ThreadSanitizer by scripts/test.
TEST(DispatchMap, LookupsRaceWithCreateAndDestroy) {
  DispatchMap<FakeState> map;
  map.insert(key(0), std::make_shared<FakeState>(FakeState{0}));
  std::atomic<bool> stop{false};
  std::atomic<long> lookups{0};
  std::thread submitter([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      FakeState *s = map.find(key(0));
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->id, 0);
      lookups.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (int round = 0; round < 2000; ++round) {
    int n = 1 + round % 7;
    map.insert(key(n), std::make_shared<FakeState>(FakeState{n}));
    auto gone = map.erase(key(n));
    ASSERT_EQ(gone->id, n);
  }
  // Bounded: the submitter must have run at least once before we stop it.
  for (int i = 0; i < 10000 && lookups.load() == 0; ++i) std::this_thread::yield();
  stop = true;
  submitter.join();
  EXPECT_GT(lookups.load(), 0);
  EXPECT_EQ(map.size(), 1u);
}
