// Issue 16, inside the VM where the layer owns the swapchains: VK_KHR_present_id and VK_KHR_present_wait served by
// the layer from weston's wp_presentation feedback, with the validation layer *above* syncfile-wsi (it judges the
// app's use of what the layer offers: the extensions, the features, the ids, the waits).
//  - IdsComplete (FIFO, MAILBOX): ids 1..N, each waited for from a second thread while the first presents; each
//    completes; an id never presented times out after the timeout given, not before.
//  - RetiredWhileWaiting: a wait for an id not yet presented, in flight while the app recreates the swapchain with
//    oldSwapchain, returns VK_ERROR_OUT_OF_DATE_KHR within a bound.
//  - CompositorKilled: a wait in flight when weston is killed returns VK_ERROR_SURFACE_LOST_KHR within a bound.
//  - Exposure: offered (extensions and features) for an instance with only Wayland surfaces; hidden, and refused at
//    vkCreateDevice, for one that also enables VK_KHR_xcb_surface (lavapipe has neither extension itself).
#include "vm_test.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sfw::test::ValidationLog;

namespace {

using sfw::test::in_vm;
bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }
constexpr uint64_t kSecond = 1'000'000'000ull;

bool has_extension(VkPhysicalDevice phys, const char *name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(phys, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> all(n);
  vkEnumerateDeviceExtensionProperties(phys, nullptr, &n, all.data());
  for (const auto &e : all)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

struct PresentFeatures {
  VkPhysicalDevicePresentWaitFeaturesKHR wait{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR};
  VkPhysicalDevicePresentIdFeaturesKHR id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR, &wait};
};
PresentFeatures query_features(VkPhysicalDevice phys) {
  PresentFeatures f;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f.id};
  vkGetPhysicalDeviceFeatures2(phys, &features);
  f.id.pNext = &f.wait; // as it was (the query writes only the bools)
  return f;
}

class PresentWaitTest : public ::testing::TestWithParam<VkPresentModeKHR> {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (!sfw::test::use_validation(SFW_LAYER_MANIFEST_DIR, sfw::test::ValidationAt::above))
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    display_ = weston_->connect(60s);
    ASSERT_NE(display_, nullptr) << "weston did not start";
    options_.instance.app_name = "syncfile-wsi present_wait_test";
    messenger_ = validation_.messenger();
    options_.instance.debug_messenger = &messenger_;
    options_.swapchain.extent = {32, 32};
    options_.swapchain.present_mode = GetParam();
    options_.device.extensions = {"VK_KHR_present_id", "VK_KHR_present_wait"};
    features_.id.presentId = VK_TRUE;
    features_.wait.presentWait = VK_TRUE;
    options_.device.next = &features_.id;
  }
  // The client through the layer with both extensions enabled (and the checks that they were offered).
  void init() {
    sfw::test::Status status = client_.connect(display_);
    ASSERT_TRUE(status) << status.describe();
    status = client_.create_instance(options_.instance);
    ASSERT_TRUE(status) << status.describe();
    sfw::test::PresentingQueue where;
    status = sfw::test::find_presenting_queue(client_.instance.handle.get(), display_, client_.surface.get(), where);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_TRUE(has_extension(where.physical, "VK_KHR_present_id")) << "not offered through the layer";
    ASSERT_TRUE(has_extension(where.physical, "VK_KHR_present_wait")) << "not offered through the layer";
    PresentFeatures f = query_features(where.physical);
    ASSERT_EQ(f.id.presentId, VK_TRUE);
    ASSERT_EQ(f.wait.presentWait, VK_TRUE);
    status = client_.create_device(options_.device);
    ASSERT_TRUE(status) << status.describe();
    status = client_.create_swapchain(options_.swapchain);
    ASSERT_TRUE(status) << status.describe();
    wait_for_present_ = reinterpret_cast<PFN_vkWaitForPresentKHR>(vkGetDeviceProcAddr(device(), "vkWaitForPresentKHR"));
    ASSERT_NE(wait_for_present_, nullptr);
  }
  void TearDown() override {
    if (client_.device.get() != VK_NULL_HANDLE) vkDeviceWaitIdle(client_.device.get());
    old_ = sfw::test::Swapchain{};
    client_.destroy();
    weston_.reset();
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation above the layer: " << e;
  }

  VkDevice device() const { return client_.device.get(); }
  // One frame as WsiClient::frame makes it, its present carrying `id`.
  VkResult frame(uint64_t id) {
    uint32_t index = 0;
    VkResult r = client_.acquire(client_.acquire_fence.get(), &index);
    if (!ok(r)) return r;
    if ((r = client_.wait_and_reset(client_.acquire_fence.get())) != VK_SUCCESS) return r;
    if ((r = client_.render(index, client_.frame_fence.get())) != VK_SUCCESS) return r;
    const VkSemaphore wait = client_.render_done[index].get();
    const VkSwapchainKHR chain = client_.swapchain.get();
    VkPresentIdKHR ids{VK_STRUCTURE_TYPE_PRESENT_ID_KHR};
    ids.swapchainCount = 1;
    ids.pPresentIds = &id;
    VkPresentInfoKHR info{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, &ids};
    info.waitSemaphoreCount = 1;
    info.pWaitSemaphores = &wait;
    info.swapchainCount = 1;
    info.pSwapchains = &chain;
    info.pImageIndices = &index;
    VkResult presented = vkQueuePresentKHR(client_.device.queue, &info);
    if (!ok(presented)) return presented;
    return client_.wait_and_reset(client_.frame_fence.get());
  }
  // Waits on another thread; returns the result and how long it took.
  struct Waited {
    VkResult result;
    std::chrono::milliseconds took;
  };
  std::future<Waited> wait_async(VkSwapchainKHR chain, uint64_t id, uint64_t timeout_ns) {
    return std::async(std::launch::async, [=, this] {
      auto t0 = Clock::now();
      VkResult r = wait_for_present_(device(), chain, id, timeout_ns);
      return Waited{r, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0)};
    });
  }

  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  PresentFeatures features_;
  sfw::test::WsiClient::Options options_;
  std::unique_ptr<sfw::test::Weston> weston_;
  wl_display *display_ = nullptr;
  sfw::test::WsiClient client_;
  sfw::test::Swapchain old_; // destroyed before the client's device
  PFN_vkWaitForPresentKHR wait_for_present_ = nullptr;
};

