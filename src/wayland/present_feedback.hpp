// Present ids of one swapchain (VK_KHR_present_id, VK_KHR_present_wait), from the compositor's feedback:
// per present that carries an id, a wp_presentation_feedback (`presented` or `discarded` completes it), or,
// where the compositor has no wp_presentation, a frame callback (its `done`), as Mesa's Wayland WSI does.
// Everything lives on a queue of its own, so another thread can wait for an id while the app presents and
// acquires through the swapchain's link: the two never dispatch the same queue. An id the compositor has not
// answered for `hidden_bound` after its commit completes all the same (a hidden surface may never be repainted).
#pragma once

#include "host_alloc.hpp"
#include "wayland/dispatch.hpp"
#include "wayland/owners.hpp"
#include "wayland/status.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

struct wl_surface;
struct wp_presentation;

namespace sfw::wl {

void destroy_presentation(wp_presentation *presentation);

class PresentFeedback {
public:
  // `use_presentation`: the compositor offers wp_presentation (DisplayInfo); otherwise frame callbacks.
  // The display and surface must outlive the object. Made through the active ScopedHostAllocator, which it
  // keeps for its records; throws std::bad_alloc.
  static HostUnique<PresentFeedback> create(wl_display *display, wl_surface *surface, bool use_presentation,
                                            std::chrono::milliseconds hidden_bound, std::chrono::milliseconds timeout,
                                            Status *status);
  ~PresentFeedback();
  PresentFeedback(const PresentFeedback &) = delete;
  PresentFeedback &operator=(const PresentFeedback &) = delete;

  // Right before the commit of a present with `id` (> 0): asks for that commit's feedback. Allocates only when
  // more ids are in flight than ever before (`failed` if that allocation fails: the id then never completes).
  Status request(uint64_t id) noexcept;

  // Until an id >= `id` has completed (ok), `deadline` passes (timeout) or the display dies (lost). Several
  // threads may wait at once: one dispatches, the others sleep until it is done.
  Status wait(uint64_t id, Clock::time_point deadline) noexcept;

  uint64_t expired() const noexcept { return expired_.load(std::memory_order_relaxed); } // ids the bound completed
  uint64_t completed() const noexcept { return completed_.load(std::memory_order_acquire); }
  uint64_t requested() const noexcept { return requested_.load(std::memory_order_acquire); }
  bool uses_presentation() const noexcept { return static_cast<bool>(presentation_); }

  struct Entry; // one id in flight: its feedback (or callback) proxy
  void complete(Entry *entry) noexcept; // from the listeners

private:
  PresentFeedback() = default;
  Status dispatch_pending_locked(std::unique_lock<std::mutex> &lock) noexcept;
  void retire_locked(Entry *entry) noexcept;
  Clock::time_point expire_locked(Clock::time_point now) noexcept; // the next expiry (max: none live)

  wl_display *display_ = nullptr;
  std::chrono::milliseconds hidden_bound_{};
  HostAllocator host_;
  QueueRef queue_; // first: released last
  Owned<wl_surface, destroy_wrapper<wl_surface>> surface_wrapper_;
  Owned<wp_presentation, destroy_presentation> presentation_;

  std::mutex mutex_; // guards the lists and dispatching_; never held while the queue is dispatched
  std::condition_variable dispatched_;
  bool dispatching_ = false; // one thread at a time dispatches queue_
  Entry *free_ = nullptr;    // recycled records
  Entry *live_ = nullptr;    // ids in flight
  std::atomic<uint64_t> completed_{0}, requested_{0}, expired_{0};
};

} // namespace sfw::wl
