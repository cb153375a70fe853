// Test helper: see vgem.hpp.
#include "vgem.hpp"

#include <drm.h>
#include <linux/dma-buf.h>
#include <sys/ioctl.h>
#include <xf86drm.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace sfw::test {
namespace {

// libdrm-dev ships no drm/vgem_drm.h: these match the kernel's include/uapi/drm/vgem_drm.h.
struct drm_vgem_fence_attach {
  uint32_t handle;
  uint32_t flags; // VGEM_FENCE_WRITE, or 0 for a reader
  uint32_t out_fence;
  uint32_t pad;
};
struct drm_vgem_fence_signal {
  uint32_t fence;
  uint32_t flags;
};
constexpr uint32_t VGEM_FENCE_WRITE = 0x1;
constexpr unsigned long DRM_IOCTL_VGEM_FENCE_ATTACH = DRM_IOWR(DRM_COMMAND_BASE + 0x1, drm_vgem_fence_attach);
constexpr unsigned long DRM_IOCTL_VGEM_FENCE_SIGNAL = DRM_IOW(DRM_COMMAND_BASE + 0x2, drm_vgem_fence_signal);

bool is_vgem(int fd) {
  drmVersionPtr version = drmGetVersion(fd);
  if (version == nullptr) return false;
  const bool match = std::string(version->name, static_cast<size_t>(version->name_len)) == "vgem";
  drmFreeVersion(version);
  return match;
}

} // namespace

void fail_errno(const char *what) { throw std::system_error(errno, std::generic_category(), what); }

Vgem::Vgem() {
  for (int minor = 0; minor < 16 && !fd_; ++minor) {
    kernel::UniqueFd fd(open(("/dev/dri/card" + std::to_string(minor)).c_str(), O_RDWR | O_CLOEXEC));
    if (fd && is_vgem(fd.get())) fd_ = std::move(fd);
  }
  if (!fd_) throw std::runtime_error("no vgem card node in /dev/dri (run inside tests/vm/vm-run)");
}

VgemBo Vgem::create_bo() {
  drm_mode_create_dumb create{};
  create.width = 1;
  create.height = 1;
  create.bpp = 32;
  if (drmIoctl(fd(), DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0) fail_errno("DRM_IOCTL_MODE_CREATE_DUMB");
  int prime = -1;
  if (drmPrimeHandleToFD(fd(), create.handle, DRM_CLOEXEC | DRM_RDWR, &prime) < 0) fail_errno("drmPrimeHandleToFD");
  return {create.handle, kernel::UniqueFd(prime)};
}

uint32_t Vgem::attach_fence(const VgemBo &bo, bool write) {
  drm_vgem_fence_attach attach{};
  attach.handle = bo.handle;
  attach.flags = write ? VGEM_FENCE_WRITE : 0;
  if (drmIoctl(fd(), DRM_IOCTL_VGEM_FENCE_ATTACH, &attach) < 0) fail_errno("DRM_IOCTL_VGEM_FENCE_ATTACH");
  return attach.out_fence;
}

void Vgem::signal(uint32_t fence) {
  drm_vgem_fence_signal signal{};
  signal.fence = fence;
  if (drmIoctl(fd(), DRM_IOCTL_VGEM_FENCE_SIGNAL, &signal) == 0) return;
  if (errno == ETIMEDOUT) throw std::runtime_error("vgem fence had signalled itself: the test ran past 10 s");
  fail_errno("DRM_IOCTL_VGEM_FENCE_SIGNAL");
}

PendingSyncFile Vgem::unsignalled_sync_file() {
  VgemBo scratch = create_bo();
  const uint32_t fence = attach_fence(scratch, true);
  dma_buf_export_sync_file arg{};
  arg.flags = DMA_BUF_SYNC_RW;
  if (ioctl(scratch.dmabuf.get(), DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg) < 0) fail_errno("DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  return {fence, kernel::UniqueFd(arg.fd)};
}

} // namespace sfw::test
