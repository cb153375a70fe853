// Per-object state keyed by the loader's dispatch key.
//
// Writers (create/destroy, rare) take a mutex and own the state through shared_ptr. Readers on
// hot paths (every vkQueueSubmit) take no lock and allocate nothing: they scan an immutable
// snapshot published through one atomic pointer. A snapshot replaced by a writer may still be
// read by a submit on another device, so it is retired, not freed, until the map itself is
// destroyed at library unload. Snapshots are small and creates/destroys are rare.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace sfw::layer {

// The loader writes its dispatch table pointer into the first word of every dispatchable
// handle; objects created from one instance or device share it.
template <typename Handle> inline void *dispatch_key(Handle handle) noexcept {
  return *reinterpret_cast<void **>(handle);
}

template <typename State> class DispatchMap {
public:
  DispatchMap() = default;
  DispatchMap(const DispatchMap &) = delete;
  DispatchMap &operator=(const DispatchMap &) = delete;

  // Lock-free. The pointer stays valid until the object with this key is destroyed, which the
  // app may not do while it uses the object (external synchronisation rules).
  State *find(void *key) const noexcept {
    const Snapshot *snap = current_.load(std::memory_order_acquire); // never null
    for (const Entry *e = snap->begin, *end = snap->end; e != end; ++e)
      if (e->key == key) return e->state;
    return nullptr;
  }

  std::shared_ptr<State> get(void *key) const {
    std::lock_guard lock(mutex_);
    auto it = owners_.find(key);
    return it == owners_.end() ? nullptr : it->second;
  }

  // Throws std::bad_alloc; the map is unchanged then.
  void insert(void *key, std::shared_ptr<State> state) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = owners_.insert_or_assign(key, std::move(state));
    try {
      publish_locked();
    } catch (...) {
      owners_.erase(it);
      throw;
    }
    (void)inserted;
  }

  // Returns the removed state so the caller decides when it dies (after its last use).
  std::shared_ptr<State> erase(void *key) noexcept {
    std::lock_guard lock(mutex_);
    auto it = owners_.find(key);
    if (it == owners_.end()) return nullptr;
    std::shared_ptr<State> state = std::move(it->second);
    owners_.erase(it);
    try {
      publish_locked();
    } catch (...) {
      // Out of memory: keep the old snapshot, but blank the entry in place would race with
      // readers of *other* keys only if we wrote to it; the stale entry is harmless because no
      // reader may look this key up again. Keep the state alive with the retired snapshots.
      zombies_.push_back(state);
    }
    return state;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return owners_.size();
  }

private:
  struct Entry {
    void *key;
    State *state;
  };
  struct Snapshot {
    const Entry *begin = nullptr; // [begin, end): what readers scan, no bounds or null checks
    const Entry *end = nullptr;
    std::unique_ptr<Entry[]> entries;
  };

  void publish_locked() {
    auto snap = std::make_unique<Snapshot>();
    snap->entries = std::make_unique<Entry[]>(owners_.size());
    std::size_t i = 0;
    for (const auto &[key, state] : owners_) snap->entries[i++] = Entry{key, state.get()};
    snap->begin = snap->entries.get();
    snap->end = snap->begin + i;
    retired_.reserve(retired_.size() + 1);
    retired_.push_back(std::move(snap));
    current_.store(retired_.back().get(), std::memory_order_release);
  }

  mutable std::mutex mutex_;
  std::map<void *, std::shared_ptr<State>> owners_;
  Snapshot empty_;
  std::atomic<const Snapshot *> current_{&empty_};
  std::vector<std::unique_ptr<Snapshot>> retired_; // every snapshot ever published, incl. current
  std::vector<std::shared_ptr<State>> zombies_;
};

} // namespace sfw::layer
