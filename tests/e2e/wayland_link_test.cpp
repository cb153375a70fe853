// The Wayland module against a real weston 14 (headless, GL on llvmpipe) on the host: what the
// compositor offers, bounded waits (never-true predicate, a stopped compositor, a killed one), nothing
// on the app's default queue, and refused/failed buffers that leave the app's connection healthy.
// The host has no dma-buf exporter: real buffers are tested in tests/vm/wayland_dmabuf_test.cpp.
#include "debug_flags.hpp"
#include "wayland/buffer_params.hpp"
#include "wayland/display_info.hpp"
#include "wayland/surface_link.hpp"
#include "wayland/tearing_control.hpp"

#include "../wayland/weston.hpp"
#include "kernel/unique_fd.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <chrono>
#include <cinttypes>

using namespace sfw::wl;
using sfw::kernel::UniqueFd;
using namespace std::chrono_literals;

namespace {

class WaylandLink : public ::testing::Test {
protected:
  void SetUp() override {
    if (!sfw::test::weston_installed()) GTEST_SKIP() << "weston is not installed";
    weston_ = std::make_unique<sfw::test::Weston>();
    wl_display *display = weston_->connect();
    ASSERT_NE(display, nullptr) << "weston did not start";
    ASSERT_TRUE(app_.init(display, with_toplevel()));
  }
  virtual bool with_toplevel() const { return false; }
  void TearDown() override {
    link_.reset();
    if (app_.display) forget_display(app_.display);
    app_.destroy();
    weston_.reset();
  }
  sfw::HostUnique<SurfaceLink> make_link() {
    Status status = Status::failed;
    auto link = SurfaceLink::create(app_.display, app_.surface, nullptr, 5000ms, &status);
    EXPECT_EQ(status, Status::ok);
    return link;
  }
  static UniqueFd memfd(size_t size) {
    UniqueFd fd(memfd_create("sfw-e2e", MFD_CLOEXEC));
    EXPECT_EQ(ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    return fd;
  }

  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::App app_;
  sfw::HostUnique<SurfaceLink> link_;
};

const FormatModifier kArgbLinear{kFormatArgb8888, kModifierLinear};

TEST_F(WaylandLink, QueryDisplayReportsWhatWestonOffers) {
  DisplayInfo info;
  ASSERT_EQ(query_display(app_.display, 5000ms, &info), Status::ok);
  printf("zwp_linux_dmabuf_v1 v%u, %zu pairs (feedback %d); shm formats %zu; tearing %d explicit sync %d "
         "presentation %d\n",
         info.dmabuf_version, info.dmabuf.size(), info.dmabuf_feedback, info.shm_formats.size(), info.tearing_control,
         info.explicit_sync, info.presentation);
  for (const FormatModifier &fm : info.dmabuf)
    if (fm.format == kFormatArgb8888 || fm.format == kFormatXrgb8888)
      printf("  %.4s modifier 0x%016" PRIx64 "\n", reinterpret_cast<const char *>(&fm.format), fm.modifier);
  EXPECT_GE(info.dmabuf_version, 3u);
  EXPECT_TRUE(info.supports(kArgbLinear));
  EXPECT_TRUE(info.supports({kFormatXrgb8888, kModifierLinear}));
  EXPECT_TRUE(info.tearing_control);
  EXPECT_TRUE(info.presentation);
  EXPECT_FALSE(info.shm_formats.empty());
  // Cached: the second answer needs no compositor.
  weston_->signal(SIGSTOP);
  DisplayInfo again;
  EXPECT_EQ(query_display(app_.display, 100ms, &again), Status::ok);
  EXPECT_EQ(again.dmabuf, info.dmabuf);
  weston_->signal(SIGCONT);
  EXPECT_TRUE(sfw::test::default_queue_empty(app_.display));
}

TEST_F(WaylandLink, NeverTruePredicateTimesOutWithinTheBound) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  EXPECT_GE(link_->surface_version(), 4u);
  for (auto bound : {0ms, 50ms, 300ms}) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(link_->wait_until([] { return false; }, bound), Status::timeout);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, bound);
    EXPECT_LT(elapsed, bound + 1s) << "bound " << bound.count() << " ms";
  }
  EXPECT_EQ(link_->dispatch_pending(), Status::ok);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
}

