// Issue 17, inside the VM where the layer owns the swapchains: VK_EXT_swapchain_maintenance1 on the layer's
// swapchains, with the validation layer *above* syncfile-wsi (it judges the app's use of what the layer offers,
// and knows from the present fences when a present's semaphores and swapchain are free again).
//  - PresentFencesSignal: 20 frames, each present with a fence; every fence signals; then the swapchain and its
//    semaphores are destroyed right after the last fences, with no vkDeviceWaitIdle. tests/vm/maintenance1_paths
//    runs it again in cpu-wait, on the lazy path and through an in-place degradation.
//  - RetiredPresentSignals: a present of a retired swapchain's image signals its fence too.
//  - ModeSwitching: a swapchain made for FIFO and MAILBOX switches at present, 100 times; the surface reports the
//    modes compatible.
//  - ReleaseImages: every image acquired (a further acquire is VK_NOT_READY), two released with
//    vkReleaseSwapchainImagesEXT without being presented, and acquired again.
#include "vm_test.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using sfw::test::ValidationLog;

namespace {

using sfw::test::in_vm;
bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }
constexpr uint64_t kBound = 5'000'000'000ull;

class Maintenance1Test : public ::testing::Test {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (!sfw::test::use_validation(SFW_LAYER_MANIFEST_DIR, sfw::test::ValidationAt::above))
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s);
    ASSERT_NE(display, nullptr) << "weston did not start";
    options_.instance.app_name = "syncfile-wsi maintenance1_test";
    options_.instance.extensions = {"VK_KHR_get_surface_capabilities2", "VK_EXT_surface_maintenance1"};
    messenger_ = validation_.messenger();
    options_.instance.debug_messenger = &messenger_;
    features_.swapchainMaintenance1 = VK_TRUE;
    options_.device.extensions = {"VK_EXT_swapchain_maintenance1"};
    options_.device.next = &features_;
    options_.swapchain.extent = {32, 32};
    options_.swapchain.present_mode = VK_PRESENT_MODE_MAILBOX_KHR;
    ASSERT_TRUE(client_.connect(display));
    sfw::test::Status status = client_.create_instance(options_.instance);
    ASSERT_TRUE(status) << status.describe();
    status = client_.create_device(options_.device);
    ASSERT_TRUE(status) << status.describe();
    release_ = reinterpret_cast<PFN_vkReleaseSwapchainImagesEXT>(vkGetDeviceProcAddr(device(), "vkReleaseSwapchainImagesEXT"));
    ASSERT_NE(release_, nullptr);
    for (auto &f : fences_) {
      VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
      ASSERT_EQ(vkCreateFence(device(), &fi, nullptr, &f), VK_SUCCESS);
    }
  }
  void TearDown() override {
    if (client_.device.get() != VK_NULL_HANDLE) {
      vkDeviceWaitIdle(client_.device.get());
      for (VkFence f : fences_)
        if (f != VK_NULL_HANDLE) vkDestroyFence(device(), f, nullptr);
    }
    old_ = sfw::test::Swapchain{};
    client_.destroy();
    weston_.reset();
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation above the layer: " << e;
  }

  VkDevice device() const { return client_.device.get(); }
  // Acquire (waiting for its fence) and render, as WsiClient::frame does before its present.
  VkResult acquire_and_render(uint32_t *index) {
    VkResult r = client_.acquire(client_.acquire_fence.get(), index);
    if (!ok(r)) return r;
    if (VkResult w = client_.wait_and_reset(client_.acquire_fence.get()); w != VK_SUCCESS) return w;
    if (VkResult w = client_.render(*index, client_.frame_fence.get()); w != VK_SUCCESS) return w;
    return r;
  }
  // The present of `index` on `chain`, with a present fence and, unless MAX_ENUM, a present mode.
  VkResult present(VkSwapchainKHR chain, uint32_t index, VkFence fence,
                   VkPresentModeKHR mode = VK_PRESENT_MODE_MAX_ENUM_KHR) {
    VkSwapchainPresentModeInfoEXT mode_info{VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_MODE_INFO_EXT};
    mode_info.swapchainCount = 1;
    mode_info.pPresentModes = &mode;
    VkSwapchainPresentFenceInfoEXT fence_info{VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_FENCE_INFO_EXT};
    fence_info.pNext = mode != VK_PRESENT_MODE_MAX_ENUM_KHR ? &mode_info : nullptr;
    fence_info.swapchainCount = 1;
    fence_info.pFences = &fence;
    const VkSemaphore wait = client_.render_done[index].get();
    VkPresentInfoKHR info{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, &fence_info};
    info.waitSemaphoreCount = 1;
    info.pWaitSemaphores = &wait;
    info.swapchainCount = 1;
    info.pSwapchains = &chain;
    info.pImageIndices = &index;
    return vkQueuePresentKHR(client_.device.queue, &info);
  }
  VkResult frame(VkFence fence, VkPresentModeKHR mode = VK_PRESENT_MODE_MAX_ENUM_KHR) {
    uint32_t index = 0;
    VkResult r = acquire_and_render(&index);
    if (!ok(r)) return r;
    VkResult presented = present(client_.swapchain.get(), index, fence, mode);
    if (!ok(presented)) return presented;
    return client_.wait_and_reset(client_.frame_fence.get());
  }

  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  VkPhysicalDeviceSwapchainMaintenance1FeaturesEXT features_{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SWAPCHAIN_MAINTENANCE_1_FEATURES_EXT};
  sfw::test::WsiClient::Options options_;
  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;
  sfw::test::Swapchain old_; // destroyed before the client's device
  PFN_vkReleaseSwapchainImagesEXT release_ = nullptr;
  VkFence fences_[3]{};
};

