#include "kernel/drm_syncobj.hpp"

#include "log.hpp"

#include <drm.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace sfw::kernel {
namespace {

std::atomic<int> injected_fault{0};

// ioctl with EINTR/EAGAIN restarted, as libdrm's drmIoctl does; -errno on failure.
int drm_ioctl(int fd, unsigned long request, void *arg) noexcept {
  if (injected_fault.load(std::memory_order_relaxed) != 0)
    if (int fault = injected_fault.exchange(0, std::memory_order_relaxed)) return -fault;
  int r;
  do r = ::ioctl(fd, request, arg);
  while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r < 0 ? -errno : 0;
}

// The syncobj wait ioctls take an absolute CLOCK_MONOTONIC deadline in signed nanoseconds.
int64_t deadline_ns(std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return 0;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t base = int64_t(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  return timeout.count() >= INT64_MAX - base ? INT64_MAX : base + timeout.count();
}

Result<uint32_t> create_syncobj(int node) noexcept {
  drm_syncobj_create arg{};
  if (int e = drm_ioctl(node, DRM_IOCTL_SYNCOBJ_CREATE, &arg)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_CREATE", node, -e);
  return arg.handle;
}

void destroy_syncobj(int node, uint32_t handle) noexcept {
  drm_syncobj_destroy arg{};
  arg.handle = handle;
  ::ioctl(node, DRM_IOCTL_SYNCOBJ_DESTROY, &arg);
}

// A binary syncobj for one transfer, destroyed at the end of the scope.
struct Scratch {
  int node;
  uint32_t handle = 0;
  ~Scratch() {
    if (handle != 0) destroy_syncobj(node, handle);
  }
};

Result<void> transfer(int node, uint32_t src, uint64_t src_point, uint32_t dst, uint64_t dst_point) noexcept {
  drm_syncobj_transfer arg{};
  arg.src_handle = src;
  arg.src_point = src_point;
  arg.dst_handle = dst;
  arg.dst_point = dst_point;
  if (int e = drm_ioctl(node, DRM_IOCTL_SYNCOBJ_TRANSFER, &arg)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_TRANSFER", node, -e);
  return {};
}

struct SharedNode {
  std::once_flag probed;
  char path[32] = {}; // empty: none
  const char *reason = "not probed";
  char text[80] = {};
  std::mutex mutex; // guards open
  std::weak_ptr<const RenderNode> open;
};
SharedNode shared_node;

} // namespace

Result<RenderNode> RenderNode::open(const char *path) noexcept {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open(render node)", -1, errno);
  RenderNode node;
  node.fd_.reset(fd);
  snprintf(node.path_, sizeof node.path_, "%s", path);
  drm_get_cap cap{};
  cap.capability = DRM_CAP_SYNCOBJ_TIMELINE;
  if (int e = drm_ioctl(fd, DRM_IOCTL_GET_CAP, &cap)) return Error::from_errno("DRM_IOCTL_GET_CAP", fd, -e);
  if (cap.value == 0) return Error::from_errno("DRM_CAP_SYNCOBJ_TIMELINE", fd, EOPNOTSUPP);
  return node;
}

namespace {
void probe_shared_node() noexcept {
  std::call_once(shared_node.probed, [] {
    shared_node.reason = "no render node with DRM_CAP_SYNCOBJ_TIMELINE in /dev/dri";
    for (int minor = 128; minor < 192; ++minor) {
      char path[32];
      snprintf(path, sizeof path, "/dev/dri/renderD%d", minor);
      if (!RenderNode::open(path)) continue; // closed again: shared() opens it when it is wanted
      snprintf(shared_node.path, sizeof shared_node.path, "%s", path);
      snprintf(shared_node.text, sizeof shared_node.text, "syncobj timelines on %s", path);
      shared_node.reason = shared_node.text;
      return;
    }
  });
}
} // namespace

bool RenderNode::available() noexcept {
  probe_shared_node();
  return shared_node.path[0] != '\0';
}

std::shared_ptr<const RenderNode> RenderNode::shared() noexcept {
  if (!available()) return nullptr;
  std::lock_guard lock(shared_node.mutex);
  if (auto node = shared_node.open.lock()) return node;
  auto node = open(shared_node.path);
  if (!node) {
    char why[160];
    SFW_WARN("kernel: cannot open %s again: %s", shared_node.path, format_error(node.error(), why, sizeof why));
    return nullptr;
  }
  try {
    std::shared_ptr<const RenderNode> held(new RenderNode(std::move(*node)));
    shared_node.open = held;
    return held;
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

const char *RenderNode::shared_reason() noexcept {
  probe_shared_node();
  return shared_node.reason;
}

Result<Timeline> Timeline::create(const RenderNode &node) noexcept {
  auto handle = create_syncobj(node.fd());
  if (!handle) return handle.error();
  return Timeline(node.fd(), *handle);
}

Timeline::Timeline(Timeline &&other) noexcept : node_(other.node_), handle_(std::exchange(other.handle_, 0)) {}

Timeline::~Timeline() {
  if (handle_ != 0) destroy_syncobj(node_, handle_);
}

Result<UniqueFd> Timeline::export_fd() const noexcept {
  drm_syncobj_handle arg{};
  arg.handle = handle_;
  arg.fd = -1; // flags 0: the kernel takes no DRM_CLOEXEC here, and opens the fd close-on-exec itself
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &arg)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD", node_, -e);
  return UniqueFd(arg.fd);
}

Result<void> Timeline::import_sync_file(uint64_t point, const SyncFile &file) const noexcept {
  if (file.empty()) return signal(point);
  Scratch scratch{node_};
  auto handle = create_syncobj(node_);
  if (!handle) return handle.error();
  scratch.handle = *handle;
  drm_syncobj_handle arg{}; // zeroed whole: the kernel rejects a non-zero pad
  arg.handle = scratch.handle;
  arg.flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
  arg.fd = file.fd();
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &arg))
    return Error::from_errno("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE(IMPORT_SYNC_FILE)", node_, -e);
  return transfer(node_, scratch.handle, 0, handle_, point);
}

Result<void> Timeline::signal(uint64_t point) const noexcept {
  drm_syncobj_timeline_array arg{};
  arg.handles = reinterpret_cast<uintptr_t>(&handle_);
  arg.points = reinterpret_cast<uintptr_t>(&point);
  arg.count_handles = 1;
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &arg)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL", node_, -e);
  return {};
}

Result<bool> Timeline::wait(uint64_t point, bool available, std::chrono::nanoseconds timeout) const noexcept {
  drm_syncobj_timeline_wait arg{};
  arg.handles = reinterpret_cast<uintptr_t>(&handle_);
  arg.points = reinterpret_cast<uintptr_t>(&point);
  arg.count_handles = 1;
  arg.timeout_nsec = deadline_ns(timeout);
  // WAIT_FOR_SUBMIT: a point with no fence yet is waited for, not an error.
  arg.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | (available ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE : 0);
  int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &arg);
  if (e == -ETIME) return false;
  if (e) return Error::from_errno("DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT", node_, -e);
  return true;
}

