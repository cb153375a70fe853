// The one owner of a file descriptor. Sync_files are where fd leaks hide, so every fd this
// project creates lives in one of these, close-on-exec from birth.
#pragma once

#include "kernel/result.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace sfw::kernel {

class UniqueFd {
public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
  UniqueFd &operator=(UniqueFd &&other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership: the caller closes the returned fd (or hands it to whoever does).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and owns `fd` instead. close() is never retried: on Linux the fd
  // is gone even when close reports EINTR, and a retry could close another thread's new fd.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
  }

  // A second owner of the same open file, close-on-exec.
  Result<UniqueFd> dup() const noexcept {
    int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Error::from_errno("F_DUPFD_CLOEXEC", fd_, errno);
    return UniqueFd(fd);
  }

private:
  int fd_ = -1;
};

} // namespace sfw::kernel
