// Issue 14, inside the VM where the layer owns the swapchains: retirement by the spec (vkCreateSwapchainKHR's
// oldSwapchain), with the validation layer *below* syncfile-wsi (what reaches the driver must be valid: every
// semaphore the app gave a present is waited on once, however the present ends).
//  - SecondSwapchainIsRefused: a surface with an unretired swapchain refuses another without oldSwapchain
//    (VK_ERROR_NATIVE_WINDOW_IN_USE_KHR); destroyed, it takes one again.
//  - RetiredAcquiresAreOutOfDate: once a new swapchain names it as oldSwapchain, the old one's acquires are
//    VK_ERROR_OUT_OF_DATE_KHR; the new one acquires.
//  - FailedCreateStillRetires: a creation that fails (the app's allocator refuses) still retires oldSwapchain,
//    and the surface then takes a swapchain without oldSwapchain.
//  - LatePresentsDoNotReachTheSurface: an image acquired from the old swapchain is presented before the new one
//    has presented (it reaches the surface: one wl_surface.attach in WAYLAND_DEBUG), and another after the new
//    one's first present (VK_ERROR_OUT_OF_DATE_KHR, no attach). Its render semaphore is waited on all the same:
//    signalling it again is valid.
#include "vm_test.hpp"
#include "stderr_capture.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using sfw::test::StderrCapture;
using sfw::test::ValidationLog;

namespace {

using sfw::test::in_vm;

// What WsiClient keeps for one swapchain, so that a test can hold the old one while the client makes the new.
struct Frames {
  sfw::test::Swapchain swapchain;
  sfw::test::UniqueCommandPool pool;
  std::vector<VkCommandBuffer> cmds;
  std::vector<sfw::test::UniqueSemaphore> render_done;
  sfw::test::UniqueSemaphore acquired;
  sfw::test::UniqueFence acquire_fence, frame_fence;
};
void swap_frames(sfw::test::WsiClient &c, Frames &f) {
  std::swap(c.swapchain, f.swapchain);
  std::swap(c.pool, f.pool);
  std::swap(c.cmds, f.cmds);
  std::swap(c.render_done, f.render_done);
  std::swap(c.acquired, f.acquired);
  std::swap(c.acquire_fence, f.acquire_fence);
  std::swap(c.frame_fence, f.frame_fence);
}

bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }

// Allocation callbacks that refuse every allocation.
VkAllocationCallbacks refusing_allocator() {
  VkAllocationCallbacks a{};
  a.pfnAllocation = [](void *, size_t, size_t, VkSystemAllocationScope) -> void * { return nullptr; };
  a.pfnReallocation = [](void *, void *, size_t, size_t, VkSystemAllocationScope) -> void * { return nullptr; };
  a.pfnFree = [](void *, void *) {};
  return a;
}

// wl_surface.attach requests in `log` between "@@mark from" and "@@mark to".
int attaches_between(const std::string &log, const std::string &from, const std::string &to) {
  size_t a = log.find("@@mark " + from + "\n"), b = log.find("@@mark " + to + "\n");
  if (a == std::string::npos || b == std::string::npos || b < a) return -1;
  static const std::regex attach(R"(-> wl_surface[#@][0-9]+\.attach\()");
  std::string part = log.substr(a, b - a);
  return static_cast<int>(std::distance(std::sregex_iterator(part.begin(), part.end(), attach), std::sregex_iterator()));
}

