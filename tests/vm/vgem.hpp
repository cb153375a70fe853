// Test helper, not product code: vgem, a DRM driver without hardware whose dma_fences userspace
// attaches and signals. It makes unsignalled fences on demand; it signals any it is left with
// after 10 s, or when its fd closes. Failures throw, so a failed set-up ends the test with the
// reason (gtest reports the exception).
#pragma once

#include "kernel/unique_fd.hpp"

#include <cstdint>

namespace sfw::test {

struct VgemBo {
  uint32_t handle = 0;
  kernel::UniqueFd dmabuf; // PRIME export: close-on-exec, read-write
};

// An unsignalled fence, alone in a sync_file, and its vgem id for signal().
struct PendingSyncFile {
  uint32_t fence = 0;
  kernel::UniqueFd sync_file;
};

class Vgem {
public:
  Vgem(); // opens the DRM card node whose driver is "vgem"

  int fd() const noexcept { return fd_.get(); }
  VgemBo create_bo(); // a 1x1, 32 bpp dumb buffer

  // An unsignalled fence on `bo`, as a writer or a reader. vgem refuses (EBUSY) a fence that
  // conflicts with an unsignalled one: a writer after anything, a reader after a writer.
  uint32_t attach_fence(const VgemBo &bo, bool write);
  // Throws if the fence had already signalled itself (the test ran past vgem's 10 s).
  void signal(uint32_t fence);

  // A writer fence on a fresh scratch bo, exported by a raw ioctl (not the code under test).
  PendingSyncFile unsignalled_sync_file();

private:
  kernel::UniqueFd fd_;
};

[[noreturn]] void fail_errno(const char *what); // throws "what: strerror(errno)"

} // namespace sfw::test
