#include "log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace sfw {
namespace {

LogLevel parse_level() noexcept {
  const char *value = std::getenv("SYNCFILE_WSI_LOG");
  if (value == nullptr || *value == '\0') return LogLevel::error;
  struct Name { const char *name; LogLevel level; };
  static constexpr Name names[] = {{"error", LogLevel::error}, {"warn", LogLevel::warn},
                                   {"warning", LogLevel::warn}, {"info", LogLevel::info},
                                   {"debug", LogLevel::debug}};
  for (const Name &n : names)
    if (strcasecmp(value, n.name) == 0) return n.level;
  // Bad configuration gets a warning and the default, never silence.
  char shown[160];
  fprintf(stderr, "syncfile-wsi: warning: SYNCFILE_WSI_LOG=\"%s\" is not one of error, warn, info, debug; using error\n",
          printable(value, shown, sizeof shown));
  return LogLevel::error;
}

} // namespace

const char *printable(const char *value, char *out, std::size_t size) noexcept {
  constexpr std::size_t kMaxBytes = 32;
  std::size_t o = 0, i = 0;
  for (; value[i] != '\0' && i < kMaxBytes; ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    if (o + (plain ? 1 : 4) + 4 > size) break; // room for this, "..." and the terminator
    if (plain) out[o++] = static_cast<char>(c);
    else o += static_cast<std::size_t>(snprintf(out + o, size - o, "\\x%02x", c));
  }
  if (value[i] != '\0' && o + 4 <= size) out[o++] = '.', out[o++] = '.', out[o++] = '.';
  out[o] = '\0';
  return out;
}

LogLevel log_level() noexcept {
  static const LogLevel level = parse_level();
  return level;
}

bool log_enabled(LogLevel level) noexcept { return static_cast<int>(level) <= static_cast<int>(log_level()); }

void log(LogLevel level, const char *fmt, ...) noexcept {
  if (!log_enabled(level)) return;
  static constexpr const char *prefix[] = {"error", "warn", "info", "debug"};
  char line[1024];
  int n = snprintf(line, sizeof line, "syncfile-wsi: %s: ", prefix[static_cast<int>(level)]);
  va_list args;
  va_start(args, fmt);
  int m = vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, args);
  va_end(args);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  // One write per line so lines from several threads do not interleave.
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
}

} // namespace sfw
