// Issue 4's synchronisation tests, inside the VM: a minimal Vulkan + Wayland client (xdg_toplevel on a
// private weston with the GL renderer and /dev/dri hidden) with syncfile-wsi loaded and the TEST DOUBLE
// VK_LAYER_SYNCFILE_test_double below it (tests/layer_double), which hands the test each swapchain image's
// dma-buf and models a GPU that completes a designated present's work only when the test says so.
//  - AcquireWaitsForCompositor: an unsignalled read fence on an image's dma-buf (a compositor's GPU read
//    in flight) holds that image's acquire fence until the fence signals, and no longer.
//  - PresentFencesBufferWithoutWaitingForGpu: after vkQueuePresentKHR returns, the dma-buf carries the
//    frame's (unsignalled) rendering fence, and the layer called no CPU wait inside present.
// Each runs twice: double directly below the layer, and VK_LAYER_KHRONOS_validation between the two
// (zero validation messages). Layer order comes from VK_LAYER_PATH's directory order and is asserted
// from the loader's VK_LOADER_DEBUG=layer call-stack report.
#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "kernel/unique_fd.hpp"
#include "double_api.hpp"
#include "vgem.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <dlfcn.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using sfw::kernel::Access;
using sfw::kernel::SyncFile;
using sfw::kernel::UniqueFd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kValidationDir = "/usr/share/vulkan/explicit_layer.d";
constexpr uint64_t kBound = sfw::test::kWaitBound; // every wait in these tests is bounded
constexpr uint32_t kSize = 64;

// ---- stderr capture, for the loader's VK_LOADER_DEBUG=layer report -----------------------------------

class StderrCapture {
public:
  StderrCapture() {
    fflush(stderr);
    saved_ = UniqueFd(fcntl(2, F_DUPFD_CLOEXEC, 0));
    file_ = UniqueFd(memfd_create("sfw-stderr", MFD_CLOEXEC));
    if (saved_ && file_) dup2(file_.get(), 2);
  }
  ~StderrCapture() { finish(); }
  std::string finish() {
    if (!saved_) return text_;
    fflush(stderr);
    dup2(saved_.get(), 2);
    saved_.reset();
    lseek(file_.get(), 0, SEEK_SET);
    char buf[4096];
    ssize_t n;
    while ((n = read(file_.get(), buf, sizeof buf)) > 0) text_.append(buf, static_cast<size_t>(n));
    return text_;
  }

private:
  UniqueFd saved_, file_;
  std::string text_;
};

// The layers of the loader's "<call> layer callstack setup to:" block, from the app down to the driver.
std::vector<std::string> callstack(const std::string &log, const std::string &call) {
  std::vector<std::string> layers;
  size_t pos = log.find(call + " layer callstack setup to:");
  if (pos == std::string::npos) return layers;
  std::istringstream in(log.substr(pos));
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    size_t tag = line.find("LAYER:");
    if (tag == std::string::npos || line.find("<Driver") != std::string::npos || line.find("<Device>") != std::string::npos)
      break;
    std::string rest = line.substr(tag + 6);
    rest.erase(0, rest.find_first_not_of(' '));
    if (rest.rfind("VK_LAYER_", 0) == 0 && rest.find(' ') == std::string::npos) layers.push_back(rest);
  }
  return layers;
}

std::vector<std::string> only(const std::vector<std::string> &layers, const std::vector<std::string> &wanted) {
  std::vector<std::string> out;
  for (const auto &l : layers)
    if (std::find(wanted.begin(), wanted.end(), l) != wanted.end()) out.push_back(l);
  return out;
}

