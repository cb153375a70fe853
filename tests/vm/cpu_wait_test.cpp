// Issue 14, inside the VM with SYNCFILE_WSI_MODE=cpu-wait (the layer waits on the CPU for each frame before
// the compositor may read it): the mode by the spec, with the validation layer *below* syncfile-wsi.
//  - FramesAreValidBelowTheLayer: 100 frames; the layer's present submits signal no semaphore that nobody
//    waits on (before issue 14 each image's present semaphore was signalled again from its second present:
//    VUID-vkQueueSubmit-pSignalSemaphores-00067).
//  - SlowFrameIsWaitedFor: a frame that takes 6 s, longer than the layer's 5 s bound on its own waits (the
//    TEST DOUBLE below the layer holds every fence for 6 s: lavapipe cannot model it, as its fence waits behind
//    a wait-before-signal ignore their timeout): the present waits for it and returns VK_SUCCESS (before,
//    VK_ERROR_DEVICE_LOST), and the next frames run.
// The mode is read once per process, hence a program of its own.
#include "vm_test.hpp"
#include "double_api.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sfw::test::ValidationLog;

namespace {

using sfw::test::in_vm;
bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }

class CpuWaitTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (access(SFW_VALIDATION_DIR "/VkLayer_khronos_validation.json", R_OK) != 0)
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    sfw::test::use_layer_over_double_validation_below();
    setenv("SYNCFILE_WSI_MODE", "cpu-wait", 1);
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s);
    ASSERT_NE(display, nullptr) << "weston did not start";
    sfw::test::WsiClient::Options options;
    options.instance.app_name = "syncfile-wsi cpu_wait_test";
    messenger_ = validation_.messenger();
    options.instance.debug_messenger = &messenger_;
    options.swapchain.extent = {32, 32};
    options.swapchain.present_mode = VK_PRESENT_MODE_MAILBOX_KHR;
    sfw::test::Status status = client_.init(display, options);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_TRUE(double_.find()) << "the test double is not loaded in this process";
  }
  void TearDown() override {
    client_.destroy();
    double_.release();
    weston_.reset();
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation below the layer: " << e;
  }

  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;
  sfw::test::DoubleApi double_;
};

TEST_F(CpuWaitTest, FramesAreValidBelowTheLayer) {
  for (int i = 0; i < 100; ++i) {
    uint32_t index = 0;
    VkResult r = client_.frame(&index);
    ASSERT_TRUE(ok(r)) << "frame " << i << ": " << sfw::test::result_name(r);
  }
  std::vector<std::string> errors = validation_.take();
  EXPECT_TRUE(errors.empty()) << errors.size() << " validation errors below the layer in 100 cpu-wait frames; the first: "
                              << (errors.empty() ? "" : errors.front());
}

TEST_F(CpuWaitTest, SlowFrameIsWaitedFor) {
  for (int i = 0; i < 4; ++i) { // every image has been with the compositor
    uint32_t index = 0;
    ASSERT_TRUE(ok(client_.frame(&index)));
  }
  uint32_t index = 0;
  VkResult r = client_.acquire(client_.acquire_fence.get(), &index);
  ASSERT_TRUE(ok(r)) << sfw::test::result_name(r);
  ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS);
  ASSERT_EQ(client_.render(index, client_.frame_fence.get()), VK_SUCCESS);
  const uint64_t timeouts_before = double_.stats().held_fence_timeouts;
  double_.hold_fences(6000); // the frame takes 6 s, longer than the layer's 5 s bound on its own waits
  const auto t0 = Clock::now();
  const VkResult presented = client_.present(index);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  const uint64_t timeouts = double_.stats().held_fence_timeouts - timeouts_before;
  std::printf("slow frame: the present took %.1f s (%llu of the layer's bounded waits timed out meanwhile): %s\n", took,
              static_cast<unsigned long long>(timeouts), sfw::test::result_name(presented));
  EXPECT_EQ(presented, VK_SUCCESS) << sfw::test::result_name(presented);
  EXPECT_GE(took, 5.9) << "the present did not wait for the frame";
  EXPECT_GE(timeouts, 1u) << "the layer's wait never ran out: a 6 s frame did not test it";
  ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
  for (int i = 0; i < 4; ++i) { // the image and the swapchain are as they should be: frames go on
    r = client_.frame(&index);
    ASSERT_TRUE(ok(r)) << "frame " << i << " after the slow one: " << sfw::test::result_name(r);
  }
}

} // namespace