TEST_F(Maintenance1Test, PresentFencesSignal) {
  sfw::test::Status status = client_.create_swapchain(options_.swapchain);
  ASSERT_TRUE(status) << status.describe();
  for (int frame_no = 0; frame_no < 20; ++frame_no) {
    VkFence fence = fences_[frame_no % 3];
    if (frame_no >= 3) {
      ASSERT_EQ(vkWaitForFences(device(), 1, &fence, VK_TRUE, kBound), VK_SUCCESS) << "present fence of frame " << frame_no - 3;
      ASSERT_EQ(vkResetFences(device(), 1, &fence), VK_SUCCESS);
    }
    VkResult r = frame(fence);
    ASSERT_TRUE(ok(r)) << "frame " << frame_no << ": " << sfw::test::result_name(r);
  }
  EXPECT_EQ(vkWaitForFences(device(), 3, fences_, VK_TRUE, kBound), VK_SUCCESS) << "the last present fences";
  // Everything the presents used is free: the swapchain and its semaphores go without vkDeviceWaitIdle.
  client_.swapchain = sfw::test::Swapchain{};
  client_.render_done.clear();
}

TEST_F(Maintenance1Test, RetiredPresentSignals) {
  sfw::test::Status status = client_.create_swapchain(options_.swapchain);
  ASSERT_TRUE(status) << status.describe();
  ASSERT_TRUE(ok(frame(fences_[0])));
  ASSERT_EQ(vkWaitForFences(device(), 1, &fences_[0], VK_TRUE, kBound), VK_SUCCESS);
  ASSERT_EQ(vkResetFences(device(), 1, &fences_[0]), VK_SUCCESS);
  uint32_t index = 0;
  ASSERT_TRUE(ok(acquire_and_render(&index)));
  sfw::test::SwapchainOptions options = options_.swapchain;
  options.old_swapchain = client_.swapchain.get();
  status = sfw::test::create_swapchain(client_.device.physical, device(), client_.surface.get(), options, old_);
  ASSERT_TRUE(status) << status.describe(); // old_ holds the new one; the client's is now retired
  VkResult r = present(client_.swapchain.get(), index, fences_[1]);
  EXPECT_TRUE(ok(r) || r == VK_ERROR_OUT_OF_DATE_KHR) << sfw::test::result_name(r);
  EXPECT_EQ(vkWaitForFences(device(), 1, &fences_[1], VK_TRUE, kBound), VK_SUCCESS) << "the retired swapchain's present fence";
  ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
}