class RetirementTest : public ::testing::Test {
protected:
  virtual bool wayland_debug() const { return false; }
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (!sfw::test::use_validation(SFW_LAYER_MANIFEST_DIR, sfw::test::ValidationAt::below))
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    if (wayland_debug()) { // libwayland reads it at connect
      setenv("WAYLAND_DEBUG", "client", 1);
      capture_ = std::make_unique<StderrCapture>();
    }
    wl_display *display = weston_->connect(60s);
    unsetenv("WAYLAND_DEBUG");
    ASSERT_NE(display, nullptr) << "weston did not start";
    options_.instance.app_name = "syncfile-wsi retirement_test";
    messenger_ = validation_.messenger();
    options_.instance.debug_messenger = &messenger_;
    options_.swapchain.extent = {32, 32};
    options_.swapchain.present_mode = VK_PRESENT_MODE_MAILBOX_KHR; // no frame-callback pacing in the way
    sfw::test::Status status = client_.init(display, options_);
    ASSERT_TRUE(status) << status.describe();
    for (int i = 0; i < 4; ++i) {
      uint32_t index = 0;
      VkResult r = client_.frame(&index);
      ASSERT_TRUE(ok(r)) << sfw::test::result_name(r);
    }
  }
  void TearDown() override {
    if (client_.device.get() != VK_NULL_HANDLE) vkDeviceWaitIdle(client_.device.get());
    old_ = Frames{};
    client_.destroy();
    weston_.reset();
    capture_.reset();
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation below the layer: " << e;
  }

  VkDevice device() const { return client_.device.get(); }
  // The client's swapchain becomes old_; the client makes a new one naming it as oldSwapchain.
  sfw::test::Status recreate() {
    swap_frames(client_, old_);
    sfw::test::SwapchainOptions options = options_.swapchain;
    options.old_swapchain = old_.swapchain.get();
    return client_.create_swapchain(options);
  }
  // `step` on the old swapchain: the client's own acquire, render and present, with old_'s objects.
  template <typename F> VkResult on_old(F &&step) {
    swap_frames(client_, old_);
    VkResult r = step();
    swap_frames(client_, old_);
    return r;
  }
  // Acquires from old_ and renders into the image (it signals old_.render_done[*index]); waits for both.
  void acquire_and_render_old(uint32_t *index) {
    VkResult r = on_old([&] {
      VkResult a = client_.acquire(client_.acquire_fence.get(), index);
      if (a == VK_SUCCESS || a == VK_SUBOPTIMAL_KHR) a = client_.wait_and_reset(client_.acquire_fence.get());
      if (a == VK_SUCCESS) a = client_.render(*index, client_.frame_fence.get());
      if (a == VK_SUCCESS) a = client_.wait_and_reset(client_.frame_fence.get());
      return a;
    });
    ASSERT_EQ(r, VK_SUCCESS) << sfw::test::result_name(r);
  }
  VkResult present_old(uint32_t index) {
    return on_old([&] { return client_.present(index); });
  }

  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  sfw::test::WsiClient::Options options_;
  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;
  Frames old_; // destroyed before the client's device
  std::unique_ptr<StderrCapture> capture_;
};

TEST_F(RetirementTest, SecondSwapchainIsRefused) {
  sfw::test::Swapchain second;
  sfw::test::Status status =
      sfw::test::create_swapchain(client_.device.physical, device(), client_.surface.get(), options_.swapchain, second);
  EXPECT_FALSE(status) << "a second swapchain without oldSwapchain was made";
  EXPECT_EQ(status.result, VK_ERROR_NATIVE_WINDOW_IN_USE_KHR) << status.describe();
  client_.destroy_swapchain();
  status = client_.create_swapchain(options_.swapchain);
  ASSERT_TRUE(status) << "after the first was destroyed: " << status.describe();
  uint32_t index = 0;
  VkResult r = client_.frame(&index);
  EXPECT_TRUE(ok(r)) << sfw::test::result_name(r);
}

TEST_F(RetirementTest, RetiredAcquiresAreOutOfDate) {
  sfw::test::Status status = recreate();
  ASSERT_TRUE(status) << status.describe();
  uint32_t index = 0;
  EXPECT_EQ(vkAcquireNextImageKHR(device(), old_.swapchain.get(), sfw::test::kWaitBound, old_.acquired.get(), VK_NULL_HANDLE, &index),
            VK_ERROR_OUT_OF_DATE_KHR);
  VkResult r = client_.frame(&index);
  EXPECT_TRUE(ok(r)) << "the new swapchain: " << sfw::test::result_name(r);
}

