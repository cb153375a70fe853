#include "wayland/formats.hpp"

#include <algorithm>
#include <cstring>

namespace sfw::wl {

namespace {
constexpr size_t kEntrySize = 16;
constexpr size_t kMaxEntries = 65536; // tranche indices are uint16: more entries could never be used
} // namespace

bool parse_format_table(const void *data, size_t size, std::vector<FormatModifier> *table) {
  table->clear();
  if (data == nullptr || size == 0 || size % kEntrySize != 0 || size / kEntrySize > kMaxEntries) return false;
  const auto *bytes = static_cast<const unsigned char *>(data);
  const size_t count = size / kEntrySize;
  table->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    FormatModifier fm;
    // memcpy: the mapping is page-aligned, but nothing promises the caller's buffer is.
    std::memcpy(&fm.format, bytes + i * kEntrySize, sizeof fm.format);
    std::memcpy(&fm.modifier, bytes + i * kEntrySize + 8, sizeof fm.modifier);
    table->push_back(fm);
  }
  return true;
}

bool select_from_tranche(const std::vector<FormatModifier> &table, const void *indices, size_t bytes,
                         std::vector<FormatModifier> *out) {
  if (bytes % sizeof(uint16_t) != 0 || (bytes != 0 && indices == nullptr)) return false;
  const auto *p = static_cast<const unsigned char *>(indices);
  std::vector<FormatModifier> picked = *out;
  for (size_t off = 0; off < bytes; off += sizeof(uint16_t)) {
    uint16_t index;
    std::memcpy(&index, p + off, sizeof index);
    if (index >= table.size()) return false;
    if (std::find(picked.begin(), picked.end(), table[index]) == picked.end()) picked.push_back(table[index]);
  }
  *out = std::move(picked);
  return true;
}

} // namespace sfw::wl
