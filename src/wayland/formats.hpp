// DRM (format, modifier) pairs and the pure parsers of zwp_linux_dmabuf_feedback_v1's format table
// and tranche index arrays. They read compositor-supplied memory, so they are bounds-checked and fuzzable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sfw::wl {

inline constexpr uint64_t kModifierLinear = 0;
inline constexpr uint64_t kModifierInvalid = 0x00ffffffffffffffULL; // "implicit modifier" in the protocol
inline constexpr uint32_t kFormatArgb8888 = 0x34325241;             // 'AR24'
inline constexpr uint32_t kFormatXrgb8888 = 0x34325258;             // 'XR24'

struct FormatModifier {
  uint32_t format = 0;   // DRM fourcc
  uint64_t modifier = 0; // DRM format modifier
  bool operator==(const FormatModifier &) const = default;
  auto operator<=>(const FormatModifier &) const = default;
};

// The table is an array of {uint32 format; uint32 padding; uint64 modifier} (16 bytes each, native
// endian). Returns false (and leaves `table` empty) unless `size` is a whole, non-zero number of entries
// that uint16 tranche indices can address; never reads outside [data, data + size).
bool parse_format_table(const void *data, size_t size, std::vector<FormatModifier> *table);

// A tranche's `tranche_formats` array: uint16 indices into the table. Appends the pairs not yet in `out`;
// returns false (leaving `out` unchanged) for an odd byte count or an index outside the table.
bool select_from_tranche(const std::vector<FormatModifier> &table, const void *indices, size_t bytes,
                         std::vector<FormatModifier> *out);

} // namespace sfw::wl
