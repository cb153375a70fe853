// Sync_files: a kernel fd that polls readable once every fence in it has signalled.
#pragma once

#include "kernel/result.hpp"
#include "kernel/unique_fd.hpp"

#include <chrono>
#include <cstdint>

namespace sfw::kernel {

inline constexpr std::chrono::nanoseconds wait_forever = std::chrono::nanoseconds::max();

// Waits until `fd` polls ready for `events` (POLLIN, POLLOUT) for at most `timeout` (zero: just
// test). True when ready, false when the time ran out; EINTR retries with the time left.
// `call` names the wait in errors. A closed fd is an error (bad_fd), not "ready".
Result<bool> poll_ready(int fd, short events, std::chrono::nanoseconds timeout, const char *call) noexcept;

// A sync_file, or none at all: *empty* means "already signalled". Vulkan's SYNC_FD import reads
// fd -1 that way, but DMA_BUF_IOCTL_IMPORT_SYNC_FILE and Wayland's fd marshalling reject -1, so
// -1 leaves this class only through fd_for_vulkan_import().
class SyncFile {
public:
  SyncFile() noexcept = default; // empty
  // Takes the fd; -1 (which a Vulkan SYNC_FD export may return for "signalled") makes it empty.
  explicit SyncFile(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  bool empty() const noexcept { return !fd_.valid(); }

  // For kernel and Wayland calls, which reject -1. Precondition: !empty().
  int fd() const noexcept {
    assert(!empty());
    return fd_.get();
  }

  // For VkImport{Semaphore,Fence}FdInfoKHR with SYNC_FD: -1 when empty. Vulkan takes the fd only
  // when the import succeeds: call vulkan_import_succeeded() then; on failure this still owns it.
  int fd_for_vulkan_import() const noexcept { return fd_.get(); }
  void vulkan_import_succeeded() noexcept { (void)fd_.release(); }

  // A second owner (a semaphore and a fence each consume their own fd); empty stays empty.
  Result<SyncFile> dup() const noexcept;

  // True once every fence has signalled (at once when empty); false when `timeout` ran out.
  Result<bool> wait(std::chrono::nanoseconds timeout) const noexcept;
  Result<bool> signalled() const noexcept { return wait(std::chrono::nanoseconds::zero()); }

private:
  UniqueFd fd_;
};

// One sync_file that signals when both have (SYNC_IOC_MERGE); with an empty one it is a dup.
Result<SyncFile> merge(const SyncFile &a, const SyncFile &b) noexcept;

// What a sync_file holds, for logs (SYNC_IOC_FILE_INFO). Empty: no fences, signalled.
struct SyncFileInfo {
  char name[32] = {};
  int32_t status = 1; // 1 signalled, 0 active, < 0 the error a fence signalled with
  uint32_t num_fences = 0;
  char driver[32] = {};   // the first fence's driver ("" when none)
  char timeline[32] = {}; // the first fence's timeline
};
Result<SyncFileInfo> info(const SyncFile &sync_file) noexcept;

} // namespace sfw::kernel
