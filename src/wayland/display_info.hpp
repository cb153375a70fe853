// What the compositor offers on one wl_display, asked once (private queue, two bounded roundtrips) and
// cached per display. The cache holds no proxies, only facts, so it can never touch a disconnected display;
// it is keyed by the pointer, so the layer must forget a display when its last VkSurfaceKHR goes (the app may
// connect again and get the same address).
#pragma once

#include "wayland/formats.hpp"
#include "wayland/status.hpp"

#include <wayland-client-core.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace sfw::wl {

struct DisplayInfo {
  uint32_t dmabuf_version = 0;          // 0: no zwp_linux_dmabuf_v1 global
  std::vector<FormatModifier> dmabuf;   // v3 `modifier` events, or every tranche of the v4 default feedback
  std::vector<uint32_t> shm_formats;    // wl_shm formats (ARGB8888 = 0, XRGB8888 = 1 there)
  bool tearing_control = false;         // wp_tearing_control_manager_v1
  bool explicit_sync = false;           // zwp_linux_explicit_synchronization_v1
  bool presentation = false;            // wp_presentation
  bool drm_syncobj = false;             // wp_linux_drm_syncobj_manager_v1
  bool dmabuf_feedback = false;         // the pairs came from v4 feedback

  bool supports(FormatModifier fm) const noexcept;
  bool supports_format(uint32_t format) const noexcept; // with any modifier
};

// Fills *out from the cache, or asks the compositor (bounded by `timeout` per roundtrip) and caches the
// answer. Returns lost/timeout/failed without caching when the question could not be answered.
Status query_display(wl_display *display, std::chrono::milliseconds timeout, DisplayInfo *out);

// The cached answer, or null (no query succeeded yet). Shared: cheap to keep.
std::shared_ptr<const DisplayInfo> cached_display_info(wl_display *display);

// Drops everything cached for `display` (info and known-good pairs). For when nothing uses it any more,
// and for tests.
void forget_display(wl_display *display);

// Pairs that have produced `created` on this display: only those may use create_immed (whose failure
// weston makes fatal).
bool is_known_good(wl_display *display, FormatModifier fm);
void mark_known_good(wl_display *display, FormatModifier fm);

} // namespace sfw::wl
