// The Wayland module without a compositor: the format-table parser and tranche selector, the local
// checks that keep fatal zwp_linux_buffer_params_v1 errors off the app's connection, Status strings, and
// the bounded waits against a fake "compositor" on a socketpair (silent, answering, hung up).
#include "debug_flags.hpp"
#include "wayland/buffer_params.hpp"
#include "wayland/dispatch.hpp"
#include "wayland/display_info.hpp"
#include "wayland/formats.hpp"
#include "wayland/owners.hpp"

#include "kernel/unique_fd.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <wayland-client.h>

#include <chrono>
#include <array>
#include <climits>
#include <cstring>
#include <thread>
#include <vector>

using namespace sfw::wl;
using sfw::kernel::UniqueFd;
using namespace std::chrono_literals;

namespace {

std::vector<unsigned char> table_bytes(const std::vector<FormatModifier> &pairs) {
  std::vector<unsigned char> bytes(pairs.size() * 16, 0xAA); // padding filled: it must be ignored
  for (size_t i = 0; i < pairs.size(); ++i) {
    memcpy(&bytes[i * 16], &pairs[i].format, 4);
    memcpy(&bytes[i * 16 + 8], &pairs[i].modifier, 8);
  }
  return bytes;
}

const std::vector<FormatModifier> kPairs = {
    {kFormatArgb8888, kModifierLinear}, {kFormatXrgb8888, kModifierLinear}, {kFormatArgb8888, kModifierInvalid}};

} // namespace

TEST(WaylandStatus, Strings) {
  EXPECT_STREQ(to_string(Status::ok), "ok");
  EXPECT_STREQ(to_string(Status::timeout), "timeout");
  EXPECT_STREQ(to_string(Status::lost), "lost");
  EXPECT_STREQ(to_string(Status::failed), "failed");
  EXPECT_STREQ(to_string(Status::refused), "refused");
  EXPECT_STREQ(to_string(ParamsCheck::out_of_bounds), "OUT_OF_BOUNDS");
}

TEST(FormatTable, ParsesEntries) {
  auto bytes = table_bytes(kPairs);
  std::vector<FormatModifier> table;
  ASSERT_TRUE(parse_format_table(bytes.data(), bytes.size(), &table));
  EXPECT_EQ(table, kPairs);
}

TEST(FormatTable, ParsesUnalignedBuffer) {
  auto bytes = table_bytes(kPairs);
  std::vector<unsigned char> shifted(bytes.size() + 1);
  memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  std::vector<FormatModifier> table;
  ASSERT_TRUE(parse_format_table(shifted.data() + 1, bytes.size(), &table));
  EXPECT_EQ(table, kPairs);
}

TEST(FormatTable, RejectsTruncatedAndOddSizes) {
  auto bytes = table_bytes(kPairs);
  std::vector<FormatModifier> table = kPairs;
  for (size_t size : {size_t{0}, size_t{1}, size_t{8}, size_t{15}, size_t{17}, size_t{24}, bytes.size() - 1}) {
    EXPECT_FALSE(parse_format_table(bytes.data(), size, &table)) << size;
    EXPECT_TRUE(table.empty()) << size;
  }
  EXPECT_FALSE(parse_format_table(nullptr, 16, &table));
}

TEST(FormatTable, LimitIsWhatUint16IndicesReach) {
  std::vector<unsigned char> bytes(65537 * 16, 0);
  std::vector<FormatModifier> table;
  EXPECT_TRUE(parse_format_table(bytes.data(), 65536 * 16, &table));
  EXPECT_EQ(table.size(), 65536u);
  EXPECT_FALSE(parse_format_table(bytes.data(), bytes.size(), &table));
}

TEST(Tranche, SelectsAndDeduplicates) {
  const uint16_t indices[] = {2, 0, 2};
  std::vector<FormatModifier> out = {kPairs[0]};
  ASSERT_TRUE(select_from_tranche(kPairs, indices, sizeof indices, &out));
  EXPECT_EQ(out, (std::vector<FormatModifier>{kPairs[0], kPairs[2]}));
  EXPECT_TRUE(select_from_tranche(kPairs, nullptr, 0, &out)); // an empty tranche is fine
  EXPECT_EQ(out.size(), 2u);
}

