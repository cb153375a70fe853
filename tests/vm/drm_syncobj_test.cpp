// The syncobj timeline interface (src/kernel/drm_syncobj.hpp) on a real render node with timelines: qemu's
// virtio-gpu in a VM booted with `vm-run --gpu`, fences from vgem (real, unsignalled until the test says).
// Without a render node with timelines it skips, unless SFW_EXPECT_RENDER_NODE=1 (the vm suite's --gpu VM).
#include "kernel/drm_syncobj.hpp"
#include "vgem.hpp"

#include <gtest/gtest.h>
#include <drm.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cstdlib>
#include <stdexcept>

using namespace sfw::kernel;
using namespace sfw::test;
using namespace std::chrono_literals;

namespace {

template <typename T> T must(Result<T> r) {
  if (!r) throw std::runtime_error(to_string(r.error()));
  return std::move(*r);
}
void must(Result<void> r) {
  if (!r) throw std::runtime_error(to_string(r.error()));
}

class DrmSyncobj : public ::testing::Test {
protected:
  void SetUp() override {
    node_ = RenderNode::shared();
    if (node_ == nullptr) {
      const char *expect = getenv("SFW_EXPECT_RENDER_NODE");
      if (expect != nullptr && expect[0] == '1') FAIL() << "no render node: " << RenderNode::shared_reason();
      GTEST_SKIP() << RenderNode::shared_reason() << " (boot the VM with vm-run --gpu)";
    }
  }
  std::shared_ptr<const RenderNode> node_;
  Vgem vgem_;
};

bool close_on_exec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

TEST_F(DrmSyncobj, SharedNodeIsCloseOnExec) {
  EXPECT_TRUE(close_on_exec(node_->fd()));
  EXPECT_NE(std::string(RenderNode::shared_reason()).find(node_->path()), std::string::npos);
}

// Open only while held: one open file for all holders, closed with the last (an app keeps no fd of the layer's).
TEST_F(DrmSyncobj, SharedNodeIsOpenOnlyWhileHeld) {
  const int fd = node_->fd();
  EXPECT_EQ(RenderNode::shared()->fd(), fd);
  node_.reset();
  EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "the node's fd outlived its last holder";
  node_ = RenderNode::shared();
  ASSERT_NE(node_, nullptr);
  EXPECT_TRUE(RenderNode::available());
}

TEST_F(DrmSyncobj, ImportedSyncFileSignalsThePoint) {
  Timeline timeline = must(Timeline::create(*node_));
  PendingSyncFile pending = vgem_.unsignalled_sync_file();
  SyncFile file{std::move(pending.sync_file)};
  must(timeline.import_sync_file(1, file));
  EXPECT_TRUE(must(timeline.wait(1, true, 0ns))) << "a point with an imported fence is available";
  EXPECT_FALSE(must(timeline.wait(1, false, 0ns))) << "but not signalled before the fence";
  vgem_.signal(pending.fence);
  EXPECT_TRUE(must(timeline.wait(1, false, 2s)));
}

TEST_F(DrmSyncobj, EmptySyncFileSignalsAtOnce) {
  Timeline timeline = must(Timeline::create(*node_));
  must(timeline.import_sync_file(3, SyncFile()));
  EXPECT_TRUE(must(timeline.wait(3, false, 0ns)));
}

TEST_F(DrmSyncobj, ExportWaitsForAFenceThenGivesIt) {
  Timeline timeline = must(Timeline::create(*node_));
  SyncFile out;
  EXPECT_FALSE(must(timeline.export_sync_file(2, 50ms, &out))) << "point 2 has no fence yet";
  PendingSyncFile pending = vgem_.unsignalled_sync_file();
  SyncFile file{std::move(pending.sync_file)};
  must(timeline.import_sync_file(2, file));
  ASSERT_TRUE(must(timeline.export_sync_file(2, 1s, &out)));
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(close_on_exec(out.fd()));
  EXPECT_FALSE(must(out.signalled())) << "the exported sync_file carries the pending fence";
  vgem_.signal(pending.fence);
  EXPECT_TRUE(must(out.wait(2s)));
  SyncFile again;
  ASSERT_TRUE(must(timeline.export_sync_file(2, 0ns, &again)));
  EXPECT_TRUE(again.empty()) << "a signalled point exports as nothing to wait for";
}

TEST_F(DrmSyncobj, CpuSignalAndLaterPoints) {
  Timeline timeline = must(Timeline::create(*node_));
  must(timeline.signal(4));
  EXPECT_TRUE(must(timeline.wait(2, false, 0ns))) << "signalling a point signals every earlier one";
  EXPECT_FALSE(must(timeline.wait(5, true, 0ns)));
}

TEST_F(DrmSyncobj, EventfdFiresWhenThePointIsAvailable) {
  Timeline timeline = must(Timeline::create(*node_));
  UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(efd.valid());
  must(timeline.notify_available(7, efd.get()));
  EXPECT_FALSE(must(poll_ready(efd.get(), POLLIN, 0ns, "poll(eventfd)")));
  must(timeline.signal(7));
  EXPECT_TRUE(must(poll_ready(efd.get(), POLLIN, 2s, "poll(eventfd)")));
}

TEST_F(DrmSyncobj, ExportedFdImportsOnAnotherOpenOfTheNode) {
  Timeline timeline = must(Timeline::create(*node_));
  UniqueFd fd = must(timeline.export_fd());
  EXPECT_TRUE(close_on_exec(fd.get()));
  RenderNode other = must(RenderNode::open(node_->path())); // the compositor's side: its own open file
  drm_syncobj_handle arg{};
  arg.fd = fd.get();
  ASSERT_EQ(ioctl(other.fd(), DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &arg), 0);
  uint64_t point = 9;
  drm_syncobj_timeline_array signal{};
  signal.handles = reinterpret_cast<uintptr_t>(&arg.handle);
  signal.points = reinterpret_cast<uintptr_t>(&point);
  signal.count_handles = 1;
  ASSERT_EQ(ioctl(other.fd(), DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &signal), 0);
  EXPECT_TRUE(must(timeline.wait(9, false, 1s))) << "a point the other side signals is seen here";
}

TEST_F(DrmSyncobj, InjectedFaultIsAnError) {
  Timeline timeline = must(Timeline::create(*node_));
  set_syncobj_fault_for_testing(EMFILE);
  auto r = timeline.import_sync_file(1, SyncFile());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::out_of_fds);
  must(timeline.import_sync_file(1, SyncFile())); // one shot
}

TEST_F(DrmSyncobj, NotASyncFileIsInvalid) {
  Timeline timeline = must(Timeline::create(*node_));
  UniqueFd efd(eventfd(0, EFD_CLOEXEC));
  SyncFile bogus{std::move(efd)};
  auto r = timeline.import_sync_file(1, bogus);
  ASSERT_FALSE(r);
  EXPECT_FALSE(must(timeline.wait(1, true, 0ns))) << "a failed import leaves the point without a fence";
}

} // namespace
