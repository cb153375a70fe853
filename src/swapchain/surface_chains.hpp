// Retirement (vkCreateSwapchainKHR's oldSwapchain) for the layer's swapchains of one surface: which one
// holds the surface, and which retired one may still reach it. One per surface, shared by its swapchains.
//
// The rules, as the spec and Mesa's Wayland WSI have them:
//  - creating a swapchain retires its oldSwapchain first, even if the creation then fails;
//  - a surface held by an unretired swapchain refuses a new one that does not name it as oldSwapchain
//    (VK_ERROR_NATIVE_WINDOW_IN_USE_KHR);
//  - a retired swapchain's acquires are VK_ERROR_OUT_OF_DATE_KHR;
//  - its presents still run (their semaphore waits happen), but once a newer swapchain of the surface has
//    presented they do not reach the surface: an old frame must not replace a new one. (Mesa refuses every
//    present of a retired swapchain; the spec lets an app present what it had acquired until the new one
//    is ready, so those reach the surface here.)
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace sfw {

class SurfaceChains {
public:
  using Chain = const void *; // the engine's Swapchain, as a key

  // At vkCreateSwapchainKHR, before anything can fail. False: another unretired swapchain holds the surface.
  bool retire_for_create(Chain old) noexcept {
    std::lock_guard lock(mutex_);
    Chain holder = holder_.load();
    if (holder != nullptr && holder != old) return false;
    holder_.store(nullptr);
    return true;
  }
  // The new swapchain holds the surface; its generation orders it after every earlier one.
  uint64_t admit(Chain chain) noexcept {
    std::lock_guard lock(mutex_);
    holder_.store(chain);
    return ++generations_;
  }
  // vkDestroySwapchainKHR: a surface its holder leaves is free.
  void remove(Chain chain) noexcept {
    std::lock_guard lock(mutex_);
    if (holder_.load() == chain) holder_.store(nullptr);
  }
  bool retired(Chain chain) const noexcept { return holder_.load(std::memory_order_acquire) != chain; }
  // At commit time: may the swapchain of `generation` reach the surface? Then record that it did.
  bool may_commit(Chain chain, uint64_t generation) const noexcept {
    return !retired(chain) || presented_.load(std::memory_order_acquire) <= generation;
  }
  void committed(uint64_t generation) noexcept {
    uint64_t seen = presented_.load(std::memory_order_relaxed);
    while (seen < generation && !presented_.compare_exchange_weak(seen, generation, std::memory_order_acq_rel)) {
    }
  }

private:
  std::mutex mutex_; // orders create and destroy (the spec makes both externally synchronised on the surface)
  std::atomic<Chain> holder_{nullptr};
  uint64_t generations_ = 0;
  std::atomic<uint64_t> presented_{0}; // the newest generation that reached the surface
};

} // namespace sfw
