// Local checks of zwp_linux_buffer_params_v1 parameters. Compositors (weston, wlroots, ...) answer
// malformed parameters with a *fatal protocol error* on the app's connection, even for `create`; so
// everything they check is checked here first, and a failed check is never sent.
#pragma once

#include "wayland/formats.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace sfw::wl {

inline constexpr uint32_t kMaxPlanes = 4;

struct PlaneParams {
  uint32_t index = 0; // plane index as sent with `add`
  int fd = -1;        // borrowed
  uint32_t offset = 0;
  uint32_t stride = 0;
};

// Which protocol error the parameters would raise (named after zwp_linux_buffer_params_v1.error), or ok.
enum class ParamsCheck {
  ok,
  incomplete,         // no planes, or plane indices not contiguous from 0
  invalid_dimensions, // width or height not in 1..INT32_MAX
  out_of_bounds,      // offset/stride/height do not fit the fd's size, or overflow 32 bits
  invalid_format,     // the (format, modifier) pair is not offered
  plane_idx,          // a plane index >= 4
  plane_set,          // the same plane index twice
  bad_fd,             // not an open fd: libwayland could not even send it (a client-side fatal error)
};

const char *to_string(ParamsCheck check) noexcept;

// Checks like the compositor would, in its order. `why` (optional) receives a short explanation
// for the log. Sizes come from lseek(fd, 0, SEEK_END), as compositors do; an fd that cannot seek skips
// the size checks (compositors skip them too), never the overflow checks.
ParamsCheck check_buffer_params(uint32_t width, uint32_t height, FormatModifier fm,
                                std::span<const PlaneParams> planes, const std::vector<FormatModifier> &offered,
                                char *why = nullptr, size_t why_size = 0);

// SYNCFILE_WSI_DEBUG=unoffered-modifier-first (debug_flags.hpp) announces this modifier first.
inline constexpr uint64_t kDebugUnofferedModifier = 0x0100000000000001ULL; // I915_FORMAT_MOD_X_TILED

} // namespace sfw::wl