TEST_F(Maintenance1Test, ModeSwitching) {
  VkPhysicalDeviceSurfaceInfo2KHR surface_info{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SURFACE_INFO_2_KHR};
  VkSurfacePresentModeEXT fifo{VK_STRUCTURE_TYPE_SURFACE_PRESENT_MODE_EXT, nullptr, VK_PRESENT_MODE_FIFO_KHR};
  surface_info.pNext = &fifo;
  surface_info.surface = client_.surface.get();
  VkPresentModeKHR compatible[8]{};
  VkSurfacePresentModeCompatibilityEXT compat{VK_STRUCTURE_TYPE_SURFACE_PRESENT_MODE_COMPATIBILITY_EXT};
  compat.presentModeCount = 8;
  compat.pPresentModes = compatible;
  VkSurfaceCapabilities2KHR caps{VK_STRUCTURE_TYPE_SURFACE_CAPABILITIES_2_KHR, &compat};
  auto get_caps2 = reinterpret_cast<PFN_vkGetPhysicalDeviceSurfaceCapabilities2KHR>(
      vkGetInstanceProcAddr(client_.instance.handle.get(), "vkGetPhysicalDeviceSurfaceCapabilities2KHR"));
  ASSERT_NE(get_caps2, nullptr);
  ASSERT_EQ(get_caps2(client_.device.physical, &surface_info, &caps), VK_SUCCESS);
  std::vector<VkPresentModeKHR> modes(compatible, compatible + compat.presentModeCount);
  EXPECT_NE(std::find(modes.begin(), modes.end(), VK_PRESENT_MODE_MAILBOX_KHR), modes.end()) << "MAILBOX not compatible with FIFO";

  VkPresentModeKHR both[] = {VK_PRESENT_MODE_FIFO_KHR, VK_PRESENT_MODE_MAILBOX_KHR};
  VkSwapchainPresentModesCreateInfoEXT modes_info{VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_MODES_CREATE_INFO_EXT};
  modes_info.presentModeCount = 2;
  modes_info.pPresentModes = both;
  sfw::test::SwapchainOptions options = options_.swapchain;
  options.present_mode = VK_PRESENT_MODE_FIFO_KHR;
  options.next = &modes_info;
  sfw::test::Status status = client_.create_swapchain(options);
  ASSERT_TRUE(status) << status.describe();
  for (int switch_no = 0; switch_no < 100; ++switch_no) {
    VkFence fence = fences_[switch_no % 3];
    if (switch_no >= 3) {
      ASSERT_EQ(vkWaitForFences(device(), 1, &fence, VK_TRUE, kBound), VK_SUCCESS);
      ASSERT_EQ(vkResetFences(device(), 1, &fence), VK_SUCCESS);
    }
    VkResult r = frame(fence, both[switch_no % 2]);
    ASSERT_TRUE(ok(r)) << "switch " << switch_no << ": " << sfw::test::result_name(r);
  }
}

TEST_F(Maintenance1Test, ReleaseImages) {
  sfw::test::Status status = client_.create_swapchain(options_.swapchain);
  ASSERT_TRUE(status) << status.describe();
  const uint32_t n = static_cast<uint32_t>(client_.swapchain.images.size());
  std::vector<uint32_t> acquired;
  for (uint32_t i = 0; i < n; ++i) { // fence-only acquires, bounded (more than n - minImageCount at once)
    uint32_t index = 0;
    VkResult r = vkAcquireNextImageKHR(device(), client_.swapchain.get(), kBound, VK_NULL_HANDLE, fences_[0], &index);
    ASSERT_TRUE(ok(r)) << "acquire " << i << ": " << sfw::test::result_name(r);
    ASSERT_EQ(client_.wait_and_reset(fences_[0]), VK_SUCCESS);
    acquired.push_back(index);
  }
  uint32_t index = 0;
  EXPECT_EQ(vkAcquireNextImageKHR(device(), client_.swapchain.get(), 0, VK_NULL_HANDLE, fences_[0], &index), VK_NOT_READY)
      << "every image is acquired";
  VkReleaseSwapchainImagesInfoEXT info{VK_STRUCTURE_TYPE_RELEASE_SWAPCHAIN_IMAGES_INFO_EXT};
  info.swapchain = client_.swapchain.get();
  info.imageIndexCount = 2;
  info.pImageIndices = acquired.data();
  ASSERT_EQ(release_(device(), &info), VK_SUCCESS);
  std::vector<uint32_t> again;
  for (int i = 0; i < 2; ++i) {
    VkResult r = vkAcquireNextImageKHR(device(), client_.swapchain.get(), kBound, VK_NULL_HANDLE, fences_[0], &index);
    ASSERT_TRUE(ok(r)) << "acquire after the release: " << sfw::test::result_name(r);
    ASSERT_EQ(client_.wait_and_reset(fences_[0]), VK_SUCCESS);
    again.push_back(index);
  }
  std::sort(again.begin(), again.end());
  std::vector<uint32_t> released(acquired.begin(), acquired.begin() + 2);
  std::sort(released.begin(), released.end());
  EXPECT_EQ(again, released) << "the released images are the ones acquired again";
  info.imageIndexCount = n;
  ASSERT_EQ(release_(device(), &info), VK_SUCCESS) << "every image back";
  EXPECT_TRUE(ok(frame(fences_[1]))) << "a frame after the releases";
  EXPECT_TRUE(ok(frame(fences_[2]))) << "a frame after the releases";
  EXPECT_EQ(vkWaitForFences(device(), 2, &fences_[1], VK_TRUE, kBound), VK_SUCCESS);
}

} // namespace
