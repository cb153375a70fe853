// The compositor, on a connection of this process's own: which globals it offers, and
// zwp_linux_dmabuf_v1's formats and modifiers (bound at version 3 at most, for the modifier events).
// Every wait is bounded: a hung compositor gives "timeout", never a hung tool.
#include "info.hpp"

#include "linux-dmabuf-unstable-v1-client-protocol.h"

#include <drm_fourcc.h>
#include <poll.h>
#include <wayland-client.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace sfw::info {
namespace {

using Clock = std::chrono::steady_clock;

struct Probe {
  CompositorInfo *info;
  uint32_t dmabuf_name = 0;
};

void on_global(void *data, wl_registry *, uint32_t name, const char *interface, uint32_t version) {
  auto *p = static_cast<Probe *>(data);
  CompositorInfo &c = *p->info;
  struct Known { const char *interface; uint32_t *version; };
  const Known known[] = {{"zwp_linux_dmabuf_v1", &c.linux_dmabuf},
                         {"zwp_linux_explicit_synchronization_v1", &c.explicit_sync},
                         {"wp_linux_drm_syncobj_manager_v1", &c.drm_syncobj},
                         {"wp_presentation", &c.presentation},
                         {"wp_tearing_control_manager_v1", &c.tearing_control},
                         {"wp_fifo_manager_v1", &c.fifo}};
  for (const Known &k : known)
    if (std::strcmp(interface, k.interface) == 0 && version > *k.version) {
      *k.version = version;
      if (k.version == &c.linux_dmabuf) p->dmabuf_name = name;
    }
}
void on_global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {on_global, on_global_remove};

void add_pair(CompositorInfo *c, uint32_t format, uint64_t modifier) {
  for (const DmabufPair &p : c->dmabuf_formats)
    if (p.format == format && p.modifier == modifier) return;
  c->dmabuf_formats.push_back({format, modifier});
}
void on_format(void *data, zwp_linux_dmabuf_v1 *dmabuf, uint32_t format) {
  // Versions 1 and 2 have no modifier events: the format comes with the implicit modifier.
  if (wl_proxy_get_version(reinterpret_cast<wl_proxy *>(dmabuf)) < 3) add_pair(static_cast<CompositorInfo *>(data), format, DRM_FORMAT_MOD_INVALID);
}
void on_modifier(void *data, zwp_linux_dmabuf_v1 *, uint32_t format, uint32_t hi, uint32_t lo) {
  add_pair(static_cast<CompositorInfo *>(data), format, (static_cast<uint64_t>(hi) << 32) | lo);
}
const zwp_linux_dmabuf_v1_listener dmabuf_listener = {on_format, on_modifier};

void on_done(void *data, wl_callback *, uint32_t) { *static_cast<bool *>(data) = true; }
const wl_callback_listener callback_listener = {on_done};

// wl_display.sync and dispatch until its callback, `timeout_ms` at most. "" on success, else why not.
std::string bounded_roundtrip(wl_display *display, int timeout_ms) {
  bool done = false;
  wl_callback *callback = wl_display_sync(display);
  if (callback == nullptr) return "wl_display_sync failed";
  wl_callback_add_listener(callback, &callback_listener, &done);
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string error;
  const int fd = wl_display_get_fd(display);
  while (!done) {
    if (wl_display_prepare_read(display) != 0) { // events queued already: dispatch them first
      if (wl_display_dispatch_pending(display) < 0) break;
      continue;
    }
    // Flush, waiting for room in the socket if needed.
    while (wl_display_flush(display) < 0 && errno == EAGAIN) {
      pollfd out{fd, POLLOUT, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || poll(&out, 1, static_cast<int>(left)) <= 0) break;
    }
    pollfd in{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    int ready = poll(&in, 1, static_cast<int>(std::max<long long>(left, 0)));
    if (ready <= 0) {
      wl_display_cancel_read(display);
      if (ready < 0 && errno == EINTR) continue;
      error = "the compositor did not answer within " + std::to_string(timeout_ms) + " ms";
      break;
    }
    if (wl_display_read_events(display) < 0 || wl_display_dispatch_pending(display) < 0) break;
  }
  if (int err = wl_display_get_error(display); err != 0) error = std::string("connection lost: ") + std::strerror(err);
  wl_callback_destroy(callback);
  return error;
}

} // namespace

CompositorInfo probe_compositor(int timeout_ms) {
  CompositorInfo c;
  const char *socket = std::getenv("WAYLAND_SOCKET");
  const char *name = std::getenv("WAYLAND_DISPLAY");
  c.display = socket != nullptr ? std::string("WAYLAND_SOCKET=") + socket
                                : name != nullptr && *name != '\0' ? name : "wayland-0 (WAYLAND_DISPLAY is not set)";
  wl_display *display = wl_display_connect(nullptr);
  if (display == nullptr) {
    c.error = std::string("cannot connect: ") + std::strerror(errno);
    if (name != nullptr && *name != '/' && std::getenv("XDG_RUNTIME_DIR") == nullptr) c.error += " (XDG_RUNTIME_DIR is not set)";
    return c;
  }
  c.connected = true;
  Probe probe{&c};
  wl_registry *registry = wl_display_get_registry(display);
  wl_registry_add_listener(registry, &registry_listener, &probe);
  c.error = bounded_roundtrip(display, timeout_ms);
  if (c.error.empty() && probe.dmabuf_name != 0) {
    auto *dmabuf = static_cast<zwp_linux_dmabuf_v1 *>(
        wl_registry_bind(registry, probe.dmabuf_name, &zwp_linux_dmabuf_v1_interface, std::min(c.linux_dmabuf, 3u)));
    zwp_linux_dmabuf_v1_add_listener(dmabuf, &dmabuf_listener, &c);
    c.error = bounded_roundtrip(display, timeout_ms);
    c.formats_complete = c.error.empty();
    zwp_linux_dmabuf_v1_destroy(dmabuf);
  }
  wl_registry_destroy(registry);
  wl_display_disconnect(display);
  return c;
}

} // namespace sfw::info
