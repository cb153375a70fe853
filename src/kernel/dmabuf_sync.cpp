#include "kernel/dmabuf_sync.hpp"

#include "log.hpp"

#include <linux/magic.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>

#include <atomic>

namespace sfw::kernel {
namespace {

constexpr const char *export_call = "DMA_BUF_IOCTL_EXPORT_SYNC_FILE";
constexpr const char *import_call = "DMA_BUF_IOCTL_IMPORT_SYNC_FILE";

std::atomic<int> injected_fault[2];

// The errno a test asked this call to fail with, once; 0 almost always.
int take_fault(IoctlOp op) noexcept {
  std::atomic<int> &slot = injected_fault[static_cast<int>(op)];
  return slot.load(std::memory_order_relaxed) == 0 ? 0 : slot.exchange(0, std::memory_order_relaxed);
}

// The kernel checks these too; checking here keeps an empty import from accepting bad flags.
bool valid(Access access) noexcept {
  return access == Access::read || access == Access::write || access == Access::read_write;
}

// The cached probe answer. unknown is 0 so that a fresh process starts there.
enum State : uint8_t { state_unknown, state_supported, state_no_export, state_no_import };
std::atomic<uint8_t> probe_state{state_unknown};

ProbeResult describe(uint8_t state) noexcept {
  switch (state) {
  case state_supported: return {Support::supported, "dma-buf sync_file export and import work"};
  case state_no_export: return {Support::unsupported, "the kernel lacks DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux < 6.0)"};
  case state_no_import: return {Support::unsupported, "the kernel lacks DMA_BUF_IOCTL_IMPORT_SYNC_FILE"};
  default: return {Support::unknown, "not probed yet"};
  }
}

// Caches `state` unless another thread got there first, and logs the answer that won, once.
ProbeResult settle(uint8_t state, const Error *cause) noexcept {
  uint8_t expected = state_unknown;
  if (!probe_state.compare_exchange_strong(expected, state, std::memory_order_acq_rel)) return describe(expected);
  const ProbeResult result = describe(state);
  if (cause != nullptr) {
    char text[160];
    SFW_WARN("explicit sync off: %s (%s)", result.reason, format_error(*cause, text, sizeof text));
  } else {
    SFW_INFO("%s", result.reason);
  }
  return result;
}

// A failure that says nothing about the kernel: report it, cache nothing.
ProbeResult inconclusive(const Error &cause) noexcept {
  char text[160];
  SFW_WARN("sync_file probe inconclusive, will retry: %s", format_error(cause, text, sizeof text));
  return {Support::unknown, "the probe failed for a reason other than missing kernel support"};
}

} // namespace

Result<SyncFile> export_sync_file(int dmabuf, Access access) noexcept {
  if (!valid(access)) return Error::from_errno(export_call, dmabuf, EINVAL);
  if (int fault = take_fault(IoctlOp::export_sync_file)) return Error::from_errno(export_call, dmabuf, fault);
  dma_buf_export_sync_file arg{};
  arg.flags = static_cast<uint32_t>(access);
  arg.fd = -1;
  // The kernel opens the new fd with O_CLOEXEC.
  if (::ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg) < 0) return Error::from_errno(export_call, dmabuf, errno);
  return SyncFile(UniqueFd(arg.fd));
}

Result<void> import_sync_file(int dmabuf, const SyncFile &sync_file, Access access) noexcept {
  if (!valid(access)) return Error::from_errno(import_call, dmabuf, EINVAL);
  if (int fault = take_fault(IoctlOp::import_sync_file)) return Error::from_errno(import_call, dmabuf, fault);
  if (sync_file.empty()) return {}; // nothing to wait for; the kernel would reject fd -1
  dma_buf_import_sync_file arg{};
  arg.flags = static_cast<uint32_t>(access);
  arg.fd = sync_file.fd();
  if (::ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &arg) < 0) return Error::from_errno(import_call, dmabuf, errno);
  return {};
}

Result<bool> wait_dmabuf_writable(int dmabuf, std::chrono::nanoseconds timeout) noexcept {
  return poll_ready(dmabuf, POLLOUT, timeout, "poll(dma-buf, POLLOUT)");
}

Result<bool> wait_dmabuf_readable(int dmabuf, std::chrono::nanoseconds timeout) noexcept {
  return poll_ready(dmabuf, POLLIN, timeout, "poll(dma-buf, POLLIN)");
}

bool is_dmabuf(int fd) noexcept {
  struct statfs fs;
  return fd >= 0 && ::fstatfs(fd, &fs) == 0 && fs.f_type == DMA_BUF_MAGIC;
}

ProbeResult probe_sync_file_support(int dmabuf) noexcept {
  if (const uint8_t state = probe_state.load(std::memory_order_acquire); state != state_unknown) return describe(state);
  // Any ioctl on a file that is not a dma-buf fails with ENOTTY, just like a dma-buf on an old
  // kernel: only a real dma-buf can tell the two apart.
  if (!is_dmabuf(dmabuf)) return {Support::unknown, "no dma-buf to probe on"};

  // Read access exports the writers' fences; importing them back as readers changes nothing a
  // later access waits for, so probing a buffer in use is harmless.
  auto exported = export_sync_file(dmabuf, Access::read);
  if (!exported) {
    if (exported.error().code == ErrorCode::unsupported) return settle(state_no_export, &exported.error());
    return inconclusive(exported.error());
  }
  if (auto imported = import_sync_file(dmabuf, *exported, Access::read); !imported) {
    if (imported.error().code == ErrorCode::unsupported) return settle(state_no_import, &imported.error());
    return inconclusive(imported.error());
  }
  return settle(state_supported, nullptr);
}

ProbeResult sync_file_support() noexcept { return describe(probe_state.load(std::memory_order_acquire)); }

void reset_sync_file_support_for_testing() noexcept { probe_state.store(state_unknown, std::memory_order_release); }

void set_ioctl_fault_for_testing(IoctlOp op, int error) noexcept {
  injected_fault[static_cast<int>(op)].store(error, std::memory_order_relaxed);
}

} // namespace sfw::kernel
