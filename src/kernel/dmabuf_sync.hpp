// Implicit sync on a dma-buf, made explicit: its fences out as a sync_file, a sync_file's fences
// in, CPU waits, and a once-per-process probe for the ioctls (Linux 6.0).
// Every `int dmabuf` here is borrowed: the caller keeps owning it.
#pragma once

#include "kernel/result.hpp"
#include "kernel/sync_file.hpp"

#include <linux/dma-buf.h>

#include <chrono>
#include <cstdint>

namespace sfw::kernel {

enum class Access : uint32_t {
  read = DMA_BUF_SYNC_READ,
  write = DMA_BUF_SYNC_WRITE,
  read_write = DMA_BUF_SYNC_RW,
};

// The fences that an access of this kind must wait for, as one snapshot (fences added later are
// not in it): a read waits for the writers, a write for readers and writers. Never empty: with no
// fences, the kernel gives a signalled one.
Result<SyncFile> export_sync_file(int dmabuf, Access access) noexcept;

// Adds the sync_file's fences to the dma-buf as readers (read) or writers (write, read_write), so
// implicit-sync users wait for them. An empty sync_file is a success with no system call.
Result<void> import_sync_file(int dmabuf, const SyncFile &sync_file, Access access) noexcept;

// CPU waits on the dma-buf's current fences (poll; works before Linux 6.0). True when idle in time.
Result<bool> wait_dmabuf_writable(int dmabuf, std::chrono::nanoseconds timeout) noexcept; // readers and writers done
Result<bool> wait_dmabuf_readable(int dmabuf, std::chrono::nanoseconds timeout) noexcept; // writers done

// Whether `fd` is a dma-buf (its file lives on the dma-buf pseudo filesystem). No side effects.
bool is_dmabuf(int fd) noexcept;

enum class Support : uint8_t { unknown, supported, unsupported };
struct ProbeResult {
  Support support;
  const char *reason; // a static string, for logs
};

// Tries both ioctls once per process on `dmabuf` (a dma-buf the caller knows, with valid
// arguments), caches the answer atomically and logs it once. Only "the kernel lacks the ioctl"
// caches `unsupported`; any other failure, or an fd that is not a dma-buf, answers `unknown` and
// caches nothing, so one bad fd cannot turn the feature off for the whole process.
ProbeResult probe_sync_file_support(int dmabuf) noexcept;

// The cached answer, without probing.
ProbeResult sync_file_support() noexcept;

// Test seams. Forget the cached answer:
void reset_sync_file_support_for_testing() noexcept;
// Make the next call of `op` fail with `error` before it reaches the kernel (0 clears); one shot.
enum class IoctlOp : uint8_t { export_sync_file, import_sync_file };
void set_ioctl_fault_for_testing(IoctlOp op, int error) noexcept;

} // namespace sfw::kernel
