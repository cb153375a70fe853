// Test helper, not product code: what a Wayland app holds to show a surface, on the default queue: the
// connection with its wl_compositor and xdg_wm_base, and windows (a wl_surface, usually with an
// xdg_toplevel role). Shared by the test clients (tests/client, tests/vm, bench) and tests/wayland's App.
#pragma once

#include "xdg-shell-client-protocol.h"

#include <wayland-client.h>

#include <memory>
#include <span>

namespace sfw::test {

// Destroys a Wayland proxy with its interface's destroy request, or disconnects a display. Proxies of a
// dead connection are still ours to free: nothing goes out.
struct WlDestroy {
  void operator()(wl_display *display) const { wl_display_disconnect(display); }
  void operator()(wl_compositor *compositor) const { wl_compositor_destroy(compositor); }
  void operator()(xdg_wm_base *wm_base) const { xdg_wm_base_destroy(wm_base); }
  void operator()(wl_surface *surface) const { wl_surface_destroy(surface); }
  void operator()(xdg_surface *xdg) const { xdg_surface_destroy(xdg); }
  void operator()(xdg_toplevel *toplevel) const { xdg_toplevel_destroy(toplevel); }
};
template <class T> using WlOwner = std::unique_ptr<T, WlDestroy>;

// A connection and the globals a window needs. xdg_wm_base pings are answered whenever the app
// dispatches its default queue, so that the compositor never takes the client for hung.
class WaylandConnection {
public:
  // Takes `display` (null: fails) and binds the globals in one roundtrip. False without wl_compositor or
  // xdg_wm_base; the display is owned either way.
  bool adopt(wl_display *display);
  void reset(); // disconnects; every window made on it must be gone

  wl_display *display() const { return display_.get(); }
  wl_compositor *compositor() const { return compositor_.get(); }
  xdg_wm_base *wm_base() const { return wm_base_.get(); }

private:
  // Declared in creation order: the globals go before the display.
  WlOwner<wl_display> display_;
  WlOwner<wl_compositor> compositor_;
  WlOwner<xdg_wm_base> wm_base_;
};

// A wl_surface and, where it has a title, its xdg_toplevel: weston maps it at its first buffer and then
// sends frame callbacks and releases. Not movable: the configure listener points at it.
class Window {
public:
  Window() = default;
  Window(const Window &) = delete;
  Window &operator=(const Window &) = delete;

  // `title` null: a bare wl_surface, no role. Otherwise commits without a buffer, which asks for the first
  // configure (wait_configured waits for it).
  void create(const WaylandConnection &connection, const char *title);
  void reset();

  wl_surface *surface() const { return surface_.get(); }
  bool has_role() const { return toplevel_ != nullptr; }
  bool configured() const { return configured_; }

private:
  // Declared in creation order: the role objects go before their surface.
  WlOwner<wl_surface> surface_;
  WlOwner<xdg_surface> xdg_;
  WlOwner<xdg_toplevel> toplevel_;
  bool configured_ = false;
};

// Roundtrips until every window with a role has had its configure acknowledged: at most `max_roundtrips`.
// False when that runs out or the connection fails.
bool wait_configured(wl_display *display, std::span<Window> windows, int max_roundtrips = 50);

} // namespace sfw::test