TEST_P(PresentWaitTest, IdsComplete) {
  ASSERT_NO_FATAL_FAILURE(init());
  constexpr uint64_t kFrames = 30;
  std::atomic<uint64_t> presented{0};
  std::vector<VkResult> results(kFrames + 1, VK_NOT_READY);
  std::thread waiter([&] {
    for (uint64_t id = 1; id <= kFrames; ++id) results[id] = wait_for_present_(device(), client_.swapchain.get(), id, 10 * kSecond);
  });
  for (uint64_t id = 1; id <= kFrames; ++id) {
    VkResult r = frame(id);
    EXPECT_TRUE(ok(r)) << "frame " << id << ": " << sfw::test::result_name(r);
    presented = id;
  }
  waiter.join();
  for (uint64_t id = 1; id <= kFrames; ++id) EXPECT_EQ(results[id], VK_SUCCESS) << "present id " << id;
  // An id never presented: VK_TIMEOUT, and not before the timeout.
  auto t0 = Clock::now();
  EXPECT_EQ(wait_for_present_(device(), client_.swapchain.get(), kFrames + 1, 300'000'000ull), VK_TIMEOUT);
  EXPECT_GE(Clock::now() - t0, 290ms);
  EXPECT_EQ(wait_for_present_(device(), client_.swapchain.get(), kFrames + 1, 0), VK_TIMEOUT);
  EXPECT_EQ(wait_for_present_(device(), client_.swapchain.get(), kFrames, 0), VK_SUCCESS) << "a completed id, no wait";

  // The wait never dispatches the app's default queue: a wl_display.sync the app sent on it is answered (the
  // waiter reads the socket) but its callback runs only when the app dispatches.
  bool synced = false;
  static const wl_callback_listener sync_listener = {[](void *data, wl_callback *cb, uint32_t) {
    *static_cast<bool *>(data) = true;
    wl_callback_destroy(cb);
  }};
  wl_display *display = client_.wayland.display();
  wl_callback_add_listener(wl_display_sync(display), &sync_listener, &synced);
  wl_display_flush(display);
  std::thread other([&] { wait_for_present_(device(), client_.swapchain.get(), kFrames + 1, 300'000'000ull); });
  other.join();
  EXPECT_FALSE(synced) << "vkWaitForPresentKHR dispatched the app's default queue";
  const auto end = Clock::now() + 10s;
  while (!synced && Clock::now() < end && wl_display_roundtrip(display) >= 0) {
  }
  EXPECT_TRUE(synced) << "the app's own sync never came back";
}

TEST_P(PresentWaitTest, RetiredWhileWaiting) {
  ASSERT_NO_FATAL_FAILURE(init());
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(ok(frame(id)));
  auto waited = wait_async(client_.swapchain.get(), 1000, 20 * kSecond);
  ASSERT_EQ(waited.wait_for(200ms), std::future_status::timeout) << "the wait returned before the retirement";
  // The client's swapchain becomes old_ (retired, not destroyed until the wait returned); a new one names it.
  std::swap(client_.swapchain, old_);
  client_.swapchain = sfw::test::Swapchain{};
  sfw::test::SwapchainOptions options = options_.swapchain;
  options.old_swapchain = old_.get();
  sfw::test::Swapchain fresh;
  sfw::test::Status status = sfw::test::create_swapchain(client_.device.physical, device(), client_.surface.get(), options, fresh);
  ASSERT_TRUE(status) << status.describe();
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready) << "the wait did not return after the retirement";
  Waited w = waited.get();
  EXPECT_EQ(w.result, VK_ERROR_OUT_OF_DATE_KHR) << sfw::test::result_name(w.result);
  EXPECT_LT(w.took, 19s);
  client_.swapchain = std::move(fresh);
}

