// Test helper, not product code: a dma-buf from /dev/udmabuf over a memfd sealed against
// shrinking (udmabuf's condition). Needs the VM: /dev/udmabuf wants privileges. Throws on failure.
#pragma once

#include "kernel/unique_fd.hpp"
#include "vgem.hpp"

#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

namespace sfw::test {

inline kernel::UniqueFd make_udmabuf() {
  const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  kernel::UniqueFd memfd(memfd_create("sfw-test-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd) fail_errno("memfd_create");
  if (ftruncate(memfd.get(), static_cast<off_t>(size)) < 0) fail_errno("ftruncate");
  if (fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK) < 0) fail_errno("F_ADD_SEALS");
  kernel::UniqueFd device(open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
  if (!device) fail_errno("open /dev/udmabuf");
  udmabuf_create create{};
  create.memfd = static_cast<uint32_t>(memfd.get());
  create.flags = UDMABUF_FLAGS_CLOEXEC;
  create.size = size;
  kernel::UniqueFd dmabuf(ioctl(device.get(), UDMABUF_CREATE, &create));
  if (!dmabuf) fail_errno("UDMABUF_CREATE");
  return dmabuf; // the dma-buf keeps the memfd's pages; both fds may close
}

} // namespace sfw::test