TEST(Tranche, RejectsOutOfRangeAndOddBytes) {
  const uint16_t bad[] = {1, 3};
  std::vector<FormatModifier> out = {kPairs[1]};
  EXPECT_FALSE(select_from_tranche(kPairs, bad, sizeof bad, &out));
  EXPECT_EQ(out, std::vector<FormatModifier>{kPairs[1]}); // unchanged on failure
  const uint16_t good[] = {0, 1};
  EXPECT_FALSE(select_from_tranche(kPairs, good, 3, &out));
  EXPECT_FALSE(select_from_tranche({}, good, sizeof good, &out));
  EXPECT_EQ(out.size(), 1u);
}

// ---- local parameter checks: a memfd of known size stands in for the dma-buf -----------------------------
class ParamsCheckTest : public ::testing::Test {
protected:
  void SetUp() override {
    memfd_ = UniqueFd(memfd_create("sfw-wl-test", MFD_CLOEXEC));
    ASSERT_TRUE(memfd_);
    ASSERT_EQ(ftruncate(memfd_.get(), kSize), 0);
  }
  ParamsCheck check(uint32_t w, uint32_t h, FormatModifier fm, std::vector<PlaneParams> planes) {
    char why[192];
    ParamsCheck result = check_buffer_params(w, h, fm, planes, kPairs, why, sizeof why);
    if (result != ParamsCheck::ok) {
      EXPECT_NE(why[0], '\0'); // every refusal says why
    }
    return result;
  }
  PlaneParams plane(uint32_t index, uint32_t offset, uint32_t stride) { return {index, memfd_.get(), offset, stride}; }

  static constexpr off_t kSize = 64 * 64 * 4;
  const FormatModifier argb_linear_{kFormatArgb8888, kModifierLinear};
  UniqueFd memfd_;
};

TEST_F(ParamsCheckTest, AcceptsGoodBuffer) {
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 256)}), ParamsCheck::ok);
  EXPECT_EQ(check(32, 32, argb_linear_, {plane(0, 4096, 256)}), ParamsCheck::ok); // offset inside
  // Two planes (later planes are not checked against the full height: they may be subsampled).
  EXPECT_EQ(check(64, 32, argb_linear_, {plane(0, 0, 256), plane(1, 8192, 128)}), ParamsCheck::ok);
}

TEST_F(ParamsCheckTest, Incomplete) {
  EXPECT_EQ(check(64, 64, argb_linear_, {}), ParamsCheck::incomplete);
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(1, 0, 256)}), ParamsCheck::incomplete);
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 256), plane(2, 0, 256)}), ParamsCheck::incomplete);
}

TEST_F(ParamsCheckTest, InvalidDimensions) {
  EXPECT_EQ(check(0, 64, argb_linear_, {plane(0, 0, 256)}), ParamsCheck::invalid_dimensions);
  EXPECT_EQ(check(64, 0, argb_linear_, {plane(0, 0, 256)}), ParamsCheck::invalid_dimensions);
  EXPECT_EQ(check(uint32_t{INT32_MAX} + 1, 1, argb_linear_, {plane(0, 0, 256)}), ParamsCheck::invalid_dimensions);
}

TEST_F(ParamsCheckTest, OutOfBounds) {
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 257)}), ParamsCheck::out_of_bounds);      // stride*height
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 1, 256)}), ParamsCheck::out_of_bounds);      // offset + that
  EXPECT_EQ(check(1, 1, argb_linear_, {plane(0, kSize, 4)}), ParamsCheck::out_of_bounds);      // offset at end
  EXPECT_EQ(check(1, 1, argb_linear_, {plane(0, kSize - 2, 4)}), ParamsCheck::out_of_bounds);  // one row
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 0)}), ParamsCheck::out_of_bounds);        // stride 0
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 0x80000000u)}), ParamsCheck::out_of_bounds); // 32-bit overflow
  EXPECT_EQ(check(1, 1, argb_linear_, {plane(0, UINT32_MAX, 2)}), ParamsCheck::out_of_bounds);
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 256), plane(1, 0, kSize + 1)}), ParamsCheck::out_of_bounds);
}

