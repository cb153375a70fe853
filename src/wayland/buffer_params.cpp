#include "wayland/buffer_params.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sfw::wl {

const char *to_string(ParamsCheck check) noexcept {
  switch (check) {
  case ParamsCheck::ok: return "ok";
  case ParamsCheck::incomplete: return "INCOMPLETE";
  case ParamsCheck::invalid_dimensions: return "INVALID_DIMENSIONS";
  case ParamsCheck::out_of_bounds: return "OUT_OF_BOUNDS";
  case ParamsCheck::invalid_format: return "INVALID_FORMAT";
  case ParamsCheck::plane_idx: return "PLANE_IDX";
  case ParamsCheck::plane_set: return "PLANE_SET";
  case ParamsCheck::bad_fd: return "bad fd";
  }
  return "unknown";
}

namespace {

ParamsCheck explain(ParamsCheck check, char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
ParamsCheck explain(ParamsCheck check, char *why, size_t size, const char *fmt, ...) {
  if (why != nullptr && size > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, size, fmt, args);
    va_end(args);
  }
  return check;
}

} // namespace

ParamsCheck check_buffer_params(uint32_t width, uint32_t height, FormatModifier fm,
                                std::span<const PlaneParams> planes, const std::vector<FormatModifier> &offered,
                                char *why, size_t why_size) {
  if (why != nullptr && why_size > 0) why[0] = '\0';
  // `add` errors first, as the compositor would see them.
  bool seen[kMaxPlanes] = {};
  for (const PlaneParams &p : planes) {
    if (p.index >= kMaxPlanes)
      return explain(ParamsCheck::plane_idx, why, why_size, "plane index %u is not below %u", p.index, kMaxPlanes);
    if (seen[p.index]) return explain(ParamsCheck::plane_set, why, why_size, "plane %u given twice", p.index);
    seen[p.index] = true;
    if (p.fd < 0 || fcntl(p.fd, F_GETFD) < 0)
      return explain(ParamsCheck::bad_fd, why, why_size, "plane %u: fd %d is not open", p.index, p.fd);
  }
  if (planes.empty()) return explain(ParamsCheck::incomplete, why, why_size, "no planes");
  for (uint32_t i = 0; i < planes.size(); ++i)
    if (!seen[i]) return explain(ParamsCheck::incomplete, why, why_size, "no plane %u (indices must start at 0 with no gaps)", i);
  if (width < 1 || height < 1 || width > INT32_MAX || height > INT32_MAX)
    return explain(ParamsCheck::invalid_dimensions, why, why_size, "size %ux%u", width, height);
  if (std::find(offered.begin(), offered.end(), fm) == offered.end())
    return explain(ParamsCheck::invalid_format, why, why_size, "format 0x%08x modifier 0x%016" PRIx64 " not offered",
                   fm.format, fm.modifier);
  for (const PlaneParams &p : planes) {
    // 64-bit arithmetic: every operand is 32-bit, so nothing here can overflow.
    const uint64_t row_end = uint64_t{p.offset} + p.stride;
    const uint64_t end = uint64_t{p.offset} + uint64_t{p.stride} * height;
    if (p.stride == 0) return explain(ParamsCheck::out_of_bounds, why, why_size, "plane %u: stride 0", p.index);
    if (row_end > UINT32_MAX || end > UINT32_MAX)
      return explain(ParamsCheck::out_of_bounds, why, why_size, "plane %u: offset %u + stride %u x height %u overflows 32 bits",
                     p.index, p.offset, p.stride, height);
    const off_t size = lseek(p.fd, 0, SEEK_END);
    if (size < 0) continue; // cannot know; compositors skip these checks too
    const uint64_t usize = static_cast<uint64_t>(size);
    if (p.offset >= usize)
      return explain(ParamsCheck::out_of_bounds, why, why_size, "plane %u: offset %u beyond size %" PRIu64, p.index,
                     p.offset, usize);
    if (row_end > usize)
      return explain(ParamsCheck::out_of_bounds, why, why_size, "plane %u: offset %u + stride %u beyond size %" PRIu64,
                     p.index, p.offset, p.stride, usize);
    // Later planes may be subsampled; compositors check only plane 0 against the full height.
    if (p.index == 0 && end > usize)
      return explain(ParamsCheck::out_of_bounds, why, why_size,
                     "plane 0: offset %u + stride %u x height %u beyond size %" PRIu64, p.offset, p.stride, height, usize);
  }
  return ParamsCheck::ok;
}

} // namespace sfw::wl
