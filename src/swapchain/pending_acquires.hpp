// The acquires whose image must still be taken back from the compositor, for one device: the one owner
// of the take-back rule, used by vkQueueSubmit, vkQueueSubmit2, vkQueueBindSparse and vkQueuePresentKHR.
//
// A take-back runs the ownership transfer back from FOREIGN after the compositor's reads, before the app's
// rendering, in the same driver call as the app's batches. Where it is only that transfer and an app batch
// waits on the acquire semaphore (the reads are in it), vkQueueSubmit(2) puts its command buffer first in
// that batch: the app's own wait orders it (the barrier's srcStageMask is ALL_COMMANDS, which covers the
// stage the app waits at) and the driver sees no extra batch or semaphore. Otherwise it is a batch of its
// own before the app's: it waits for the reads (the app's acquire semaphore, or the layer's own semaphore
// for a fence-only acquire), runs the transfer, and signals the app's semaphore again. The app's batches
// keep their pNext chains and semaphores, so those stay valid; a batch whose chain the layer does not
// know, or that is protected, gets no command buffer of the layer's.
//
// Locking: mutex_ guards the list only; it is never held while a swapchain is called, so no wait on the
// GPU, the kernel or the compositor happens under it. A Claim takes entries out under the lock, asks their
// swapchains for the work with no list lock held, and either commits (the driver accepted the batches) or,
// when destroyed uncommitted, gives every entry back as it was: a failing command changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "host_alloc.hpp"
#include "swapchain/vk_functions.hpp"

namespace sfw {

// What one image's take-back needs in the layer's batch.
struct TakeBack {
  VkCommandBuffer cmd = VK_NULL_HANDLE; // the ownership transfer back from FOREIGN; null: none
  VkSemaphore reads = VK_NULL_HANDLE;   // fence-only acquire: the layer's semaphore holding the compositor's reads
  bool transfer_skipped = false;        // the queue cannot record the transfer (sparse-only): taken back without it
};

// The image's side of a take-back (implemented by Swapchain).
class TakeBackSource {
public:
  // Called with no list lock held; changes nothing but caches, so a failure leaves the image as it was.
  virtual VkResult prepare_take_back(uint32_t index, uint32_t family, bool record_commands, TakeBack *out) noexcept = 0;
  // The driver accepted the batch: the image is back from the compositor.
  virtual void commit_take_back(uint32_t index, const TakeBack &take) noexcept = 0;

protected:
  ~TakeBackSource() = default;
};

class PendingAcquires {
public:
  struct Entry {
    VkSemaphore semaphore = VK_NULL_HANDLE; // the app's acquire semaphore; null: a fence-only acquire
    std::shared_ptr<TakeBackSource> source; // null once its swapchain was destroyed (lazy entries only)
    uint32_t index = 0;
    bool lazy = false; // the semaphore was never loaded: the layer's batch must signal it
  };

  // A swapchain of `images` images: room for an entry per image, so add() never allocates. Throws std::bad_alloc.
  void add_source(const TakeBackSource *source, uint32_t images);
  // vkDestroySwapchainKHR: the swapchain's entries go (a loaded semaphore still works for a late wait);
  // a lazy one stays without its swapchain, so the submit that waits on it still signals it.
  void forget(const TakeBackSource *source) noexcept;
  // vkReleaseSwapchainImagesEXT: the same for one image of a live swapchain.
  void forget_image(const TakeBackSource *source, uint32_t index) noexcept;
  // A newer acquire of the same image, or with the same semaphore, replaces the older entry.
  VkResult add(Entry entry) noexcept;
  void clear() noexcept;
  // The fast path's only read: false means no entry exists (relaxed: the app orders its acquire before
  // the submit that waits on it).
  bool any() const noexcept { return count_.load(std::memory_order_relaxed) != 0; }
  size_t size() const noexcept;

  class Claim;
  struct ClaimScratch;

private:
  friend class Claim;
  void give_back(Vector<Entry> *entries) noexcept;