TEST_F(ParamsCheckTest, InvalidFormat) {
  EXPECT_EQ(check(64, 64, {kFormatArgb8888, 0x00ffffffffff1234ULL}, {plane(0, 0, 256)}), ParamsCheck::invalid_format);
  EXPECT_EQ(check(64, 64, {0x3231564e /* NV12 */, kModifierLinear}, {plane(0, 0, 256)}), ParamsCheck::invalid_format);
}

TEST_F(ParamsCheckTest, PlaneIdxAndPlaneSet) {
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 256), plane(4, 0, 256)}), ParamsCheck::plane_idx);
  EXPECT_EQ(check(64, 64, argb_linear_, {plane(0, 0, 256), plane(0, 0, 256)}), ParamsCheck::plane_set);
}

TEST_F(ParamsCheckTest, BadFd) {
  EXPECT_EQ(check(64, 64, argb_linear_, {{0, -1, 0, 256}}), ParamsCheck::bad_fd);
  int closed = UniqueFd(memfd_create("closed", MFD_CLOEXEC)).get();
  EXPECT_EQ(check(64, 64, argb_linear_, {{0, closed, 0, 256}}), ParamsCheck::bad_fd);
}

TEST_F(ParamsCheckTest, UnseekableFdSkipsOnlySizeChecks) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  EXPECT_EQ(check(64, 64, argb_linear_, {{0, r.get(), 0, 1u << 20}}), ParamsCheck::ok);
  EXPECT_EQ(check(64, 64, argb_linear_, {{0, r.get(), 0, 0x80000000u}}), ParamsCheck::out_of_bounds);
}

TEST(DebugFlags, Parses) {
  using sfw::parse_debug_flags;
  EXPECT_FALSE(parse_debug_flags(nullptr).corrupt_stride);
  EXPECT_TRUE(parse_debug_flags("corrupt-stride").corrupt_stride);
  sfw::DebugFlags both = parse_debug_flags("no-immed,corrupt-stride");
  EXPECT_TRUE(both.corrupt_stride);
  EXPECT_TRUE(both.no_immed);
  EXPECT_FALSE(both.no_semaphore_import);
  EXPECT_EQ(both.fail_import_at, 0);
  sfw::DebugFlags swapchain = parse_debug_flags("no-semaphore-import,fail-import-at=7");
  EXPECT_TRUE(swapchain.no_semaphore_import);
  EXPECT_EQ(swapchain.fail_import_at, 7);
  EXPECT_EQ(swapchain.fail_syncobj_at, 0);
  sfw::DebugFlags syncobj = parse_debug_flags("fail-syncobj-at=3,syncobj-emfile-at=5");
  EXPECT_EQ(syncobj.fail_syncobj_at, 3);
  EXPECT_EQ(syncobj.syncobj_emfile_at, 5);
  EXPECT_EQ(syncobj.fail_import_at, 0);
  EXPECT_FALSE(syncobj.ownership_transfers);
  EXPECT_TRUE(parse_debug_flags("ownership-transfers").ownership_transfers);
}

TEST(WaylandDeadline, Saturates) {
  EXPECT_EQ(deadline_after(std::chrono::nanoseconds::max()), Clock::time_point::max());
  const auto past = deadline_after(-5s); // "now": a past deadline still allows one non-blocking read
  EXPECT_LE(past, Clock::now());
}

