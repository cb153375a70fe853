// Errors as values for the kernel interface: a code mapped explicitly from errno, the errno itself,
// and which call failed on which fd. No exceptions: this code runs inside someone else's process.
#pragma once

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace sfw::kernel {

enum class ErrorCode : uint8_t {
  bad_fd,           // EBADF: a closed or never-opened descriptor
  invalid_argument, // EINVAL: bad access flags, or an fd of the wrong kind where a sync_file was expected
  unsupported,      // ENOTTY, ENOSYS, EOPNOTSUPP: the kernel lacks the ioctl, or the fd is not the expected kind
  out_of_memory,    // ENOMEM
  out_of_fds,       // EMFILE, ENFILE
  other,
};

constexpr ErrorCode error_code_from_errno(int err) noexcept {
  switch (err) {
  case EBADF: return ErrorCode::bad_fd;
  case EINVAL: return ErrorCode::invalid_argument;
  case ENOTTY:
  case ENOSYS:
  case EOPNOTSUPP: return ErrorCode::unsupported;
  case ENOMEM: return ErrorCode::out_of_memory;
  case EMFILE:
  case ENFILE: return ErrorCode::out_of_fds;
  default: return ErrorCode::other;
  }
}

struct Error {
  ErrorCode code = ErrorCode::other;
  int errnum = 0;        // the errno behind the code
  const char *call = ""; // the system call or ioctl, a string literal
  int fd = -1;           // the descriptor it was made on

  static Error from_errno(const char *call, int fd, int err) noexcept {
    return {error_code_from_errno(err), err, call, fd};
  }
};

constexpr const char *to_string(ErrorCode code) noexcept {
  switch (code) {
  case ErrorCode::bad_fd: return "bad fd";
  case ErrorCode::invalid_argument: return "invalid argument";
  case ErrorCode::unsupported: return "unsupported";
  case ErrorCode::out_of_memory: return "out of memory";
  case ErrorCode::out_of_fds: return "out of file descriptors";
  case ErrorCode::other: return "other";
  }
  return "other";
}

// "DMA_BUF_IOCTL_EXPORT_SYNC_FILE on fd 12: Bad file descriptor", into `buf` (truncated to fit).
inline const char *format_error(const Error &e, char *buf, size_t size) noexcept {
  char text[64];
  const char *reason = strerror_r(e.errnum, text, sizeof text); // GNU variant: thread-safe
  snprintf(buf, size, "%s on fd %d: %s", e.call, e.fd, reason);
  return buf;
}

// The same as a string, for logs and tests.
inline std::string to_string(const Error &e) {
  char buf[160];
  return format_error(e, buf, sizeof buf);
}

// A value or an Error, like C++23's std::expected.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) noexcept : v_(std::in_place_index<1>, error) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T &value() & noexcept { assert(ok()); return *std::get_if<0>(&v_); }
  const T &value() const & noexcept { assert(ok()); return *std::get_if<0>(&v_); }
  T &&value() && noexcept { assert(ok()); return std::move(*std::get_if<0>(&v_)); }
  T &operator*() & noexcept { return value(); }
  const T &operator*() const & noexcept { return value(); }
  T &&operator*() && noexcept { return std::move(*this).value(); }
  T *operator->() noexcept { return &value(); }
  const T *operator->() const noexcept { return &value(); }

  const Error &error() const noexcept { assert(!ok()); return *std::get_if<1>(&v_); }

private:
  std::variant<T, Error> v_;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() noexcept = default; // success
  Result(Error error) noexcept : error_(error) {}

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const Error &error() const noexcept { assert(!ok()); return *error_; }

private:
  std::optional<Error> error_;
};

} // namespace sfw::kernel
