// The modes table: every row, the overrides, and bad values of SYNCFILE_WSI_MODE.
#include <gtest/gtest.h>

#include "log.hpp"
#include "swapchain/mode.hpp"

#include <string>

using namespace sfw;

namespace {
ModeFacts everything() {
  ModeFacts f;
  f.dmabuf_image_export = f.fence_sync_fd_import = f.semaphore_sync_fd_import = f.semaphore_sync_fd_export = true;
  f.queue_family_foreign = f.compositor_dmabuf = f.common_format = true;
  f.kernel_sync_file = Tristate::yes;
  return f;
}
} // namespace

TEST(Mode, EverythingGivesSyncfile) {
  EXPECT_EQ(decide_mode(everything(), ModeRequest::automatic).mode, Mode::syncfile);
  ModeFacts f = everything();
  f.kernel_sync_file = Tristate::unknown; // settled at the first image
  EXPECT_EQ(decide_mode(f, ModeRequest::automatic).mode, Mode::syncfile);
}

TEST(Mode, NoSemaphoreExportOrOldKernelGivesCpuWait) {
  ModeFacts f = everything();
  f.semaphore_sync_fd_export = false;
  ModeDecision d = decide_mode(f, ModeRequest::automatic);
  EXPECT_EQ(d.mode, Mode::cpu_wait);
  EXPECT_NE(d.reasons.find("SYNC_FD from semaphores"), std::string::npos) << d.reasons;
  f = everything();
  f.kernel_sync_file = Tristate::no;
  d = decide_mode(f, ModeRequest::automatic);
  EXPECT_EQ(d.mode, Mode::cpu_wait);
  EXPECT_NE(d.reasons.find("Linux < 6.0"), std::string::npos) << d.reasons;
}

TEST(Mode, MissingPrerequisitesGivePassthroughWithEveryReason) {
  ModeFacts f = everything();
  f.dmabuf_image_export = false;
  f.compositor_dmabuf = false;
  ModeDecision d = decide_mode(f, ModeRequest::automatic);
  EXPECT_EQ(d.mode, Mode::passthrough);
  EXPECT_NE(d.reasons.find("dma-bufs"), std::string::npos) << d.reasons;
  EXPECT_NE(d.reasons.find("zwp_linux_dmabuf_v1"), std::string::npos) << d.reasons;
  for (bool ModeFacts::*flag : {&ModeFacts::fence_sync_fd_import, &ModeFacts::queue_family_foreign, &ModeFacts::common_format}) {
    ModeFacts g = everything();
    g.*flag = false;
    EXPECT_EQ(decide_mode(g, ModeRequest::automatic).mode, Mode::passthrough);
  }
  ModeFacts g = everything();
  g.semaphore_sync_fd_import = false; // the lazy path covers it
  EXPECT_EQ(decide_mode(g, ModeRequest::automatic).mode, Mode::syncfile);
}

TEST(Mode, OverridesThatCanWorkAreObeyed) {
  EXPECT_EQ(decide_mode(everything(), ModeRequest::cpu_wait).mode, Mode::cpu_wait);
  EXPECT_EQ(decide_mode(everything(), ModeRequest::passthrough).mode, Mode::passthrough);
  EXPECT_EQ(decide_mode(everything(), ModeRequest::syncfile).mode, Mode::syncfile);
}

TEST(Mode, ForcedModesThatCannotWorkFallBackToAuto) {
  ModeFacts f = everything();
  f.semaphore_sync_fd_export = false;
  ModeDecision d = decide_mode(f, ModeRequest::syncfile);
  EXPECT_TRUE(d.request_ignored);
  EXPECT_EQ(d.mode, Mode::cpu_wait);
  f.compositor_dmabuf = false;
  d = decide_mode(f, ModeRequest::cpu_wait);
  EXPECT_TRUE(d.request_ignored);
  EXPECT_EQ(d.mode, Mode::passthrough);
}

