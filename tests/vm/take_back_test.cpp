// Issue 13, inside the VM where the layer owns the swapchains: the take-back of an image from the compositor
// (PendingAcquires) as the driver sees it, and no window's wait stalling another's.
//  - TimelineChainedSubmit: the app's submits chain VkTimelineSemaphoreSubmitInfo and wait on an acquire
//    semaphore, or follow a fence-only acquire; the validation layer *below* the layer sees what reaches the
//    driver (the app's batches must arrive unchanged: their value counts match their semaphore counts), and
//    the timeline values are honoured.
//  - TwoWindowsOneDevice: one VkDevice, two windows, each on its own weston. Window A (FIFO) is blocked: its
//    weston is stopped (SIGSTOP) while A keeps acquiring fence-only until its acquires time out. Window B
//    (MAILBOX) presents 200 frames meanwhile. Before issue 13, B's submit took A's fence-only acquires back
//    through A's lock, held by A's acquire for its whole wait: each of B's submits waited until one of A's
//    acquires returned (its 5 s timeout), so B made at most one frame per A return. The test asserts that
//    structure, not a time: B makes at least 10 frames per A acquire that returned meanwhile. The worst of B's
//    acquires, submits and presents is printed (about 10 ms unloaded), not asserted: under a loaded host
//    (issue 11) a window with nothing blocked has its own multi-second stalls.
#include "vm_test.hpp"
#include "double_api.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using sfw::test::ValidationLog;

using sfw::test::in_vm;

void use_layers(bool validation_below) {
  setenv("VK_LAYER_PATH", validation_below ? SFW_LAYER_MANIFEST_DIR ":" SFW_VALIDATION_DIR : SFW_LAYER_MANIFEST_DIR, 1);
  setenv("VK_INSTANCE_LAYERS", validation_below ? "VK_LAYER_SYNCFILE_wsi:VK_LAYER_KHRONOS_validation" : "VK_LAYER_SYNCFILE_wsi", 1);
  setenv("SYNCFILE_WSI_LOG", "info", 1);
}

