// libFuzzer target for the one parser of outside input: zwp_linux_dmabuf_feedback_v1's format table
// (a compositor-supplied memfd of {format, padding, modifier} entries) and its tranche index arrays.
// Built with clang outside the meson build: tests/fuzz/run-fuzz.
//
// Input layout: [u16 table_bytes][table bytes][u8 first_tranche_bytes][first tranche][second tranche]
// (lengths clamped to what is there). A table that does not parse is also tried truncated to whole
// entries, so that the tranche parser gets a table to index into.
#include "wayland/formats.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using sfw::wl::FormatModifier;

[[noreturn]] void fail(const char *what) {
  fprintf(stderr, "format_table_fuzzer: invariant broken: %s\n", what);
  abort();
}
#define CHECK(cond) \
  do {              \
    if (!(cond)) fail(#cond); \
  } while (0)

bool contains(const std::vector<FormatModifier> &v, const FormatModifier &fm) {
  return std::find(v.begin(), v.end(), fm) != v.end();
}

void check_table(const uint8_t *data, size_t size, std::vector<FormatModifier> *table) {
  table->push_back({1, 2}); // the parser must clear what was there
  const bool ok = sfw::wl::parse_format_table(size == 0 ? nullptr : data, size, table);
  const bool valid = size != 0 && size % 16 == 0 && size / 16 <= 65536;
  CHECK(ok == valid);
  if (!ok) {
    CHECK(table->empty());
    return;
  }
  CHECK(table->size() == size / 16);
  for (size_t i = 0; i < table->size(); ++i) {
    uint32_t format;
    uint64_t modifier;
    memcpy(&format, data + i * 16, sizeof format);
    memcpy(&modifier, data + i * 16 + 8, sizeof modifier);
    CHECK((*table)[i].format == format && (*table)[i].modifier == modifier);
  }
}

// Applies one tranche to `out` and checks: failure leaves `out` alone; success keeps `out` as a prefix,
// adds only table entries, adds no duplicates, and covers every index named.
void check_tranche(const std::vector<FormatModifier> &table, const uint8_t *idx, size_t bytes,
                   std::vector<FormatModifier> *out) {
  const std::vector<FormatModifier> before = *out;
  const bool ok = sfw::wl::select_from_tranche(table, bytes == 0 ? nullptr : idx, bytes, out);
  bool valid = bytes % 2 == 0;
  for (size_t off = 0; valid && off + 1 < bytes; off += 2) {
    uint16_t i;
    memcpy(&i, idx + off, sizeof i);
    if (i >= table.size()) valid = false;
  }
  CHECK(ok == valid);
  if (!ok) {
    CHECK(*out == before);
    return;
  }
  CHECK(out->size() >= before.size());
  CHECK(std::equal(before.begin(), before.end(), out->begin()));
  for (size_t k = before.size(); k < out->size(); ++k) {
    CHECK(contains(table, (*out)[k]));
    CHECK(!contains(before, (*out)[k]));
    CHECK(std::find(out->begin() + static_cast<std::ptrdiff_t>(k) + 1, out->end(), (*out)[k]) == out->end());
  }
  for (size_t off = 0; off + 1 < bytes; off += 2) {
    uint16_t i;
    memcpy(&i, idx + off, sizeof i);
    CHECK(contains(*out, table[i]));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t table_bytes = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8;
  data += 2;
  size -= 2;
  table_bytes = std::min(table_bytes, size);
  // Copy each piece into its own exact-size heap buffer so ASan sees any read past its end.
  std::vector<uint8_t> table_mem(data, data + table_bytes);
  const uint8_t *rest = data + table_bytes;
  size_t rest_size = size - table_bytes;

  std::vector<FormatModifier> table;
  check_table(table_mem.data(), table_mem.size(), &table);
  if (table.empty() && table_mem.size() >= 16) check_table(table_mem.data(), table_mem.size() & ~size_t{15}, &table);

  size_t first = 0;
  if (rest_size > 0) {
    first = std::min<size_t>(rest[0], rest_size - 1);
    ++rest;
    --rest_size;
  }
  std::vector<uint8_t> tranche_a(rest, rest + first);
  std::vector<uint8_t> tranche_b(rest + first, rest + rest_size);
  std::vector<FormatModifier> out;
  check_tranche(table, tranche_a.data(), tranche_a.size(), &out);
  check_tranche(table, tranche_b.data(), tranche_b.size(), &out);
  // The same tranche again adds nothing.
  const std::vector<FormatModifier> settled = out;
  check_tranche(table, tranche_b.data(), tranche_b.size(), &out);
  CHECK(out == settled);
  return 0;
}