TEST_F(WaylandLink, StoppedCompositorTimesOutThenRecovers) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  weston_->signal(SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(link_->roundtrip(300ms), Status::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  weston_->signal(SIGCONT);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok); // the late answer to the first one is discarded
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
  EXPECT_GE(wl_display_roundtrip(app_.display), 0); // and the app's own traffic is fine
}

TEST_F(WaylandLink, KilledCompositorIsLostQuicklyAndNothingCrashes) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  weston_->stop(SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(link_->wait_until([] { return false; }, 10s), Status::lost);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_NE(wl_display_get_error(app_.display), 0);
  EXPECT_EQ(link_->roundtrip(10s), Status::lost);
  EXPECT_EQ(link_->dispatch_pending(), Status::lost);
  UniqueFd fd = memfd(64 * 256);
  const SurfaceLink::Plane plane{fd.get(), 0, 256};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  EXPECT_EQ(link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &buffer, 1000ms), Status::lost);
  link_.reset(); // destroying proxies on a dead connection is fine
  Status status = Status::ok;
  forget_display(app_.display);
  EXPECT_EQ(SurfaceLink::create(app_.display, app_.surface, nullptr, 1000ms, &status), nullptr);
  EXPECT_EQ(status, Status::lost);
}

TEST_F(WaylandLink, RefusedBufferLeavesConnectionHealthy) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  UniqueFd small = memfd(4096); // 64x64 ARGB needs 16384
  const SurfaceLink::Plane plane{small.get(), 0, 256};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  EXPECT_EQ(link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &buffer, 5000ms), Status::refused);
  EXPECT_EQ(buffer, nullptr);
  // A pair weston does not offer, and a bad plane index set, are refused the same way.
  UniqueFd fd = memfd(64 * 256);
  const SurfaceLink::Plane good{fd.get(), 0, 256};
  EXPECT_EQ(link_->create_buffer(64, 64, {kFormatArgb8888, 0x00ffffffffff1234ULL}, {&good, 1}, &buffer, 5000ms),
            Status::refused);
  const SurfaceLink::Plane five[5] = {good, good, good, good, good};
  EXPECT_EQ(link_->create_buffer(64, 64, kArgbLinear, five, &buffer, 5000ms), Status::refused);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
  EXPECT_TRUE(sfw::test::default_queue_empty(app_.display));
}

// An offered pair whose import fails (NV12 needs two planes; the local checks cannot know that): `create`
// answers `failed`, not a protocol error, and the pair does not become known good.
TEST_F(WaylandLink, ImportFailureIsFailedNotFatal) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  const FormatModifier nv12{0x3231564e, kModifierLinear};
  if (!link_->info().supports(nv12)) GTEST_SKIP() << "weston does not offer NV12/LINEAR";
  UniqueFd fd = memfd(64 * 64 * 2);
  const SurfaceLink::Plane plane{fd.get(), 0, 64};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  EXPECT_EQ(link_->create_buffer(64, 64, nv12, {&plane, 1}, &buffer, 5000ms), Status::failed);
  EXPECT_EQ(buffer, nullptr);
  EXPECT_FALSE(is_known_good(app_.display, nv12));
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
}

// The link's events (registry, dma-buf formats, params answers, sync callbacks) never reach the app.
TEST_F(WaylandLink, DefaultQueueGetsNothingFromTheLink) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  UniqueFd fd = memfd(64 * 256);
  const SurfaceLink::Plane plane{fd.get(), 0, 256};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  (void)link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &buffer, 5000ms);
  auto second = make_link(); // a second link on the same surface and display
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->roundtrip(5s), Status::ok);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok); // everything sent so far has been read into its queue
  EXPECT_TRUE(sfw::test::default_queue_empty(app_.display));
  EXPECT_EQ(wl_display_dispatch_pending(app_.display), 0);
}

TEST_F(WaylandLink, TearingControlPerSurface) {
  Status status = Status::failed;
  auto tearing = TearingControl::create(app_.display, app_.surface, 5000ms, &status);
  ASSERT_EQ(status, Status::ok);
  ASSERT_NE(tearing, nullptr);
  tearing->set_async(true);
  EXPECT_TRUE(tearing->async());
  wl_surface_commit(app_.surface);
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  tearing.reset(); // destroy: back to vsync at the next commit
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
  EXPECT_TRUE(sfw::test::default_queue_empty(app_.display));
}