// A few ordinary frames, so that every image has been with the compositor (its next acquire is a take-back).
void warm_up(sfw::test::WsiClient &client, int frames) {
  for (int i = 0; i < frames; ++i) {
    uint32_t index = 0;
    VkResult r = client.frame(&index);
    ASSERT_TRUE(r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(r);
  }
}

class TakeBackTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (access(SFW_VALIDATION_DIR "/VkLayer_khronos_validation.json", R_OK) != 0)
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    use_layers(true);
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s);
    ASSERT_NE(display, nullptr) << "weston did not start";
    sfw::test::WsiClient::Options options;
    options.instance.app_name = "syncfile-wsi take_back_test";
    options.instance.api_version = VK_API_VERSION_1_3;
    VkDebugUtilsMessengerCreateInfoEXT messenger = validation_.messenger();
    options.instance.debug_messenger = &messenger;
    features13_.synchronization2 = VK_TRUE;
    features12_.pNext = &features13_;
    features12_.timelineSemaphore = VK_TRUE;
    options.device.next = &features12_;
    options.swapchain.extent = {32, 32};
    sfw::test::Status status = client_.init(display, options);
    ASSERT_TRUE(status) << status.describe();
  }
  void TearDown() override {
    client_.destroy();
    weston_.reset();
  }

  VkDevice device() const { return client_.device.get(); }

  // The app's render submit for `index`: waits on `waits` (binary ones with value 0) and the timeline, signals
  // render_done[index] and the timeline's `signal_value`, with the values chained in VkTimelineSemaphoreSubmitInfo.
  VkResult submit_chained(uint32_t index, std::vector<VkSemaphore> waits, std::vector<uint64_t> wait_values, uint64_t signal_value) {
    std::vector<VkPipelineStageFlags> stages(waits.size(), VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkSemaphore signals[2] = {client_.render_done[index].get(), timeline_};
    uint64_t signal_values[2] = {0, signal_value};
    VkTimelineSemaphoreSubmitInfo values{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    values.waitSemaphoreValueCount = static_cast<uint32_t>(wait_values.size());
    values.pWaitSemaphoreValues = wait_values.data();
    values.signalSemaphoreValueCount = 2;
    values.pSignalSemaphoreValues = signal_values;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO, &values};
    submit.waitSemaphoreCount = static_cast<uint32_t>(waits.size());
    submit.pWaitSemaphores = waits.data();
    submit.pWaitDstStageMask = stages.data();
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &client_.cmds[index];
    submit.signalSemaphoreCount = 2;
    submit.pSignalSemaphores = signals;
    return vkQueueSubmit(client_.device.queue, 1, &submit, client_.frame_fence.get());
  }
  VkResult submit2(uint32_t index, VkSemaphore acquired, uint64_t wait_value, uint64_t signal_value) {
    std::vector<VkSemaphoreSubmitInfo> waits;
    if (acquired != VK_NULL_HANDLE)
      waits.push_back({VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, acquired, 0, VK_PIPELINE_STAGE_2_TRANSFER_BIT, 0});
    waits.push_back({VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline_, wait_value, VK_PIPELINE_STAGE_2_TRANSFER_BIT, 0});
    VkSemaphoreSubmitInfo signals[2] = {
        {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, client_.render_done[index].get(), 0, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0},
        {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline_, signal_value, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0}};
    VkCommandBufferSubmitInfo cmd{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, client_.cmds[index], 0};
    VkSubmitInfo2 submit{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    submit.waitSemaphoreInfoCount = static_cast<uint32_t>(waits.size());
    submit.pWaitSemaphoreInfos = waits.data();
    submit.commandBufferInfoCount = 1;
    submit.pCommandBufferInfos = &cmd;
    submit.signalSemaphoreInfoCount = 2;
    submit.pSignalSemaphoreInfos = signals;
    return vkQueueSubmit2(client_.device.queue, 1, &submit, client_.frame_fence.get());
  }
  // Presents `index`, waits for the frame, and checks the timeline reached `value`.
  void finish(uint32_t index, uint64_t value) {
    VkResult presented = client_.present(index);
    ASSERT_TRUE(presented == VK_SUCCESS || presented == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(presented);
    ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
    VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    wait.semaphoreCount = 1;
    wait.pSemaphores = &timeline_;
    wait.pValues = &value;
    ASSERT_EQ(vkWaitSemaphores(device(), &wait, sfw::test::kWaitBound), VK_SUCCESS) << "timeline value " << value;
    uint64_t now = 0;
    ASSERT_EQ(vkGetSemaphoreCounterValue(device(), timeline_, &now), VK_SUCCESS);
    EXPECT_EQ(now, value);
  }

  ValidationLog validation_;
  VkPhysicalDeviceVulkan13Features features13_{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDeviceVulkan12Features features12_{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;
  VkSemaphore timeline_ = VK_NULL_HANDLE;
};

TEST_F(TakeBackTest, TimelineChainedSubmit) {
  // The validation layer is there and reports (a reserved flag: 1.3.239 reports it and still calls the driver).
  VkSemaphoreCreateInfo bad{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  bad.flags = 1;
  VkSemaphore canary = VK_NULL_HANDLE;
  if (vkCreateSemaphore(device(), &bad, nullptr, &canary) == VK_SUCCESS) vkDestroySemaphore(device(), canary, nullptr);
  ASSERT_EQ(validation_.take().size(), 1u) << "the validation layer below the layer did not report the canary";

  ASSERT_NO_FATAL_FAILURE(warm_up(client_, 4));
  VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
  VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
  ASSERT_EQ(vkCreateSemaphore(device(), &info, nullptr, &timeline_), VK_SUCCESS);
  VkSemaphoreSignalInfo host{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, timeline_, 1};
  ASSERT_EQ(vkSignalSemaphore(device(), &host), VK_SUCCESS);

  auto acquire = [&](VkSemaphore semaphore, uint32_t *index) {
    wl_display_dispatch_pending(client_.wayland.display());
    VkResult r = vkAcquireNextImageKHR(device(), client_.swapchain.get(), sfw::test::kWaitBound, semaphore, client_.acquire_fence.get(), index);
    ASSERT_TRUE(r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(r);
    ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS);
  };
  uint32_t index = 0;
  // A fence-only acquire, then a submit whose only wait is the timeline (value count 1).
  ASSERT_NO_FATAL_FAILURE(acquire(VK_NULL_HANDLE, &index));
  ASSERT_EQ(submit_chained(index, {timeline_}, {1}, 2), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(finish(index, 2));
  // The acquire semaphore among the waits, before the timeline.
  ASSERT_NO_FATAL_FAILURE(acquire(client_.acquired.get(), &index));
  ASSERT_EQ(submit_chained(index, {client_.acquired.get(), timeline_}, {0, 2}, 3), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(finish(index, 3));
  // The same through vkQueueSubmit2.
  ASSERT_NO_FATAL_FAILURE(acquire(VK_NULL_HANDLE, &index));
  ASSERT_EQ(submit2(index, VK_NULL_HANDLE, 3, 4), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(finish(index, 4));
  ASSERT_NO_FATAL_FAILURE(acquire(client_.acquired.get(), &index));
  ASSERT_EQ(submit2(index, client_.acquired.get(), 4, 5), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(finish(index, 5));

  vkDestroySemaphore(device(), timeline_, nullptr);
  timeline_ = VK_NULL_HANDLE;
  client_.destroy_swapchain();
  client_.device = {};
  for (const auto &e : validation_.take()) ADD_FAILURE() << "validation below the layer: " << e;
}

// ---- failing commands change nothing (item 4), with the TEST DOUBLE below the layer failing driver calls ----

class FailingDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    setenv("VK_LAYER_PATH", SFW_LAYER_MANIFEST_DIR ":" SFW_TEST_DOUBLE_MANIFEST_DIR, 1);
    setenv("VK_INSTANCE_LAYERS", "VK_LAYER_SYNCFILE_wsi:VK_LAYER_SYNCFILE_test_double", 1);
    setenv("SYNCFILE_WSI_LOG", "info", 1);
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s);
    ASSERT_NE(display, nullptr) << "weston did not start";
    sfw::test::WsiClient::Options options;
    options.instance.app_name = "syncfile-wsi take_back_test failing driver";
    options.swapchain.extent = {16, 16};
    sfw::test::Status status = client_.init(display, options);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_TRUE(double_.find()) << "the test double is not loaded in this process";
    ASSERT_NO_FATAL_FAILURE(warm_up(client_, 4));
  }
  void TearDown() override {
    unsetenv("SFW_TEST_DOUBLE_FAIL");
    client_.destroy();
    weston_.reset();
    double_.release();
  }
  // The next call of `function` fails (the double counts each function's calls while it is named).
  void fail_next(const char *function) {
    int &n = calls_[function];
    setenv("SFW_TEST_DOUBLE_FAIL", (std::string(function) + "@" + std::to_string(++n)).c_str(), 1);
  }
  VkResult acquire(uint32_t *index) {
    return client_.acquire(client_.acquire_fence.get(), index);
  }
  std::map<std::string, int> calls_;
  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;
  sfw::test::DoubleApi double_;
};

bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }

TEST_F(FailingDriverTest, AcquireThatFailsLeavesSemaphoreAndFenceAsTheyWere) {
  uint32_t index = 0;
  // The fence's import fails: the semaphore was not touched (imported after the fence).
  const uint64_t semaphore_imports = double_.stats().semaphore_imports;
  fail_next("vkImportFenceFdKHR");
  EXPECT_FALSE(ok(acquire(&index)));
  unsetenv("SFW_TEST_DOUBLE_FAIL");
  EXPECT_EQ(double_.stats().semaphore_imports, semaphore_imports) << "the semaphore was loaded by a failed acquire";
  EXPECT_EQ(vkGetFenceStatus(client_.device.get(), client_.acquire_fence.get()), VK_NOT_READY);
  // The semaphore's import fails: the fence, already loaded, is reset.
  fail_next("vkImportSemaphoreFdKHR");
  EXPECT_FALSE(ok(acquire(&index)));
  unsetenv("SFW_TEST_DOUBLE_FAIL");
  EXPECT_EQ(vkGetFenceStatus(client_.device.get(), client_.acquire_fence.get()), VK_NOT_READY)
      << "a failed acquire left the fence signalled";
  // Nothing was left acquired: frames go on.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(ok(client_.frame(&index))) << "frame " << i;
}

TEST_F(FailingDriverTest, SubmitOrPresentThatFailsCanBeRetried) {
  uint32_t index = 0;
  ASSERT_TRUE(ok(acquire(&index)));
  ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS);
  // The submit that takes the image back fails: the take-back is still pending, and the retry does it.
  fail_next("vkQueueSubmit");
  EXPECT_EQ(client_.render(index, client_.frame_fence.get()), VK_ERROR_OUT_OF_DEVICE_MEMORY);
  unsetenv("SFW_TEST_DOUBLE_FAIL");
  ASSERT_EQ(client_.render(index, client_.frame_fence.get()), VK_SUCCESS);
  // The present's submit fails: the image stays acquired and the retry presents it.
  fail_next("vkQueueSubmit");
  EXPECT_EQ(client_.present(index), VK_ERROR_OUT_OF_DEVICE_MEMORY);
  unsetenv("SFW_TEST_DOUBLE_FAIL");
  ASSERT_TRUE(ok(client_.present(index)));
  ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(ok(client_.frame(&index))) << "frame " << i;
}

// ---- two windows on one device ------------------------------------------------------------------------

struct Worst {
  std::chrono::nanoseconds acquire{0}, submit{0}, present{0};
};

template <typename F> VkResult timed(std::chrono::nanoseconds *worst, F &&call) {
  auto t0 = Clock::now();
  VkResult r = call();
  *worst = std::max(*worst, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0));
  return r;
}

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

// One frame of `client`, each call timed into `worst`.
VkResult timed_frame(sfw::test::WsiClient &client, Worst *worst) {
  uint32_t index = 0;
  VkResult r = timed(&worst->acquire, [&] { return client.acquire(client.acquire_fence.get(), &index); });
  if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) return r;
  if ((r = client.wait_and_reset(client.acquire_fence.get())) != VK_SUCCESS) return r;
  if ((r = timed(&worst->submit, [&] { return client.render(index, client.frame_fence.get()); })) != VK_SUCCESS) return r;
  r = timed(&worst->present, [&] { return client.present(index); });
  if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) return r;
  return client.wait_and_reset(client.frame_fence.get());
}

// Window A's acquires while its compositor is stopped: long against B's frames, so that a B stalled on A's wait
// shows as few B frames per A return.
constexpr uint64_t kBlockedAcquireTimeoutNs = 5'000'000'000;

TEST(TwoWindows, OneBlockedWindowDoesNotStallTheOther) {
  if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
  use_layers(false);
  sfw::test::Weston weston_a(/*hide_dri=*/true), weston_b(/*hide_dri=*/true);
  wl_display *display_a = weston_a.connect(60s);
  wl_display *display_b = weston_b.connect(60s);
  ASSERT_TRUE(display_a != nullptr && display_b != nullptr) << "weston did not start";

  // Window A owns the instance and the device; window B borrows them.
  sfw::test::WsiClient a, b;
  sfw::test::WsiClient::Options options;
  options.instance.app_name = "syncfile-wsi take_back_test two windows";
  options.swapchain.extent = {16, 16};
  options.swapchain.present_mode = VK_PRESENT_MODE_FIFO_KHR;
  sfw::test::Status status = a.init(display_a, options);
  ASSERT_TRUE(status) << "window A: " << status.describe();
  ASSERT_TRUE(status = b.connect(display_b)) << "window B: " << status.describe();
  ASSERT_TRUE(status = sfw::test::create_wayland_surface(a.instance.get(), b.wayland.display(), b.window.surface(), b.surface))
      << status.describe();
  VkBool32 supported = VK_FALSE;
  ASSERT_EQ(vkGetPhysicalDeviceSurfaceSupportKHR(a.device.physical, a.device.family, b.surface.get(), &supported), VK_SUCCESS);
  ASSERT_TRUE(supported) << "A's queue family cannot present to window B";
  b.device.handle = sfw::test::UniqueDevice(nullptr, a.device.get());
  b.device.physical = a.device.physical;
  b.device.family = a.device.family;
  b.device.queue = a.device.queue;
  options.swapchain.present_mode = VK_PRESENT_MODE_MAILBOX_KHR;
  ASSERT_TRUE(status = b.create_swapchain(options.swapchain)) << "window B: " << status.describe();
  std::vector<sfw::test::UniqueFence> *fences = nullptr;
  auto teardown = [&] {
    b.destroy_swapchain();
    if (fences != nullptr) fences->clear();
    b.device.handle.release(); // A's
    b.surface.reset();
    b.destroy();
    a.destroy();
  };

  // Both westons keep pace first (under TCG a weston stalls for seconds while its shell starts): frames until
  // one takes under 50 ms, bounded.
  for (sfw::test::WsiClient *c : {&a, &b}) {
    const auto end = Clock::now() + 60s;
    for (;;) {
      Worst w;
      auto t0 = Clock::now();
      VkResult r = timed_frame(*c, &w);
      ASSERT_TRUE(r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(r);
      if (Clock::now() - t0 < 50ms) break;
      ASSERT_LT(Clock::now(), end) << "weston did not keep pace within 60 s";
    }
  }
  for (int i = 0; i < 6; ++i) // every image of each window has been with its compositor
    for (sfw::test::WsiClient *c : {&a, &b}) {
      Worst w;
      VkResult r = timed_frame(*c, &w);
      ASSERT_TRUE(r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(r);
    }

  // A's compositor stops. A keeps acquiring fence-only (images it then holds, as a renderer thread would
  // before its submit) until its acquires block for their whole timeout.
  weston_a.signal(SIGSTOP);
  std::atomic<bool> done{false};
  std::atomic<int> a_acquired{0}, a_timeouts{0}, a_returns{0};
  std::atomic<bool> a_in_acquire{false};
  std::vector<sfw::test::UniqueFence> a_fences; // one per image A acquired
  std::thread blocked([&] {
    const VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    while (!done.load()) {
      VkFence fence = VK_NULL_HANDLE;
      if (vkCreateFence(a.device.get(), &info, nullptr, &fence) != VK_SUCCESS) break;
      a_fences.emplace_back(a.device.get(), fence);
      uint32_t index = 0;
      a_in_acquire = true;
      VkResult r = vkAcquireNextImageKHR(a.device.get(), a.swapchain.get(), kBlockedAcquireTimeoutNs, VK_NULL_HANDLE, fence, &index);
      a_in_acquire = false;
      a_returns++;
      if (r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) a_acquired++;
      else if (r == VK_TIMEOUT) a_timeouts++, a_fences.pop_back();
      else break;
    }
  });
  // Wait (bounded) until A is blocked in its acquire.
  const auto blocked_by = Clock::now() + 30s;
  while (a_timeouts.load() == 0 && Clock::now() < blocked_by) std::this_thread::sleep_for(10ms); // polls, bounded
  EXPECT_GT(a_timeouts.load(), 0) << "window A never blocked (" << a_acquired.load() << " acquired)";

  Worst worst;
  int frames = 0;
  VkResult r = VK_SUCCESS;
  const int timeouts_before = a_timeouts.load(), returns_before = a_returns.load(), acquired_before = a_acquired.load();
  const bool waiting_at_start = a_in_acquire.load();
  // Bounded by A's returns too: a stalled B ends after 20 of them (100 s), failing below, not timing out.
  for (; frames < 200 && a_returns.load() - returns_before < 20 && (r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR); ++frames)
    r = timed_frame(b, &worst);
  // A was blocked throughout: one acquire of its spanned B's frames, or its acquires timed out meanwhile.
  const int timeouts_during = a_timeouts.load() - timeouts_before, returns_during = a_returns.load() - returns_before;
  const bool blocked_throughout = (waiting_at_start && a_in_acquire.load() && a_returns.load() == returns_before) ||
                                  (timeouts_during > 0 && a_acquired.load() == acquired_before);
  done = true;
  blocked.join();
  weston_a.signal(SIGCONT);
  fences = &a_fences;
  std::printf("two windows: B presented %d MAILBOX frames while A was blocked (%d acquired, %d acquires timed out, "
              "%d returned): worst acquire %.1f ms, submit %.1f ms, present %.1f ms\n",
              frames, a_acquired.load(), timeouts_during, returns_during, ms(worst.acquire), ms(worst.submit), ms(worst.present));
  EXPECT_TRUE(r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) << sfw::test::result_name(r);
  EXPECT_EQ(frames, 200);
  EXPECT_TRUE(blocked_throughout) << "A was not blocked while B presented";
  // A stall on A's wait allows B one frame per A return; 10 per return leaves room for a loaded host.
  EXPECT_GE(frames, 10 * (returns_during + 1)) << "B waited for A's acquires: " << returns_during << " of them returned during B's "
                                               << frames << " frames";
  teardown();
}

} // namespace
