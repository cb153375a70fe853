// wp_tearing_control_v1 for one wl_surface. The protocol allows one per surface for the surface's life
// (a second is a fatal error), so the layer keeps one per VkSurfaceKHR, not per swapchain.
#pragma once

#include "wayland/owners.hpp"
#include "wayland/status.hpp"

#include <wayland-client-core.h>

#include <chrono>
#include <memory>

struct wl_surface;
struct wp_tearing_control_v1;

namespace sfw::wl {

void destroy_tearing_control(wp_tearing_control_v1 *control);

class TearingControl {
public:
  // `failed` when the compositor has no wp_tearing_control_manager_v1. The display and surface must
  // outlive the object. Must not be used if the app made its own tearing control for the surface.
  static std::unique_ptr<TearingControl> create(wl_display *display, wl_surface *surface,
                                                std::chrono::milliseconds timeout, Status *status);
  ~TearingControl() = default;

  // The presentation hint for the next commits (async = may tear). Sent only when it changes; it takes
  // effect with the next wl_surface.commit, which also flushes it.
  void set_async(bool async);
  bool async() const noexcept { return async_; }

private:
  TearingControl() = default;
  QueueRef queue_; // first: released last. The object has no events, but its proxy needs a queue.
  Owned<wp_tearing_control_v1, destroy_tearing_control> control_;
  bool async_ = false; // the protocol's initial hint is vsync
};

} // namespace sfw::wl