// On this host weston's GL renderer (llvmpipe) imports a plain memfd as a LINEAR "dma-buf", so the whole
// buffer life can be shown here too (the VM test does it with real udmabufs).
class WaylandPresent : public WaylandLink {
protected:
  bool with_toplevel() const override { return true; }
  sfw::HostUnique<SurfaceLink::Buffer> make_buffer(Status *status) {
    fds_.push_back(memfd(64 * 256));
    const SurfaceLink::Plane plane{fds_.back().get(), 0, 256};
    sfw::HostUnique<SurfaceLink::Buffer> buffer;
    *status = link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &buffer, 5000ms);
    return buffer;
  }
  std::vector<UniqueFd> fds_;
};

TEST_F(WaylandPresent, FrameCallbackReleaseAndCreateImmed) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  Status s = Status::failed;
  auto a = make_buffer(&s);
  if (s == Status::failed) GTEST_SKIP() << "this weston does not import a memfd as a dma-buf";
  ASSERT_EQ(s, Status::ok);
  EXPECT_FALSE(a->immediate());
  EXPECT_TRUE(is_known_good(app_.display, kArgbLinear));
  auto b = make_buffer(&s); // the pair is known good now: create_immed
  ASSERT_EQ(s, Status::ok);
  EXPECT_TRUE(b->immediate());

  ASSERT_EQ(link_->present(*a, {}, true, 1000ms), Status::ok);
  EXPECT_TRUE(a->busy());
  EXPECT_TRUE(link_->frame_pending());
  EXPECT_EQ(link_->present(*a, {}, false, 1000ms), Status::refused); // still held by the compositor
  EXPECT_EQ(link_->wait_until([&] { return !link_->frame_pending(); }, 5s), Status::ok);

  const SurfaceLink::Rect damage[] = {{0, 0, 16, 16}, {8, 8, 0, 4} /* empty: skipped */};
  ASSERT_EQ(link_->present(*b, damage, true, 1000ms), Status::ok);
  EXPECT_EQ(link_->wait_until([&] { return !a->busy(); }, 5s), Status::ok) << "no release of the first buffer";
  EXPECT_TRUE(b->busy());
  EXPECT_EQ(link_->wait_until([&] { return !link_->frame_pending(); }, 5s), Status::ok);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);

  // Buffers may outlive their link (they share its queue).
  link_.reset();
  a.reset();
  b.reset();
  EXPECT_GE(wl_display_roundtrip(app_.display), 0);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
}

// A `create` that times out (compositor stopped) keeps its params object: the late `created` must find a
// live proxy, or libwayland would leave a hole in its map of server-made ids and the *next* server-made
// object (another wl_buffer here) would kill the app's connection.
TEST_F(WaylandPresent, CreateTimeoutThenLateAnswerIsHarmless) {
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  weston_->signal(SIGSTOP);
  Status s = Status::failed;
  fds_.push_back(memfd(64 * 256));
  const SurfaceLink::Plane plane{fds_.back().get(), 0, 256};
  sfw::HostUnique<SurfaceLink::Buffer> late;
  EXPECT_EQ(link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &late, 300ms), Status::timeout);
  EXPECT_EQ(late, nullptr);
  weston_->signal(SIGCONT);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok); // the orphan gets its `created` and cleans up
  auto next = make_buffer(&s);
  if (s == Status::failed) GTEST_SKIP() << "this weston does not import a memfd as a dma-buf";
  EXPECT_EQ(s, Status::ok);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
}

// Runs only as the 'wayland_link_corrupt_stride' test (SYNCFILE_WSI_DEBUG=corrupt-stride, read once per
// process): the hook makes every buffer fail the local check, and the connection survives.
TEST_F(WaylandLink, CorruptStrideHookIsRefused) {
  if (!sfw::debug_flags().corrupt_stride) GTEST_SKIP() << "needs SYNCFILE_WSI_DEBUG=corrupt-stride";
  link_ = make_link();
  ASSERT_NE(link_, nullptr);
  UniqueFd fd = memfd(64 * 256);
  const SurfaceLink::Plane plane{fd.get(), 0, 256};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  EXPECT_EQ(link_->create_buffer(64, 64, kArgbLinear, {&plane, 1}, &buffer, 5000ms), Status::refused);
  EXPECT_EQ(link_->roundtrip(5s), Status::ok);
  EXPECT_EQ(wl_display_get_error(app_.display), 0);
}

} // namespace
