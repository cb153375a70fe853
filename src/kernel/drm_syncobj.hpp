// DRM syncobj timelines on a render node the layer opens itself, for wp_linux_drm_syncobj_v1: sync_files
// go into a timeline point and come out of one. No Vulkan driver's semaphores are involved, so this works
// for every driver that exports and imports SYNC_FD. Linux uapi only (drm.h's ioctls, no libdrm calls).
//
// A sync_file into point P: DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE with IMPORT_SYNC_FILE into a temporary binary
// syncobj, then DRM_IOCTL_SYNCOBJ_TRANSFER to P. Out of P: wait until P has a fence (WAIT_AVAILABLE), transfer
// it to a binary syncobj, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD with EXPORT_SYNC_FILE.
#pragma once

#include "kernel/result.hpp"
#include "kernel/sync_file.hpp"
#include "kernel/unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace sfw::kernel {

// A render node with DRM_CAP_SYNCOBJ_TIMELINE: the first of /dev/dri/renderD128..191 that has it, found once per
// process. It is open only while someone holds shared() (the drm-syncobj swapchains), so an app that has destroyed
// them keeps no fd of the layer's. available() answers from the probe and opens nothing.
class RenderNode {
public:
  static bool available() noexcept;
  static std::shared_ptr<const RenderNode> shared() noexcept; // null: none (shared_reason), or no memory or fds
  static const char *shared_reason() noexcept; // a static string: why there is none, or the node's path
  int fd() const noexcept { return fd_.get(); }
  const char *path() const noexcept { return path_; }
  // Opens `path` if it has timelines (tests and syncfile-wsi-info).
  static Result<RenderNode> open(const char *path) noexcept;
  RenderNode(RenderNode &&) noexcept = default;

private:
  RenderNode() = default;
  UniqueFd fd_;
  char path_[32] = {};
};

// One timeline syncobj on a node, destroyed with this object. The node must outlive it.
class Timeline {
public:
  static Result<Timeline> create(const RenderNode &node) noexcept;
  Timeline(Timeline &&other) noexcept;
  Timeline &operator=(Timeline &&) = delete;
  Timeline(const Timeline &) = delete;
  ~Timeline();

  // A syncobj fd for another process (the compositor), close-on-exec.
  Result<UniqueFd> export_fd() const noexcept;
  // `point` signals when `file` does. An empty file (already signalled) signals the point now.
  Result<void> import_sync_file(uint64_t point, const SyncFile &file) const noexcept;
  // Signals `point` from the CPU.
  Result<void> signal(uint64_t point) const noexcept;
  // `point`'s fence as a sync_file, once it has one (bounded by `timeout`: false in the Result's
  // bool means it had none in time). Empty when already signalled.
  Result<bool> export_sync_file(uint64_t point, std::chrono::nanoseconds timeout, SyncFile *out) const noexcept;
  // Has `point` a fence (submitted: `available`) or signalled? A zero timeout just looks.
  Result<bool> wait(uint64_t point, bool available, std::chrono::nanoseconds timeout) const noexcept;
  // Writes to `eventfd` once `point` is available (DRM_IOCTL_SYNCOBJ_EVENTFD, Linux 6.6).
  Result<void> notify_available(uint64_t point, int eventfd) const noexcept;

private:
  Timeline(int node, uint32_t handle) noexcept : node_(node), handle_(handle) {}
  int node_ = -1;       // borrowed
  uint32_t handle_ = 0; // 0: none
};

// Test seam: the next syncobj ioctl of the layer fails with `error` (0 clears); one shot.
void set_syncobj_fault_for_testing(int error) noexcept;

} // namespace sfw::kernel