// Issue 18: drm-syncobj where the compositor has wp_linux_drm_syncobj_v1 and the layer a render node with timelines;
// it needs the driver's SYNC_FD semaphore export, but not the dma-buf ioctls.
TEST(Mode, CompositorSyncobjAndRenderNodeGiveDrmSyncobj) {
  ModeFacts f = everything();
  f.compositor_drm_syncobj = f.render_node_timelines = true;
  EXPECT_EQ(decide_mode(f, ModeRequest::automatic).mode, Mode::drm_syncobj);
  f.kernel_sync_file = Tristate::no;
  EXPECT_EQ(decide_mode(f, ModeRequest::automatic).mode, Mode::drm_syncobj);
  EXPECT_EQ(decide_mode(f, ModeRequest::drm_syncobj).mode, Mode::drm_syncobj);
  f.kernel_sync_file = Tristate::yes;
  EXPECT_EQ(decide_mode(f, ModeRequest::syncfile).mode, Mode::syncfile) << "syncfile may be forced beside it";
  EXPECT_EQ(decide_mode(f, ModeRequest::cpu_wait).mode, Mode::cpu_wait);

  ModeFacts g = everything();
  g.compositor_drm_syncobj = true; // no render node
  ModeDecision d = decide_mode(g, ModeRequest::automatic);
  EXPECT_EQ(d.mode, Mode::syncfile);
  EXPECT_NE(d.reasons.find("no render node with DRM syncobj timelines"), std::string::npos) << d.reasons;
  d = decide_mode(g, ModeRequest::drm_syncobj);
  EXPECT_TRUE(d.request_ignored);
  EXPECT_EQ(d.mode, Mode::syncfile);
  EXPECT_NE(d.reasons.find("render node"), std::string::npos) << d.reasons;

  ModeFacts h = everything();
  h.compositor_drm_syncobj = h.render_node_timelines = true;
  h.semaphore_sync_fd_export = false;
  EXPECT_EQ(decide_mode(h, ModeRequest::automatic).mode, Mode::cpu_wait);
  EXPECT_EQ(decide_mode(everything(), ModeRequest::automatic).mode, Mode::syncfile) << "weston 14: no syncobj manager";
}

TEST(Mode, ParsesRequests) {
  ModeRequest r{};
  EXPECT_TRUE(parse_mode_request("cpu-wait", &r));
  EXPECT_EQ(r, ModeRequest::cpu_wait);
  EXPECT_TRUE(parse_mode_request("drm-syncobj", &r));
  EXPECT_EQ(r, ModeRequest::drm_syncobj);
  EXPECT_EQ(std::string(to_string(Mode::drm_syncobj)), "drm-syncobj");
  EXPECT_TRUE(parse_mode_request("AUTO", &r));
  EXPECT_EQ(r, ModeRequest::automatic);
  EXPECT_FALSE(parse_mode_request("fast", &r));
  EXPECT_FALSE(parse_mode_request("", &r));
  EXPECT_FALSE(parse_mode_request(nullptr, &r));
}

// Configuration warnings show the value, never its raw bytes (a terminal escape or a NUL-less run).
TEST(Log, PrintableEscapesAndBounds) {
  char out[160];
  EXPECT_STREQ(sfw::printable("garbage", out, sizeof out), "garbage");
  EXPECT_STREQ(sfw::printable("\x01\xff\x1b[31m\"\\", out, sizeof out), "\\x01\\xff\\x1b[31m\\x22\\x5c");
  std::string longer(300, 'x');
  EXPECT_EQ(std::string(sfw::printable(longer.c_str(), out, sizeof out)), std::string(32, 'x') + "...");
  std::string exact(32, '\x7f'); // 32 escapes: 128 bytes, no "..."
  EXPECT_EQ(std::string(sfw::printable(exact.c_str(), out, sizeof out)).size(), 128u);
  char tiny[11]; // cut for room, still terminated and marked
  EXPECT_STREQ(sfw::printable("\x01\x02\x03", tiny, sizeof tiny), "\\x01...");
}