  mutable std::mutex mutex_;
  Vector<Entry> entries_;
  struct Source {
    const TakeBackSource *source;
    uint32_t images;
  };
  Vector<Source> sources_; // the live swapchains
  size_t room_ = 0;        // their images
  bool live(const TakeBackSource *source) const noexcept;
  std::atomic<uint32_t> count_{0};
};

// What a Claim builds in, kept by its caller across calls (one per queue: a queue's calls are externally
// synchronised) so that once it has grown a frame allocates nothing. Empty between calls.
struct PendingAcquires::ClaimScratch {
  struct Infos2 {
    VkSemaphoreSubmitInfo wait, signal;
    VkCommandBufferSubmitInfo cmd;
  };
  Vector<Entry> entries;
  Vector<TakeBack> takes;
  Vector<uint32_t> into;    // per entry: the app batch its command buffer goes first in, or kOwnBatch
  Vector<Infos2> infos2;
  Vector<VkSubmitInfo> batches;
  Vector<VkSubmitInfo2> batches2;
  Vector<VkCommandBuffer> cmds;
  Vector<VkCommandBufferSubmitInfo> cmd_infos;
};

// One call's take-backs. Made and used inside the call's ScopedHostAllocator; throws std::bad_alloc only
// where it says so, and then has changed nothing.
class PendingAcquires::Claim {
public:
  static constexpr uint32_t kOwnBatch = UINT32_MAX;
  // `scratch` is the caller's, reused; without one, the claim's own.
  Claim(PendingAcquires &list, ClaimScratch &scratch) noexcept;
  explicit Claim(PendingAcquires &list) noexcept : Claim(list, own_) {}
  ~Claim(); // uncommitted: every entry goes back to the list; the scratch is left empty
  Claim(const Claim &) = delete;
  Claim &operator=(const Claim &) = delete;

  // Takes every entry `pick(const Entry &)` selects. Throws std::bad_alloc (before taking any).
  template <typename Pick> void take(Pick &&pick);
  bool empty() const noexcept { return s_.entries.empty(); }
  // Asks each swapchain for its take-back on a queue of `family`; no list lock held.
  VkResult prepare(uint32_t family, bool record_commands) noexcept;
  // The layer's batches, one per take-back with work, appended in claim order. Throws std::bad_alloc.
  void append_batches(Vector<VkSubmitInfo> *out);
  void append_batches(Vector<VkSubmitInfo2> *out);
  // One driver call's batches: the take-backs that need a batch of their own, then the app's `count`
  // batches, each with the command buffers of the take-backs it orders first (see the top of this file).
  // Valid until the claim goes. Throws std::bad_alloc, and then has changed nothing.
  std::span<const VkSubmitInfo> with_app_batches(uint32_t count, const VkSubmitInfo *app);
  std::span<const VkSubmitInfo2> with_app_batches(uint32_t count, const VkSubmitInfo2 *app);
  // The driver accepted the batches.
  void commit() noexcept;

private:
  bool has_work(size_t i) const noexcept;
  // A take-back that is only the transfer, for an app semaphore loaded with the reads: it may go into the app's batch.
  bool only_transfer(size_t i) const noexcept;
  template <typename Info> void place(uint32_t count, const Info *app);
  template <typename Info, typename Cmd>
  std::span<const Info> merge(uint32_t count, const Info *app, Vector<Info> *batches, Vector<Cmd> *cmds);
  PendingAcquires &list_;
  ClaimScratch own_;
  ClaimScratch &s_;
  bool committed_ = false;
};

template <typename Pick> void PendingAcquires::Claim::take(Pick &&pick) {
  for (;;) {
    size_t room = list_.count_.load(std::memory_order_relaxed);
    s_.entries.reserve(room);
    s_.takes.reserve(room);
    s_.into.reserve(room);
    std::lock_guard lock(list_.mutex_);
    if (list_.entries_.size() > s_.entries.capacity()) continue; // an acquire on another thread: more room
    for (auto it = list_.entries_.begin(); it != list_.entries_.end();)
      if (pick(static_cast<const Entry &>(*it))) {
        s_.entries.push_back(std::move(*it));
        it = list_.entries_.erase(it);
        list_.count_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    s_.takes.resize(s_.entries.size());
    s_.into.assign(s_.entries.size(), kOwnBatch);
    return;
  }
}

} // namespace sfw
