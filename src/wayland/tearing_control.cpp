#include "wayland/tearing_control.hpp"

#include "wayland/dispatch.hpp"
#include "wayland/display_info.hpp"

#include "tearing-control-v1-client-protocol.h"

#include <wayland-client-protocol.h>

#include <cstring>

namespace sfw::wl {

void destroy_tearing_control(wp_tearing_control_v1 *control) { wp_tearing_control_v1_destroy(control); }

namespace {

void on_global(void *data, wl_registry *, uint32_t name, const char *interface, uint32_t) {
  if (strcmp(interface, wp_tearing_control_manager_v1_interface.name) == 0) *static_cast<uint32_t *>(data) = name;
}
void on_global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {on_global, on_global_remove};

void destroy_manager(wp_tearing_control_manager_v1 *manager) { wp_tearing_control_manager_v1_destroy(manager); }

} // namespace

std::unique_ptr<TearingControl> TearingControl::create(wl_display *display, wl_surface *surface,
                                                       std::chrono::milliseconds timeout, Status *status) {
  DisplayInfo info;
  *status = query_display(display, timeout, &info);
  if (*status != Status::ok) return nullptr;
  *status = Status::failed;
  if (!info.tearing_control) return nullptr;

  std::unique_ptr<TearingControl> tc(new TearingControl);
  tc->queue_ = make_queue(display);
  if (!tc->queue_) return nullptr;
  auto wrapper = wrap_on_queue(display, tc->queue_.get());
  if (!wrapper) return nullptr;
  uint32_t name = 0;
  Owned<wl_registry, destroy_proxy<wl_registry>> registry(wl_display_get_registry(wrapper.get()));
  if (!registry) return nullptr;
  wl_registry_add_listener(registry.get(), &registry_listener, &name);
  *status = roundtrip(display, wrapper.get(), tc->queue_.get(), deadline_after(timeout));
  if (*status != Status::ok) return nullptr;
  *status = Status::failed;
  if (name == 0) return nullptr;
  // The manager is only a factory: destroying it leaves the per-surface object alive (protocol text).
  Owned<wp_tearing_control_manager_v1, destroy_manager> manager(static_cast<wp_tearing_control_manager_v1 *>(
      wl_registry_bind(registry.get(), name, &wp_tearing_control_manager_v1_interface, 1)));
  if (!manager) return nullptr;
  tc->control_.reset(wp_tearing_control_manager_v1_get_tearing_control(manager.get(), surface));
  if (!tc->control_) return nullptr;
  *status = Status::ok;
  return tc;
}

void TearingControl::set_async(bool async) {
  if (async == async_) return;
  async_ = async;
  wp_tearing_control_v1_set_presentation_hint(control_.get(), async ? WP_TEARING_CONTROL_V1_PRESENTATION_HINT_ASYNC
                                                                    : WP_TEARING_CONTROL_V1_PRESENTATION_HINT_VSYNC);
}

} // namespace sfw::wl
