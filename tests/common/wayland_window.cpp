#include "wayland_window.hpp"

#include <algorithm>
#include <cstring>

namespace sfw::test {

bool WaylandConnection::adopt(wl_display *display) {
  reset();
  display_.reset(display);
  if (display == nullptr) return false;
  wl_registry *registry = wl_display_get_registry(display);
  static const wl_registry_listener registry_listener = {
      [](void *data, wl_registry *r, uint32_t name, const char *iface, uint32_t version) {
        auto *self = static_cast<WaylandConnection *>(data);
        if (strcmp(iface, wl_compositor_interface.name) == 0)
          self->compositor_.reset(static_cast<wl_compositor *>(
              wl_registry_bind(r, name, &wl_compositor_interface, std::min(version, 4u))));
        else if (strcmp(iface, xdg_wm_base_interface.name) == 0)
          self->wm_base_.reset(static_cast<xdg_wm_base *>(wl_registry_bind(r, name, &xdg_wm_base_interface, 1)));
      },
      [](void *, wl_registry *, uint32_t) {}};
  wl_registry_add_listener(registry, &registry_listener, this);
  const bool answered = wl_display_roundtrip(display) >= 0;
  wl_registry_destroy(registry); // the globals are bound; no others are wanted
  if (!answered || compositor_ == nullptr || wm_base_ == nullptr) return false;
  static const xdg_wm_base_listener wm_base_listener = {
      [](void *, xdg_wm_base *wm_base, uint32_t serial) { xdg_wm_base_pong(wm_base, serial); }};
  xdg_wm_base_add_listener(wm_base_.get(), &wm_base_listener, nullptr);
  return true;
}

void WaylandConnection::reset() {
  wm_base_.reset();
  compositor_.reset();
  display_.reset();
}

void Window::create(const WaylandConnection &connection, const char *title) {
  reset();
  surface_.reset(wl_compositor_create_surface(connection.compositor()));
  if (title == nullptr) return;
  xdg_.reset(xdg_wm_base_get_xdg_surface(connection.wm_base(), surface_.get()));
  static const xdg_surface_listener xdg_listener = {[](void *data, xdg_surface *xdg, uint32_t serial) {
    xdg_surface_ack_configure(xdg, serial);
    static_cast<Window *>(data)->configured_ = true;
  }};
  xdg_surface_add_listener(xdg_.get(), &xdg_listener, this);
  toplevel_.reset(xdg_surface_get_toplevel(xdg_.get()));
  xdg_toplevel_set_title(toplevel_.get(), title);
  wl_surface_commit(surface_.get()); // no buffer: asks for the first configure
}

void Window::reset() {
  toplevel_.reset();
  xdg_.reset();
  surface_.reset();
  configured_ = false;
}

bool wait_configured(wl_display *display, std::span<Window> windows, int max_roundtrips) {
  auto all_configured = [&] {
    return std::all_of(windows.begin(), windows.end(), [](const Window &w) { return !w.has_role() || w.configured(); });
  };
  for (int i = 0; i < max_roundtrips && !all_configured(); ++i)
    if (wl_display_roundtrip(display) < 0) return false;
  return all_configured();
}

} // namespace sfw::test
