// The kernel: its release, and whether the dma-buf sync_file ioctls work, probed on a real dma-buf:
// memory the driver exported, else udmabuf, else the system dma-heap. No root needed for the first;
// the others usually need it, and the report says so.
#include "info.hpp"

#include "kernel/dmabuf_sync.hpp"

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>

namespace sfw::info {
namespace {

using kernel::UniqueFd;

std::string errno_text(const char *what, int err) { return std::string(what) + ": " + std::strerror(err); }

UniqueFd make_udmabuf(std::string *why) {
  UniqueFd device(open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
  if (!device) {
    *why = errno_text("/dev/udmabuf", errno);
    return {};
  }
  const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  UniqueFd memfd(memfd_create("syncfile-wsi-info", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd || ftruncate(memfd.get(), static_cast<off_t>(size)) < 0 ||
      fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    *why = errno_text("memfd for udmabuf", errno);
    return {};
  }
  udmabuf_create create{};
  create.memfd = static_cast<uint32_t>(memfd.get());
  create.flags = UDMABUF_FLAGS_CLOEXEC;
  create.size = size;
  UniqueFd dmabuf(ioctl(device.get(), UDMABUF_CREATE, &create));
  if (!dmabuf) *why = errno_text("UDMABUF_CREATE", errno);
  return dmabuf;
}

UniqueFd make_heap_dmabuf(std::string *why) {
  UniqueFd heap(open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC));
  if (!heap) {
    *why = errno_text("/dev/dma_heap/system", errno);
    return {};
  }
  dma_heap_allocation_data alloc{};
  alloc.len = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  alloc.fd_flags = O_RDWR | O_CLOEXEC;
  if (ioctl(heap.get(), DMA_HEAP_IOCTL_ALLOC, &alloc) < 0) {
    *why = errno_text("DMA_HEAP_IOCTL_ALLOC", errno);
    return {};
  }
  return UniqueFd(static_cast<int>(alloc.fd));
}

} // namespace

KernelInfo probe_kernel(UniqueFd driver_dmabuf, const std::string &driver_source) {
  KernelInfo k;
  utsname u{};
  if (uname(&u) == 0) k.release = u.release;

  std::string udmabuf_why, heap_why;
  UniqueFd dmabuf = std::move(driver_dmabuf);
  k.probed_on = driver_source;
  if (!dmabuf) {
    dmabuf = make_udmabuf(&udmabuf_why);
    k.probed_on = "udmabuf";
  }
  if (!dmabuf) {
    dmabuf = make_heap_dmabuf(&heap_why);
    k.probed_on = "dma-heap system";
  }
  if (!dmabuf) {
    k.probed_on.clear();
    k.reason = "no dma-buf to probe on: " + (driver_source.empty() ? std::string("no driver exports one") : driver_source) +
               "; " + udmabuf_why + "; " + heap_why;
    return k;
  }
  kernel::ProbeResult r = kernel::probe_sync_file_support(dmabuf.get());
  k.sync_file = r.support == kernel::Support::supported     ? Tristate::yes
                : r.support == kernel::Support::unsupported ? Tristate::no
                                                            : Tristate::unknown;
  k.reason = r.reason != nullptr ? r.reason : "";
  return k;
}

} // namespace sfw::info
