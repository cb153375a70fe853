#include "kernel/sync_file.hpp"

#include <linux/sync_file.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <new>

namespace sfw::kernel {

Result<bool> poll_ready(int fd, short events, std::chrono::nanoseconds timeout, const char *call) noexcept {
  if (fd < 0) return Error::from_errno(call, fd, EBADF); // poll() would skip it and report a timeout
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  timeout = std::max(timeout, std::chrono::nanoseconds::zero());
  const bool forever = timeout >= clock::time_point::max() - start;
  const auto deadline = forever ? clock::time_point::max() : start + timeout;
  for (;;) {
    pollfd p = {fd, events, 0};
    timespec left_ts{};
    if (!forever) {
      const auto left = std::max(std::chrono::nanoseconds(deadline - clock::now()), std::chrono::nanoseconds::zero());
      left_ts.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
      left_ts.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
    }
    // ppoll, not poll: Vulkan timeouts are in nanoseconds and must not round down to a busy loop.
    const int n = ::ppoll(&p, 1, forever ? nullptr : &left_ts, nullptr);
    if (n > 0) {
      if (p.revents & POLLNVAL) return Error::from_errno(call, fd, EBADF);
      return true;
    }
    if (n == 0) return false;
    if (errno != EINTR && errno != EAGAIN) return Error::from_errno(call, fd, errno);
  }
}

Result<SyncFile> SyncFile::dup() const noexcept {
  if (empty()) return SyncFile();
  auto copy = fd_.dup();
  if (!copy) return copy.error();
  return SyncFile(std::move(*copy));
}

Result<bool> SyncFile::wait(std::chrono::nanoseconds timeout) const noexcept {
  if (empty()) return true;
  return poll_ready(fd_.get(), POLLIN, timeout, "poll(sync_file, POLLIN)");
}

Result<SyncFile> merge(const SyncFile &a, const SyncFile &b) noexcept {
  if (a.empty()) return b.dup();
  if (b.empty()) return a.dup();
  sync_merge_data data{};
  snprintf(data.name, sizeof data.name, "syncfile-wsi merge");
  data.fd2 = b.fd();
  // The new fd is close-on-exec: the kernel opens it with O_CLOEXEC.
  if (::ioctl(a.fd(), SYNC_IOC_MERGE, &data) < 0) return Error::from_errno("SYNC_IOC_MERGE", a.fd(), errno);
  return SyncFile(UniqueFd(data.fence));
}

Result<SyncFileInfo> info(const SyncFile &sync_file) noexcept {
  SyncFileInfo out;
  if (sync_file.empty()) return out;
  const int fd = sync_file.fd();
  // First ask only for the count: the kernel refuses an array shorter than the number of fences.
  sync_file_info head{};
  if (::ioctl(fd, SYNC_IOC_FILE_INFO, &head) < 0) return Error::from_errno("SYNC_IOC_FILE_INFO", fd, errno);
  static_assert(sizeof out.name == sizeof head.name);
  memcpy(out.name, head.name, sizeof out.name);
  out.name[sizeof out.name - 1] = '\0';
  out.status = head.status;
  out.num_fences = head.num_fences;
  if (head.num_fences == 0) return out;

  sync_fence_info small[4];
  std::unique_ptr<sync_fence_info[]> large;
  sync_fence_info *fences = small;
  if (head.num_fences > std::size(small)) {
    large.reset(new (std::nothrow) sync_fence_info[head.num_fences]);
    if (!large) return Error::from_errno("SYNC_IOC_FILE_INFO", fd, ENOMEM);
    fences = large.get();
  }
  sync_file_info detail{};
  detail.num_fences = head.num_fences; // a sync_file's fences never change, so the count still holds
  detail.sync_fence_info = reinterpret_cast<uintptr_t>(fences);
  if (::ioctl(fd, SYNC_IOC_FILE_INFO, &detail) < 0) return Error::from_errno("SYNC_IOC_FILE_INFO", fd, errno);
  snprintf(out.driver, sizeof out.driver, "%.*s", static_cast<int>(sizeof fences[0].driver_name), fences[0].driver_name);
  snprintf(out.timeline, sizeof out.timeline, "%.*s", static_cast<int>(sizeof fences[0].obj_name), fences[0].obj_name);
  return out;
}

} // namespace sfw::kernel
