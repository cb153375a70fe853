// Logging for a guest in someone else's process: one level variable
// (SYNCFILE_WSI_LOG=error|warn|info|debug), stderr only, quiet by default
// (errors only).
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstddef>

namespace sfw {

enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

// The level read from SYNCFILE_WSI_LOG once; garbage values warn once and keep the default.
LogLevel log_level() noexcept;
bool log_enabled(LogLevel level) noexcept;

// An environment value as it may be shown in a log line: at most 32 bytes, with control characters,
// quotes, backslashes and non-ASCII bytes written as \xNN, and "..." when cut. Returns `out`.
const char *printable(const char *value, char *out, std::size_t size) noexcept;

// printf-style; a trailing newline is added. Never throws, never allocates on the heap.
void log(LogLevel level, const char *fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// Logs only the first time `once_flag` is seen (a static atomic per call site).
#define SFW_LOG_ONCE(level, ...)                                                                   \
  do {                                                                                             \
    static std::atomic<bool> sfw_logged_once_{false};                                              \
    if (!sfw_logged_once_.exchange(true, std::memory_order_relaxed)) ::sfw::log(level, __VA_ARGS__); \
  } while (0)

#define SFW_ERROR(...) ::sfw::log(::sfw::LogLevel::error, __VA_ARGS__)
#define SFW_WARN(...) ::sfw::log(::sfw::LogLevel::warn, __VA_ARGS__)
#define SFW_INFO(...) ::sfw::log(::sfw::LogLevel::info, __VA_ARGS__)
#define SFW_DEBUG(...)                                                                             \
  do {                                                                                             \
    if (::sfw::log_enabled(::sfw::LogLevel::debug)) ::sfw::log(::sfw::LogLevel::debug, __VA_ARGS__); \
  } while (0)

} // namespace sfw