TEST_P(PresentWaitTest, CompositorKilled) {
  ASSERT_NO_FATAL_FAILURE(init());
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(ok(frame(id)));
  auto waited = wait_async(client_.swapchain.get(), 1000, 60 * kSecond);
  ASSERT_EQ(waited.wait_for(200ms), std::future_status::timeout) << "the wait returned before the compositor went";
  weston_->stop(SIGKILL);
  ASSERT_EQ(waited.wait_for(10s), std::future_status::ready) << "the wait hangs after the compositor was killed";
  Waited w = waited.get();
  EXPECT_EQ(w.result, VK_ERROR_SURFACE_LOST_KHR) << sfw::test::result_name(w.result);
}

INSTANTIATE_TEST_SUITE_P(Modes, PresentWaitTest, ::testing::Values(VK_PRESENT_MODE_FIFO_KHR, VK_PRESENT_MODE_MAILBOX_KHR),
                         [](const auto &info) { return info.param == VK_PRESENT_MODE_FIFO_KHR ? "Fifo" : "Mailbox"; });

// The exposure rule, decided before any surface exists: the extension list and features through the layer.
TEST(PresentWaitExposure, OnlyWhereEverySwapchainIsServed) {
  if (!in_vm()) GTEST_SKIP() << "needs /dev/udmabuf, where the layer may own swapchains (run inside tests/vm/vm-run)";
  setenv("VK_LAYER_PATH", SFW_LAYER_MANIFEST_DIR, 1);
  setenv("VK_INSTANCE_LAYERS", "VK_LAYER_SYNCFILE_wsi", 1);
  for (bool with_xcb : {false, true}) {
    SCOPED_TRACE(with_xcb ? "VK_KHR_surface + wayland + xcb" : "VK_KHR_surface + wayland");
    std::vector<const char *> exts = {"VK_KHR_surface", "VK_KHR_wayland_surface"};
    if (with_xcb) exts.push_back("VK_KHR_xcb_surface");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    VkInstance instance = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateInstance(&ci, nullptr, &instance), VK_SUCCESS);
    uint32_t n = 1;
    VkPhysicalDevice phys = VK_NULL_HANDLE;
    VkResult r = vkEnumeratePhysicalDevices(instance, &n, &phys);
    ASSERT_TRUE(r == VK_SUCCESS || r == VK_INCOMPLETE);
    const bool offered = !with_xcb; // lavapipe 25.0.7 has neither itself: only the layer's own swapchains serve them
    EXPECT_EQ(has_extension(phys, "VK_KHR_present_id"), offered);
    EXPECT_EQ(has_extension(phys, "VK_KHR_present_wait"), offered);
    PresentFeatures f = query_features(phys);
    EXPECT_EQ(f.id.presentId, offered ? VK_TRUE : VK_FALSE);
    EXPECT_EQ(f.wait.presentWait, offered ? VK_TRUE : VK_FALSE);
    // Enabling them: a device where offered (the driver never hears of them), refused where hidden.
    float priority = 1.0f;
    VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    q.queueCount = 1;
    q.pQueuePriorities = &priority;
    PresentFeatures want;
    want.id.presentId = want.wait.presentWait = VK_TRUE;
    const char *dev_exts[] = {"VK_KHR_swapchain", "VK_KHR_present_id", "VK_KHR_present_wait"};
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &want.id};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &q;
    dci.enabledExtensionCount = 3;
    dci.ppEnabledExtensionNames = dev_exts;
    VkDevice device = VK_NULL_HANDLE;
    r = vkCreateDevice(phys, &dci, nullptr, &device);
    EXPECT_EQ(r, offered ? VK_SUCCESS : VK_ERROR_EXTENSION_NOT_PRESENT);
    EXPECT_EQ(want.id.pNext, &want.wait) << "the app's chain was not restored";
    EXPECT_EQ(want.wait.pNext, nullptr) << "the app's chain was not restored";
    if (device != VK_NULL_HANDLE) {
      EXPECT_NE(vkGetDeviceProcAddr(device, "vkWaitForPresentKHR"), nullptr);
      vkDestroyDevice(device, nullptr);
    }
    vkDestroyInstance(instance, nullptr);
  }
}

} // namespace