// ---- bounded waits against a fake compositor on a socketpair ---------------------------------------------
class FakeServer : public ::testing::Test {
protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_.reset(fds[1]);
    display_ = wl_display_connect_to_fd(fds[0]); // takes fds[0]
    ASSERT_NE(display_, nullptr);
    queue_ = make_queue(display_);
    wrapper_ = wrap_on_queue(display_, queue_.get());
  }
  void TearDown() override {
    wrapper_.reset();
    queue_.reset();
    forget_display(display_);
    wl_display_disconnect(display_);
  }
  // Reads one request (header + body) the client sent; returns {object, opcode, first argument}.
  std::array<uint32_t, 3> read_request() {
    uint32_t msg[3] = {};
    EXPECT_EQ(recv(server_.get(), msg, sizeof msg, MSG_WAITALL), static_cast<ssize_t>(sizeof msg));
    return {msg[0], msg[1] & 0xffff, msg[2]};
  }
  void send_event(uint32_t object, uint16_t opcode, uint32_t arg) {
    const uint32_t msg[3] = {object, (12u << 16) | opcode, arg};
    ASSERT_EQ(send(server_.get(), msg, sizeof msg, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof msg));
  }

  UniqueFd server_;
  wl_display *display_ = nullptr;
  QueueRef queue_;
  Owned<wl_display, destroy_wrapper<wl_display>> wrapper_;
};

TEST_F(FakeServer, RoundtripTimesOutWithinTheBound) {
  const auto start = Clock::now();
  EXPECT_EQ(roundtrip(display_, wrapper_.get(), queue_.get(), deadline_after(200ms)), Status::timeout);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(wl_display_get_error(display_), 0);
}

TEST_F(FakeServer, RoundtripCompletesWhenAnswered) {
  std::thread server([&] {
    auto [object, opcode, new_id] = read_request(); // wl_display.sync(new_id)
    EXPECT_EQ(object, 1u);
    EXPECT_EQ(opcode, 0u);
    send_event(new_id, 0, 42); // wl_callback.done
    send_event(1, 1, new_id);  // wl_display.delete_id
  });
  EXPECT_EQ(roundtrip(display_, wrapper_.get(), queue_.get(), deadline_after(5s)), Status::ok);
  server.join();
  // Nothing of ours reached the default queue: a read could be prepared on it right away.
  ASSERT_EQ(wl_display_prepare_read(display_), 0);
  wl_display_cancel_read(display_);
}

TEST_F(FakeServer, HangUpIsLostQuickly) {
  server_.reset();
  const auto start = Clock::now();
  EXPECT_EQ(roundtrip(display_, wrapper_.get(), queue_.get(), deadline_after(5s)), Status::lost);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_NE(wl_display_get_error(display_), 0);
  EXPECT_EQ(roundtrip(display_, wrapper_.get(), queue_.get(), deadline_after(5s)), Status::lost);
}

TEST_F(FakeServer, ZeroTimeoutIsOneNonBlockingRead) {
  const auto start = Clock::now();
  EXPECT_EQ(dispatch_until(display_, queue_.get(), [] { return false; }, Clock::now()), Status::timeout);
  EXPECT_EQ(dispatch_until(display_, queue_.get(), [] { return true; }, Clock::now()), Status::ok);
  EXPECT_LT(Clock::now() - start, 2s); // a blocking read would never return: nothing is sent
}

TEST_F(FakeServer, QueryDisplayTimesOutAndCachesNothing) {
  DisplayInfo info;
  EXPECT_EQ(query_display(display_, 100ms, &info), Status::timeout);
  EXPECT_EQ(cached_display_info(display_), nullptr);
}

TEST(KnownGood, PerDisplay) {
  auto *a = reinterpret_cast<wl_display *>(uintptr_t{0x1000});
  auto *b = reinterpret_cast<wl_display *>(uintptr_t{0x2000});
  const FormatModifier fm{kFormatArgb8888, kModifierLinear};
  EXPECT_FALSE(is_known_good(a, fm));
  mark_known_good(a, fm);
  EXPECT_TRUE(is_known_good(a, fm));
  EXPECT_FALSE(is_known_good(b, fm));
  forget_display(a);
  EXPECT_FALSE(is_known_good(a, fm));
}
