#include "wayland/dispatch.hpp"

#include "log.hpp"
#include "wayland/owners.hpp"

#include <wayland-client-protocol.h>

#include <cerrno>
#include <poll.h>
#include <unistd.h>
#include <time.h>

namespace sfw::wl {

namespace {

timespec remaining(Clock::time_point deadline) noexcept {
  auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
  if (left < 0) left = 0;
  return timespec{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
}

// poll() on the display fd for `events` until the deadline: >0 ready (revents in *revents), 0 timeout,
// <0 error (errno). EINTR restarts with the time left. With a `wake_fd`, its POLLIN also ends the wait
// (*woken; the eventfd is drained).
int poll_until(int fd, short events, Clock::time_point deadline, short *revents, int wake_fd = -1,
               bool *woken = nullptr) noexcept {
  for (;;) {
    pollfd pfd[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    timespec ts = remaining(deadline);
    int r = ppoll(pfd, wake_fd >= 0 ? 2 : 1, &ts, nullptr);
    if (r < 0 && errno == EINTR) continue;
    *revents = pfd[0].revents;
    if (wake_fd >= 0 && (pfd[1].revents & POLLIN) != 0) {
      uint64_t count;
      (void)!read(wake_fd, &count, sizeof count);
      *woken = true;
    }
    return r;
  }
}

} // namespace

Clock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const auto now = Clock::now();
  if (timeout <= std::chrono::nanoseconds::zero()) return now;
  if (timeout > Clock::time_point::max() - now) return Clock::time_point::max();
  return now + std::chrono::duration_cast<Clock::duration>(timeout);
}

Status display_status(wl_display *display) noexcept {
  return wl_display_get_error(display) != 0 ? Status::lost : Status::ok;
}

Status flush(wl_display *display, Clock::time_point deadline) noexcept {
  for (;;) {
    if (wl_display_flush(display) >= 0) return Status::ok;
    if (errno != EAGAIN) return Status::lost; // EPIPE or a display error: the connection is gone
    short revents = 0;
    int r = poll_until(wl_display_get_fd(display), POLLOUT, deadline, &revents);
    if (r == 0) return Status::timeout;
    if (r < 0 || (revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return Status::lost;
  }
}

Status dispatch_until(wl_display *display, wl_event_queue *queue, bool (*done)(void *), void *ctx,
                      Clock::time_point deadline, int wake_fd) noexcept {
  const int fd = wl_display_get_fd(display);
  for (;;) {
    if (wl_display_dispatch_queue_pending(display, queue) < 0) return Status::lost;
    if (done(ctx)) return Status::ok;
    // Fails while our queue holds events (another thread read them for us): dispatch those first.
    if (wl_display_prepare_read_queue(display, queue) != 0) continue;

    // Send our requests before sleeping on their answers. EPIPE still reads: a protocol error may wait there.
    while (wl_display_flush(display) < 0 && errno == EAGAIN) {
      short revents = 0;
      int r = poll_until(fd, POLLOUT, deadline, &revents);
      if (r == 0) {
        wl_display_cancel_read(display);
        return Status::timeout;
      }
      if (r < 0 || (revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) break; // the read below finds out
    }

    short revents = 0;
    bool woken = false;
    int r = poll_until(fd, POLLIN, deadline, &revents, wake_fd, &woken);
    if (woken && (revents & (POLLIN | POLLHUP | POLLERR)) == 0) { // not the display: ask done() again
      wl_display_cancel_read(display);
      continue;
    }
    if (r < 0 || (revents & POLLNVAL) != 0) {
      wl_display_cancel_read(display);
      SFW_WARN("wayland: poll on the display fd failed (errno %d)", errno);
      return Status::lost;
    }
    if (r == 0) {
      wl_display_cancel_read(display);
      // Another thread may have read our events while we slept.
      if (wl_display_dispatch_queue_pending(display, queue) < 0) return Status::lost;
      return done(ctx) ? Status::ok : Status::timeout;
    }
    // POLLIN, or POLLHUP/POLLERR: reading drains what is left and turns a hang-up into a display error.
    if (wl_display_read_events(display) < 0) return Status::lost;
    if (Clock::now() >= deadline) { // a stream of unrelated events must not stretch the bound
      if (wl_display_dispatch_queue_pending(display, queue) < 0) return Status::lost;
      return done(ctx) ? Status::ok : Status::timeout;
    }
  }
}

namespace {

struct SyncState {
  bool done = false;
};

void sync_done(void *data, wl_callback *, uint32_t) { static_cast<SyncState *>(data)->done = true; }
const wl_callback_listener sync_listener = {sync_done};

} // namespace

Status roundtrip(wl_display *display, wl_display *display_wrapper, wl_event_queue *queue,
                 Clock::time_point deadline) noexcept {
  if (display_status(display) != Status::ok) return Status::lost;
  SyncState state;
  Owned<wl_callback, destroy_proxy<wl_callback>> callback(wl_display_sync(display_wrapper));
  if (!callback) return Status::failed;
  wl_callback_add_listener(callback.get(), &sync_listener, &state);
  // On timeout the callback is destroyed here; its late `done` is discarded (it carries no new object).
  return dispatch_until(display, queue, [&] { return state.done; }, deadline);
}

} // namespace sfw::wl
