// The Wayland module with real dma-bufs (udmabufs) and weston's GL renderer, inside the VM: buffers
// through `create` then `create_immed` (known-good pair), present, frame callback and release, and pairs
// the compositor refuses or fails, with the app's connection healthy throughout.
// weston runs with /dev/dri hidden (its GL renderer crashes on client dma-bufs when it sees vgem).
#include "wayland/display_info.hpp"
#include "wayland/surface_link.hpp"

#include "kernel/unique_fd.hpp"
#include "weston.hpp"

#include <gtest/gtest.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <chrono>
#include <cstring>

using namespace sfw::wl;
using sfw::kernel::UniqueFd;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kSize = 64, kStride = kSize * 4;
const FormatModifier kArgbLinear{kFormatArgb8888, kModifierLinear};

// A 64x64 ARGB8888 udmabuf filled with `pixel` (so a screenshot would show it), or an invalid fd.
UniqueFd make_udmabuf(uint32_t pixel) {
  const size_t size = kStride * kSize; // a multiple of the page size, as udmabuf requires
  UniqueFd memfd(memfd_create("sfw-wl-vm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd || ftruncate(memfd.get(), static_cast<off_t>(size)) < 0) return {};
  if (void *map = mmap(nullptr, size, PROT_WRITE, MAP_SHARED, memfd.get(), 0); map != MAP_FAILED) {
    for (size_t i = 0; i < size / 4; ++i) static_cast<uint32_t *>(map)[i] = pixel;
    munmap(map, size);
  }
  if (fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK) < 0) return {};
  UniqueFd device(open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
  if (!device) return {};
  udmabuf_create create{};
  create.memfd = static_cast<uint32_t>(memfd.get());
  create.flags = UDMABUF_FLAGS_CLOEXEC;
  create.size = size;
  return UniqueFd(ioctl(device.get(), UDMABUF_CREATE, &create));
}

class WaylandDmabuf : public ::testing::Test {
protected:
  void SetUp() override {
    if (!sfw::test::weston_installed()) GTEST_SKIP() << "weston is not installed";
    if (access("/dev/udmabuf", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/udmabuf (run inside tests/vm/vm-run)";
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s); // TCG: weston takes a while to start
    ASSERT_NE(display, nullptr) << "weston did not start";
    ASSERT_TRUE(app_.init(display, /*with_toplevel=*/true));
    Status status = Status::failed;
    link_ = SurfaceLink::create(app_.display, app_.surface, nullptr, 10000ms, &status);
    ASSERT_EQ(status, Status::ok);
  }
  void TearDown() override {
    buffers_.clear();
    link_.reset();
    if (app_.display) forget_display(app_.display);
    app_.destroy();
    if (weston_ && HasFailure()) weston_->dump_log();
    weston_.reset();
  }
  Status make_buffer(FormatModifier fm, uint32_t pixel, SurfaceLink::Buffer **out = nullptr) {
    UniqueFd fd = make_udmabuf(pixel);
    EXPECT_TRUE(fd) << "udmabuf: " << strerror(errno);
    const SurfaceLink::Plane plane{fd.get(), 0, kStride};
    sfw::HostUnique<SurfaceLink::Buffer> buffer;
    Status s = link_->create_buffer(kSize, kSize, fm, {&plane, 1}, &buffer, 10000ms);
    if (buffer) buffers_.push_back(std::move(buffer));
    if (out) *out = s == Status::ok ? buffers_.back().get() : nullptr;
    return s;
  }
  void expect_healthy() {
    EXPECT_EQ(link_->roundtrip(10s), Status::ok);
    EXPECT_EQ(wl_display_get_error(app_.display), 0);
  }

  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::App app_;
  sfw::HostUnique<SurfaceLink> link_;
  std::vector<sfw::HostUnique<SurfaceLink::Buffer>> buffers_;
};

TEST_F(WaylandDmabuf, WestonOffersArgbLinear) {
  const DisplayInfo &info = link_->info();
  printf("zwp_linux_dmabuf_v1 v%u, %zu pairs, feedback %d, explicit sync %d\n", info.dmabuf_version,
         info.dmabuf.size(), info.dmabuf_feedback, info.explicit_sync);
  EXPECT_GE(info.dmabuf_version, 3u);
  EXPECT_TRUE(info.supports(kArgbLinear));
}

TEST_F(WaylandDmabuf, CreateThenImmedPresentAndRelease) {
  SurfaceLink::Buffer *a = nullptr, *b = nullptr;
  ASSERT_EQ(make_buffer(kArgbLinear, 0xffff0000u, &a), Status::ok);
  EXPECT_FALSE(a->immediate());
  EXPECT_TRUE(is_known_good(app_.display, kArgbLinear));
  ASSERT_EQ(make_buffer(kArgbLinear, 0xff0000ffu, &b), Status::ok);
  EXPECT_TRUE(b->immediate()) << "the second buffer of a known-good pair uses create_immed";
  expect_healthy(); // create_immed raised no error

  ASSERT_EQ(link_->present(*a, {}, true, 1000ms), Status::ok);
  EXPECT_EQ(link_->wait_until([&] { return !link_->frame_pending(); }, 20s), Status::ok) << "no frame callback";
  EXPECT_TRUE(a->busy());
  ASSERT_EQ(link_->present(*b, {}, true, 1000ms), Status::ok);
  EXPECT_EQ(link_->wait_until([&] { return !a->busy(); }, 20s), Status::ok) << "no release of the first buffer";
  EXPECT_EQ(link_->wait_until([&] { return !link_->frame_pending(); }, 20s), Status::ok);
  EXPECT_TRUE(b->busy());
  expect_healthy();
}

TEST_F(WaylandDmabuf, UnofferedModifierIsRefusedLocally) {
  EXPECT_EQ(make_buffer({kFormatArgb8888, 0x00ffffffffff1234ULL}, 0), Status::refused);
  expect_healthy();
}

// NV12/LINEAR is offered, but one plane cannot be imported: `create` says `failed`; nothing fatal.
TEST_F(WaylandDmabuf, FailedImportIsNotFatal) {
  const FormatModifier nv12{0x3231564e, kModifierLinear};
  if (!link_->info().supports(nv12)) GTEST_SKIP() << "NV12/LINEAR not offered";
  UniqueFd fd = make_udmabuf(0);
  const SurfaceLink::Plane plane{fd.get(), 0, kSize};
  sfw::HostUnique<SurfaceLink::Buffer> buffer;
  EXPECT_EQ(link_->create_buffer(kSize, kSize, nv12, {&plane, 1}, &buffer, 10000ms), Status::failed);
  EXPECT_FALSE(is_known_good(app_.display, nv12));
  expect_healthy();
}

} // namespace