bool same_file(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool readable_now(int dmabuf) {
  pollfd p{dmabuf, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// A read-access export of the dma-buf's fences (the writers) has signalled.
bool read_export_signalled(int dmabuf) {
  auto exported = sfw::kernel::export_sync_file(dmabuf, Access::read);
  if (!exported) {
    ADD_FAILURE() << "export_sync_file(read): " << sfw::kernel::to_string(exported.error());
    return false;
  }
  auto signalled = exported->signalled();
  return signalled && *signalled;
}

// Progress with timestamps, so that a slow step under TCG shows where the time went.
Clock::time_point g_test_start;
void note(const char *what) {
  fprintf(stderr, "[sync_test +%.3f s] %s\n", std::chrono::duration<double>(Clock::now() - g_test_start).count(), what);
}

// ---- the fixture: weston, and a WsiClient (tests/common) on it --------------------------------------------

struct Messages {
  std::mutex mutex;
  std::vector<std::string> validation; // errors and warnings from the validation layer
  // A driver defect, not the layer's: see modifier_features2_missing().
  bool ignore_empty_modifier_features = false;
  size_t ignored = 0;
};

// Validation 1.3.239 takes a DRM-modifier image's format features from VkDrmFormatModifierPropertiesList2EXT
// whenever the device offers VK_KHR_format_feature_flags2. Lavapipe (Mesa 25.0.7) offers it but returns no
// modifiers in that list (the VkDrmFormatModifierPropertiesListEXT list has LINEAR with every feature), so
// validation believes a modifier image supports nothing ("VkFormatFeatureFlags (0x0)") and flags every use.
// Only those messages are ignored, and only where this defect is measured.
bool is_empty_modifier_features_message(const std::string &text) {
  return text.find("VkFormatFeatureFlags (0x0)") != std::string::npos &&
         text.find("VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT") != std::string::npos;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
                                          const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
  auto *m = static_cast<Messages *>(user);
  bool bad = severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT);
  if (bad && (type & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT)) {
    std::string text = data->pMessage ? data->pMessage : "(no message)";
    std::lock_guard lock(m->mutex);
    if (m->ignore_empty_modifier_features && is_empty_modifier_features_message(text))
      m->ignored++;
    else
      m->validation.push_back(std::move(text));
  }
  return VK_FALSE;
}

// The driver offers VK_KHR_format_feature_flags2 and lists modifiers for `format` in
// VkDrmFormatModifierPropertiesListEXT, but none in VkDrmFormatModifierPropertiesList2EXT.
bool modifier_features2_missing(VkPhysicalDevice physical, VkFormat format) {
  uint32_t count = 0;
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &count, extensions.data());
  bool flags2 = false;
  for (const auto &e : extensions) flags2 |= strcmp(e.extensionName, VK_KHR_FORMAT_FEATURE_FLAGS_2_EXTENSION_NAME) == 0;
  VkDrmFormatModifierPropertiesListEXT list1{VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT};
  VkFormatProperties2 props1{VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2};
  props1.pNext = &list1;
  vkGetPhysicalDeviceFormatProperties2(physical, format, &props1);
  VkDrmFormatModifierPropertiesList2EXT list2{VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_2_EXT};
  VkFormatProperties2 props2{VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2};
  props2.pNext = &list2;
  vkGetPhysicalDeviceFormatProperties2(physical, format, &props2);
  return flags2 && list1.drmFormatModifierCount > 0 && list2.drmFormatModifierCount == 0;
}

class SyncTest : public ::testing::TestWithParam<bool> {
protected:
  bool validation() const { return GetParam(); }

  void SetUp() override {
    g_test_start = Clock::now();
    if (!sfw::test::weston_installed()) GTEST_SKIP() << "weston is not installed";
    if (access("/dev/udmabuf", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/udmabuf (run inside tests/vm/vm-run)";
    if (validation() && access((std::string(kValidationDir) + "/VkLayer_khronos_validation.json").c_str(), R_OK) != 0)
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    ASSERT_NO_THROW(vgem_ = std::make_unique<sfw::test::Vgem>());
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s); // TCG: weston takes a while to start
    ASSERT_NE(display, nullptr) << "weston did not start";
    sfw::test::Status connected = client_.connect(display);
    ASSERT_TRUE(connected) << connected.describe();
    note("weston is up");
    ASSERT_NO_FATAL_FAILURE(create_instance());
    note("instance created");
    ASSERT_TRUE(dbl_.find()) << "the test double is not loaded in this process: " << dlerror();
    ASSERT_NO_FATAL_FAILURE(create_device());
    ASSERT_NO_FATAL_FAILURE(create_swapchain());
    note("swapchain and frame objects created");
  }

  void TearDown() override {
    note("tear-down");
    // First free anything a failed test left waiting on a fence that only the test would signal.
    for (uint32_t fence : outstanding_vgem_) try {
        vgem_->signal(fence);
      } catch (...) {
      }
    if (dbl_.handle) dbl_.open_gate();
    client_.destroy();
    dbl_.release();
    weston_.reset();
    std::lock_guard lock(messages_.mutex);
    std::string text;
    for (size_t i = 0; i < messages_.validation.size() && i < 8; ++i) text += messages_.validation[i] + "\n";
    EXPECT_TRUE(messages_.validation.empty()) << messages_.validation.size() << " validation messages:\n" << text;
    if (messages_.ignored != 0)
      fprintf(stderr, "[sync_test] ignored %zu validation messages that blame the driver's empty "
                      "VkDrmFormatModifierPropertiesList2EXT (a lavapipe defect, measured)\n", messages_.ignored);
  }

  std::vector<std::string> expected_layers() const {
    if (validation()) return {"VK_LAYER_SYNCFILE_wsi", "VK_LAYER_KHRONOS_validation", "VK_LAYER_SYNCFILE_test_double"};
    return {"VK_LAYER_SYNCFILE_wsi", "VK_LAYER_SYNCFILE_test_double"};
  }

  void check_order(const std::string &log, const char *call) {
    const std::vector<std::string> ours = {"VK_LAYER_SYNCFILE_wsi", "VK_LAYER_KHRONOS_validation", "VK_LAYER_SYNCFILE_test_double"};
    std::vector<std::string> got = only(callstack(log, call), ours);
    EXPECT_EQ(got, expected_layers()) << call << ": the loader's report:\n" << log;
  }

  void create_instance() {
    // Each manifest in its own directory, in the wanted order (loader 1.3.239 keeps the found order).
    std::string path = std::string(SFW_LAYER_MANIFEST_DIR) + ":";
    if (validation()) path += std::string(kValidationDir) + ":";
    path += SFW_TEST_DOUBLE_MANIFEST_DIR;
    std::string layers = "VK_LAYER_SYNCFILE_wsi:VK_LAYER_SYNCFILE_test_double";
    if (validation()) layers += ":VK_LAYER_KHRONOS_validation";
    setenv("VK_LAYER_PATH", path.c_str(), 1);
    setenv("VK_INSTANCE_LAYERS", layers.c_str(), 1);

    VkDebugUtilsMessengerCreateInfoEXT messenger{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger.pfnUserCallback = &on_message;
    messenger.pUserData = &messages_;
    sfw::test::InstanceOptions options;
    options.app_name = "syncfile-wsi sync_test";
    options.debug_messenger = &messenger;
    StderrCapture capture;
    sfw::test::Status status = client_.create_instance(options);
    std::string log = capture.finish();
    ASSERT_TRUE(status) << status.describe() << "\n" << log;
    check_order(log, "vkCreateInstance");
  }

  void create_device() {
    StderrCapture capture;
    sfw::test::Status status = client_.create_device({});
    std::string log = capture.finish();
    ASSERT_TRUE(status) << status.describe() << "\n" << log;
    check_order(log, "vkCreateDevice");
    // Before the swapchain's images, which are what validation would blame.
    if (validation() && modifier_features2_missing(client_.device.physical, VK_FORMAT_B8G8R8A8_UNORM)) {
      std::lock_guard lock(messages_.mutex);
      messages_.ignore_empty_modifier_features = true;
    }
  }

  // FIFO, kSize x kSize B8G8R8A8_UNORM images, and the frame objects.
  void create_swapchain() {
    sfw::test::SwapchainOptions options;
    options.extent = {kSize, kSize};
    sfw::test::Status status = client_.create_swapchain(options);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_EQ(client_.swapchain.format.format, VK_FORMAT_B8G8R8A8_UNORM) << "no B8G8R8A8_UNORM";
    const std::vector<VkImage> &images = client_.swapchain.images;

    // The double saw one dma-buf export per image, in image order (the layer owns the swapchain).
    std::vector<int> fds(images.size() + 8, -1);
    int n = dbl_.dmabufs(fds.data(), static_cast<int>(fds.size()));
    for (int i = 0; i < n && i < static_cast<int>(fds.size()); ++i) dmabufs_.emplace_back(fds[static_cast<size_t>(i)]);
    ASSERT_EQ(static_cast<size_t>(n), images.size()) << "the double saw " << n << " dma-buf exports for " << images.size()
                                                     << " swapchain images: does syncfile-wsi own this swapchain?";
    for (const UniqueFd &fd : dmabufs_) ASSERT_TRUE(sfw::kernel::is_dmabuf(fd.get()));
    // Without validation in between, handles are the driver's: check the order against the images.
    if (!validation())
      for (size_t i = 0; i < images.size(); ++i) {
        UniqueFd by_image(dbl_.dmabuf_of_image(reinterpret_cast<uint64_t>(images[i])));
        ASSERT_TRUE(by_image) << "image " << i << " has no dedicated dma-buf";
        EXPECT_TRUE(same_file(by_image.get(), dmabufs_[i].get())) << "image " << i;
      }
  }

  // ---- one frame, in pieces ------------------------------------------------------------------------

  // Acquires with the semaphore and the fence (as most apps do); does not wait for the fence.
  void acquire(uint32_t *index) {
    ASSERT_EQ(client_.acquire(client_.acquire_fence.get(), index), VK_SUCCESS);
    ASSERT_LT(*index, image_count());
  }

  void wait_acquire_fence() { ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS); }

  // Renders image `index` (waiting for its acquire semaphore).
  void render(uint32_t index) { ASSERT_EQ(client_.render(index, client_.frame_fence.get()), VK_SUCCESS); }

  VkResult present(uint32_t index) { return client_.present(index); }

  // The frame's own rendering is done: its acquire semaphore and command buffer may be reused.
  void wait_frame() { ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS); }

  // A whole ordinary frame; returns the presented index.
  void frame(uint32_t *index) {
    ASSERT_EQ(client_.frame(index), VK_SUCCESS);
    ASSERT_LT(*index, image_count());
  }

  uint32_t image_count() const { return static_cast<uint32_t>(client_.swapchain.images.size()); }

  void frames(uint32_t n, uint32_t *last = nullptr) {
    uint32_t index = 0;
    for (uint32_t i = 0; i < n; ++i) ASSERT_NO_FATAL_FAILURE(frame(&index));
    if (last) *last = index;
  }

  std::unique_ptr<sfw::test::Vgem> vgem_;
  std::vector<uint32_t> outstanding_vgem_;
  std::unique_ptr<sfw::test::Weston> weston_;
  Messages messages_;
  sfw::test::DoubleApi dbl_;
  sfw::test::WsiClient client_;
  std::vector<UniqueFd> dmabufs_; // the double's dups, by image index
};

// ---- the tests -------------------------------------------------------------------------------------------

TEST_P(SyncTest, AcquireWaitsForCompositor) {
  const uint32_t n = image_count();
  uint32_t target = 0;
  ASSERT_NO_FATAL_FAILURE(frames(2 * n, &target)); // warm up; `target` is on screen now
  note("warmed up");

  // The compositor's GPU read of `target`, still in flight: an unsignalled read fence on its dma-buf.
  // vgem would signal it by itself after 10 s, so the clock starts now.
  sfw::test::PendingSyncFile read;
  ASSERT_NO_THROW(read = vgem_->unsignalled_sync_file());
  outstanding_vgem_.push_back(read.fence);
  const auto fenced_at = Clock::now();
  const int dmabuf = dmabufs_[target].get();
  SyncFile read_fence(std::move(read.sync_file));
  auto imported = sfw::kernel::import_sync_file(dmabuf, read_fence, Access::read);
  ASSERT_TRUE(imported) << sfw::kernel::to_string(imported.error());
  auto writable = sfw::kernel::wait_dmabuf_writable(dmabuf, 0ns);
  ASSERT_TRUE(writable && !*writable) << "the read fence did not land on the dma-buf";
  EXPECT_TRUE(readable_now(dmabuf)) << "a read fence must not block readers";

  // Frames go on (nothing the test submits waits on the fence) until the compositor releases `target`.
  uint32_t index = UINT32_MAX;
  for (uint32_t i = 0; i < 4 * n; ++i) {
    ASSERT_NO_FATAL_FAILURE(acquire(&index));
    if (index == target) break;
    ASSERT_NO_FATAL_FAILURE(wait_acquire_fence());
    ASSERT_NO_FATAL_FAILURE(render(index));
    ASSERT_EQ(present(index), VK_SUCCESS);
    ASSERT_NO_FATAL_FAILURE(wait_frame());
  }
  ASSERT_EQ(index, target) << "the image never came back";
  note("the fenced image is acquired");

  // Acquired, but its acquire fence waits for the compositor's read.
  const VkDevice device = client_.device.get();
  const VkFence acquire_fence = client_.acquire_fence.get();
  EXPECT_EQ(vkGetFenceStatus(device, acquire_fence), VK_NOT_READY);
  EXPECT_EQ(vkWaitForFences(device, 1, &acquire_fence, VK_TRUE, 300'000'000), VK_TIMEOUT);
  ASSERT_LT(Clock::now() - fenced_at, 8s) << "too slow: vgem signals by itself after 10 s, which would prove nothing";

  // The read finishes, on another thread; then the acquire completes, promptly.
  std::atomic<int64_t> signalled_at{0};
  std::thread compositor([&] {
    std::this_thread::sleep_for(200ms);
    signalled_at = Clock::now().time_since_epoch().count();
    try {
      vgem_->signal(read.fence);
    } catch (const std::exception &e) {
      ADD_FAILURE() << e.what();
    }
  });
  VkResult waited = vkWaitForFences(device, 1, &acquire_fence, VK_TRUE, kBound);
  const int64_t completed_at = Clock::now().time_since_epoch().count();
  compositor.join();
  outstanding_vgem_.clear();
  ASSERT_EQ(waited, VK_SUCCESS) << "the acquire fence did not follow the compositor's read";
  EXPECT_GE(completed_at, signalled_at.load()) << "the acquire fence signalled before the read had finished";
  ASSERT_EQ(vkResetFences(device, 1, &acquire_fence), VK_SUCCESS);

  // The image renders and presents as usual, and the swapchain goes on.
  ASSERT_NO_FATAL_FAILURE(render(index));
  ASSERT_EQ(present(index), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(wait_frame());
  ASSERT_NO_FATAL_FAILURE(frames(n));
}

TEST_P(SyncTest, PresentFencesBufferWithoutWaitingForGpu) {
  const uint32_t n = image_count();
  ASSERT_NO_FATAL_FAILURE(frames(n));
  note("warmed up");
  const sfw_test_double_stats before = dbl_.stats();

  uint32_t index = 0;
  ASSERT_NO_FATAL_FAILURE(acquire(&index));
  ASSERT_NO_FATAL_FAILURE(wait_acquire_fence());
  ASSERT_NO_FATAL_FAILURE(render(index));
  // This present's submit is the designated one: its rendering "completes" only when the gate opens.
  dbl_.arm_gate(1);
  const auto presented_at = Clock::now();
  dbl_.window(1);
  VkResult presented = present(index);
  dbl_.window(0);
  const sfw_test_double_stats during = dbl_.stats();
  // Before anything else can fail: the gate must open before this image renders again (TearDown opens it too).
  const int dmabuf = dmabufs_[index].get();
  const bool readable_before = readable_now(dmabuf);
  const bool export_signalled_before = read_export_signalled(dmabuf);
  dbl_.open_gate();
  ASSERT_EQ(presented, VK_SUCCESS);

  EXPECT_EQ(sfw::test::gated_present_problems(before, during), "");
  // The compositor's implicit sync waits for the frame: the dma-buf is not readable yet.
  EXPECT_FALSE(readable_before) << "the dma-buf was readable (POLLIN) before the frame's rendering finished";
  EXPECT_FALSE(export_signalled_before) << "a read export was signalled before the frame's rendering finished";

  // Once the "GPU" finishes (gate open and lavapipe done), it is.
  auto readable = sfw::kernel::wait_dmabuf_readable(dmabuf, 5s);
  ASSERT_TRUE(readable && *readable) << "the dma-buf did not become readable after the rendering finished";
  EXPECT_TRUE(read_export_signalled(dmabuf));
  note("the gated frame is readable");
  const sfw_test_double_stats after = dbl_.stats();
  EXPECT_EQ(after.vgem_signals - before.vgem_signals, 1u);
  EXPECT_LT(Clock::now() - presented_at, 8s) << "too slow: vgem signals by itself after 10 s";
  ASSERT_NO_FATAL_FAILURE(wait_frame());

  // The swapchain goes on, that image included.
  ASSERT_NO_FATAL_FAILURE(frames(2 * n));
  EXPECT_EQ(dbl_.stats().errors, 0u) << dbl_.stats().last_error;
}

INSTANTIATE_TEST_SUITE_P(Layers, SyncTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "ValidationBetweenLayerAndDouble" : "DoubleBelowLayer";
                         });

} // namespace

int main(int argc, char **argv) {
  // The loader reads VK_LOADER_DEBUG once, when it loads: ask for its layer report from the start.
  const char *debug = getenv("VK_LOADER_DEBUG");
  if (debug == nullptr || (strstr(debug, "layer") == nullptr && strstr(debug, "all") == nullptr)) {
    std::string value = debug && *debug ? std::string(debug) + ",layer" : "layer";
    setenv("VK_LOADER_DEBUG", value.c_str(), 1);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