Result<bool> Timeline::export_sync_file(uint64_t point, std::chrono::nanoseconds timeout, SyncFile *out) const noexcept {
  // Already signalled (the common case: the compositor was done before the image came round again): no fd.
  uint64_t signalled = 0;
  drm_syncobj_timeline_array query{};
  query.handles = reinterpret_cast<uintptr_t>(&handle_);
  query.points = reinterpret_cast<uintptr_t>(&signalled);
  query.count_handles = 1;
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_QUERY, &query)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_QUERY", node_, -e);
  if (signalled >= point) {
    *out = SyncFile();
    return true;
  }
  auto available = wait(point, true, timeout);
  if (!available || !*available) return available;
  Scratch scratch{node_};
  auto handle = create_syncobj(node_);
  if (!handle) return handle.error();
  scratch.handle = *handle;
  if (auto moved = transfer(node_, handle_, point, scratch.handle, 0); !moved) return moved.error();
  drm_syncobj_handle arg{};
  arg.handle = scratch.handle;
  arg.flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE; // the kernel opens it close-on-exec
  arg.fd = -1;
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &arg))
    return Error::from_errno("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD(EXPORT_SYNC_FILE)", node_, -e);
  *out = SyncFile(UniqueFd(arg.fd));
  return true;
}

Result<void> Timeline::notify_available(uint64_t point, int eventfd) const noexcept {
  drm_syncobj_eventfd arg{};
  arg.handle = handle_;
  arg.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
  arg.point = point;
  arg.fd = eventfd;
  if (int e = drm_ioctl(node_, DRM_IOCTL_SYNCOBJ_EVENTFD, &arg)) return Error::from_errno("DRM_IOCTL_SYNCOBJ_EVENTFD", node_, -e);
  return {};
}

void set_syncobj_fault_for_testing(int error) noexcept { injected_fault.store(error, std::memory_order_relaxed); }

} // namespace sfw::kernel
