// Bounded waits on the app's wl_display for one private queue, built only from libwayland 1.21 calls
// (prepare_read_queue / flush / poll / read_events or cancel_read): no wl_display_dispatch_queue_timeout
// (1.23), no unbounded roundtrip. Safe beside other threads reading the same display: that is what the
// prepare_read protocol is for. The app's default queue is never dispatched.
#pragma once

#include "wayland/status.hpp"

#include <wayland-client-core.h>

#include <chrono>

namespace sfw::wl {

using Clock = std::chrono::steady_clock;

// now + timeout, saturating (Vulkan's UINT64_MAX timeouts must not wrap around).
Clock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept;

// `lost` if the display has a fatal error (protocol error, hang-up): nothing more can happen on it.
Status display_status(wl_display *display) noexcept;

// Sends everything buffered; on EAGAIN waits for POLLOUT until `deadline` (then `timeout`).
Status flush(wl_display *display, Clock::time_point deadline) noexcept;

// Dispatches `queue` until done(ctx) is true (ok) or `deadline` passes (timeout). A deadline already
// past still does one non-blocking read. Returns `lost` when the connection dies. As libwayland defines
// it, read_events waits for other threads that prepared a read (they wake on the same readable fd).
// `wake_fd` (an eventfd, or -1): done() is also asked again whenever it is written to; it is drained then.
Status dispatch_until(wl_display *display, wl_event_queue *queue, bool (*done)(void *), void *ctx,
                      Clock::time_point deadline, int wake_fd = -1) noexcept;

template <typename F>
Status dispatch_until(wl_display *display, wl_event_queue *queue, F &&done, Clock::time_point deadline,
                      int wake_fd = -1) noexcept {
  return dispatch_until(
      display, queue, [](void *f) { return static_cast<bool>((*static_cast<F *>(f))()); },
      const_cast<void *>(static_cast<const void *>(&done)), deadline, wake_fd);
}

// wl_display.sync through `display_wrapper` (a wrapper on `queue`), then dispatch until its callback or
// the deadline. Every request sent before it has then been processed by the compositor.
Status roundtrip(wl_display *display, wl_display *display_wrapper, wl_event_queue *queue,
                 Clock::time_point deadline) noexcept;

} // namespace sfw::wl
