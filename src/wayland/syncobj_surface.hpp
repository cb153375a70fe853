// wp_linux_drm_syncobj_v1 for one wl_surface: the per-surface object and the timelines imported for it. The
// protocol allows one such object per surface at a time (a second is a fatal error), and once it exists every
// commit with a buffer must carry an acquire and a release point. So the layer keeps one per VkSurfaceKHR, made
// for the first drm-syncobj swapchain and kept across recreation; a swapchain that cannot keep the rule
// (a degradation, or a later swapchain in another mode) abandons it, and the surface is back on implicit sync.
#pragma once

#include "host_alloc.hpp"
#include "wayland/owners.hpp"
#include "wayland/status.hpp"

#include <wayland-client-core.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

struct wl_surface;
struct wp_linux_drm_syncobj_manager_v1;
struct wp_linux_drm_syncobj_surface_v1;
struct wp_linux_drm_syncobj_timeline_v1;

namespace sfw::wl {

void destroy_syncobj_manager(wp_linux_drm_syncobj_manager_v1 *manager);
void destroy_syncobj_surface(wp_linux_drm_syncobj_surface_v1 *surface);
void destroy_syncobj_timeline(wp_linux_drm_syncobj_timeline_v1 *timeline);

class SyncobjSurface {
public:
  // `failed` when the compositor has no wp_linux_drm_syncobj_manager_v1. The display and surface must outlive it.
  static std::unique_ptr<SyncobjSurface> create(wl_display *display, wl_surface *surface,
                                                std::chrono::milliseconds timeout, Status *status);
  ~SyncobjSurface() = default;

  // One image's timeline, as the compositor knows it (its import_timeline). Made through the ScopedHostAllocator
  // active on this thread; may outlive the SyncobjSurface (it shares the queue).
  class Timeline {
  public:
    wp_linux_drm_syncobj_timeline_v1 *get() const noexcept { return timeline_.get(); }

  private:
    friend class SyncobjSurface;
    QueueRef queue_; // first: released after the proxy
    Owned<wp_linux_drm_syncobj_timeline_v1, destroy_syncobj_timeline> timeline_;
  };
  // `syncobj_fd` stays the caller's (libwayland sends a dup). Throws std::bad_alloc.
  HostUnique<Timeline> import_timeline(int syncobj_fd);

  // The points of the next commit (double-buffered surface state): call just before a commit with a buffer.
  // False (nothing sent) once abandoned: that commit must go out on implicit sync.
  bool set_points(const Timeline &timeline, uint64_t acquire, uint64_t release);
  // Destroys the per-surface object: later commits need no points, and the surface is back on implicit sync.
  // It is never made again for this surface.
  void abandon();
  bool active() const noexcept { return active_.load(std::memory_order_acquire); }

private:
  SyncobjSurface() = default;
  QueueRef queue_; // first: released last. None of these objects has events, but their proxies need a queue.
  Owned<wp_linux_drm_syncobj_manager_v1, destroy_syncobj_manager> manager_;
  Owned<wp_linux_drm_syncobj_surface_v1, destroy_syncobj_surface> surface_;
  std::mutex mutex_; // set_points and abandon may come from two swapchains of the surface (a retired one's present)
  std::atomic<bool> active_{false};
};

} // namespace sfw::wl