TEST_F(RetirementTest, FailedCreateStillRetires) {
  const VkAllocationCallbacks refusing = refusing_allocator();
  sfw::test::SwapchainOptions options = options_.swapchain;
  options.old_swapchain = client_.swapchain.get();
  options.allocator = &refusing;
  sfw::test::Swapchain failed;
  sfw::test::Status status = sfw::test::create_swapchain(client_.device.physical, device(), client_.surface.get(), options, failed);
  ASSERT_FALSE(status) << "the creation did not fail";
  EXPECT_EQ(status.result, VK_ERROR_OUT_OF_HOST_MEMORY) << status.describe();
  uint32_t index = 0;
  EXPECT_EQ(client_.acquire(client_.acquire_fence.get(), &index), VK_ERROR_OUT_OF_DATE_KHR) << "the old swapchain was not retired";
  // Retired, it holds the surface no more: a swapchain without oldSwapchain is made.
  swap_frames(client_, old_);
  status = client_.create_swapchain(options_.swapchain);
  ASSERT_TRUE(status) << status.describe();
  VkResult r = client_.frame(&index);
  EXPECT_TRUE(ok(r)) << sfw::test::result_name(r);
}

// With WAYLAND_DEBUG=client on the app's connection, captured from stderr.
class LatePresentTest : public RetirementTest {
protected:
  bool wayland_debug() const override { return true; }
};

TEST_F(LatePresentTest, LatePresentsDoNotReachTheSurface) {
  // Two images acquired from the swapchain about to be retired, and rendered (each frame waited for, so
  // the acquire semaphore is reusable).
  swap_frames(client_, old_);
  uint32_t early = 0, late = 0;
  ASSERT_NO_FATAL_FAILURE(acquire_and_render_old(&early));
  ASSERT_NO_FATAL_FAILURE(acquire_and_render_old(&late));
  sfw::test::SwapchainOptions options = options_.swapchain;
  options.old_swapchain = old_.swapchain.get();
  sfw::test::Status status = client_.create_swapchain(options);
  ASSERT_TRUE(status) << status.describe();

  capture_->mark("early");
  VkResult early_result = present_old(early); // before the new swapchain's first present: shown
  capture_->mark("new");
  uint32_t index = 0;
  VkResult new_result = client_.frame(&index);
  capture_->mark("late");
  VkResult late_result = present_old(late); // after it: not shown
  capture_->mark("end");
  ASSERT_EQ(vkQueueWaitIdle(client_.device.queue), VK_SUCCESS);
  // The late present waited on its semaphore: signalling it again (and waiting on it) is valid below the layer.
  const VkSemaphore again = old_.render_done[late].get();
  const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
  VkSubmitInfo signal{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  signal.signalSemaphoreCount = 1;
  signal.pSignalSemaphores = &again;
  VkSubmitInfo wait{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  wait.waitSemaphoreCount = 1;
  wait.pWaitSemaphores = &again;
  wait.pWaitDstStageMask = &stage;
  EXPECT_EQ(vkQueueSubmit(client_.device.queue, 1, &signal, VK_NULL_HANDLE), VK_SUCCESS);
  EXPECT_EQ(vkQueueSubmit(client_.device.queue, 1, &wait, VK_NULL_HANDLE), VK_SUCCESS);
  ASSERT_EQ(vkQueueWaitIdle(client_.device.queue), VK_SUCCESS);
  const std::string log = capture_->stop();

  EXPECT_TRUE(ok(early_result)) << "the old swapchain's present before the new one's: " << sfw::test::result_name(early_result);
  EXPECT_TRUE(ok(new_result)) << "the new swapchain's frame: " << sfw::test::result_name(new_result);
  EXPECT_EQ(late_result, VK_ERROR_OUT_OF_DATE_KHR) << sfw::test::result_name(late_result);
  const int early_attaches = attaches_between(log, "early", "new"), new_attaches = attaches_between(log, "new", "late"),
            late_attaches = attaches_between(log, "late", "end");
  std::printf("wl_surface.attach: %d for the early present of the old swapchain, %d for the new one's, %d for the late one\n",
              early_attaches, new_attaches, late_attaches);
  EXPECT_EQ(early_attaches, 1);
  EXPECT_EQ(new_attaches, 1);
  EXPECT_EQ(late_attaches, 0) << "the late present reached the surface";
  if (HasFailure()) std::printf("captured stderr (last 4000 characters):\n%s\n", log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
}

} // namespace
