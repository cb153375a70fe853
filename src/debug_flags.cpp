#include "debug_flags.hpp"

#include <cstdlib>
#include <cstring>

namespace sfw {

DebugFlags parse_debug_flags(const char *value) noexcept {
  DebugFlags flags;
  if (value == nullptr) return flags;
  flags.corrupt_stride = std::strstr(value, "corrupt-stride") != nullptr;
  flags.no_immed = std::strstr(value, "no-immed") != nullptr;
  flags.unoffered_modifier_first = std::strstr(value, "unoffered-modifier-first") != nullptr;
  flags.no_semaphore_import = std::strstr(value, "no-semaphore-import") != nullptr;
  flags.no_presentation = std::strstr(value, "no-presentation") != nullptr;
  flags.ownership_transfers = std::strstr(value, "ownership-transfers") != nullptr;
  constexpr const char kFailAt[] = "fail-import-at=";
  if (const char *at = std::strstr(value, kFailAt)) flags.fail_import_at = std::strtol(at + sizeof kFailAt - 1, nullptr, 10);
  constexpr const char kSyncobjAt[] = "fail-syncobj-at=";
  if (const char *at = std::strstr(value, kSyncobjAt)) flags.fail_syncobj_at = std::strtol(at + sizeof kSyncobjAt - 1, nullptr, 10);
  constexpr const char kEmfileAt[] = "syncobj-emfile-at=";
  if (const char *at = std::strstr(value, kEmfileAt)) flags.syncobj_emfile_at = std::strtol(at + sizeof kEmfileAt - 1, nullptr, 10);
  return flags;
}

const DebugFlags &debug_flags() noexcept {
  static const DebugFlags flags = parse_debug_flags(std::getenv("SYNCFILE_WSI_DEBUG"));
  return flags;
}

} // namespace sfw
