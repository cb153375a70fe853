// Images the app binds to swapchain memory, inside the VM where the layer owns the swapchain: an image made
// with VkImageSwapchainCreateInfoKHR, bound with VkBindImageMemorySwapchainInfoKHR, and the maintenance4
// query (vkGetDeviceImageMemoryRequirements) on the same create info. The layer's swapchain handle must never
// reach the driver (lavapipe would take it for its own WSI's swapchain); the answers must match what an
// image made that way really needs.
#include "weston.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

#define SFW_VALIDATION_DIR "/usr/share/vulkan/explicit_layer.d" // Debian's vulkan-validationlayers

// Validation errors, as the validation layer reports them to a messenger.
struct ValidationLog {
  std::mutex mutex;
  std::vector<std::string> errors; // "id: message"
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT *data, void *self) {
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
      auto *log = static_cast<ValidationLog *>(self);
      std::lock_guard lock(log->mutex);
      log->errors.push_back(std::string(data->pMessageIdName ? data->pMessageIdName : "?") + ": " +
                            (data->pMessage ? data->pMessage : ""));
    }
    return VK_FALSE;
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(errors, {});
  }
};

class SwapchainImageTest : public ::testing::Test {
protected:
  // The validation layer *below* the layer, where it sees what the layer hands the driver: the app's images
  // bound to swapchain memory reach the driver as the layer rewrites them.
  bool validation_below_ = false;
  ValidationLog validation_;

  void SetUp() override {
    if (!sfw::test::weston_installed()) GTEST_SKIP() << "weston is not installed";
    if (access("/dev/udmabuf", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/udmabuf (run inside tests/vm/vm-run)";
    // VK_INSTANCE_LAYERS lists from the app down; loader 1.3.239 has no VK_ADD_LAYER_PATH, so the validation
    // layer's directory joins VK_LAYER_PATH.
    setenv("VK_LAYER_PATH", validation_below_ ? SFW_LAYER_MANIFEST_DIR ":" SFW_VALIDATION_DIR : SFW_LAYER_MANIFEST_DIR, 1);
    setenv("VK_INSTANCE_LAYERS", validation_below_ ? "VK_LAYER_SYNCFILE_wsi:VK_LAYER_KHRONOS_validation" : "VK_LAYER_SYNCFILE_wsi", 1);
    setenv("SYNCFILE_WSI_LOG", "info", 1);
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    wl_display *display = weston_->connect(60s); // TCG: weston takes a while to start
    ASSERT_NE(display, nullptr) << "weston did not start";
    sfw::test::WsiClient::Options options;
    options.instance.app_name = "syncfile-wsi swapchain_image_test";
    options.instance.api_version = VK_API_VERSION_1_3;
    options.swapchain.extent = {32, 32};
    VkDebugUtilsMessengerCreateInfoEXT messenger{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    messenger.pfnUserCallback = &ValidationLog::on_message;
    messenger.pUserData = &validation_;
    if (validation_below_) options.instance.debug_messenger = &messenger;
    sfw::test::Status status = client_.init(display, options);
    ASSERT_TRUE(status) << status.describe();
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(client_.device.physical, &props);
    if (props.apiVersion < VK_API_VERSION_1_3) GTEST_SKIP() << "the device has no Vulkan 1.3";
  }
  void TearDown() override {
    client_.destroy();
    weston_.reset();
  }

  // The swapchain's images as an app describes one it will bind to swapchain memory.
  VkImageCreateInfo image_info(const VkImageSwapchainCreateInfoKHR *link) const {
    VkImageCreateInfo info{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    info.pNext = link;
    info.imageType = VK_IMAGE_TYPE_2D;
    info.format = client_.swapchain.format.format;
    info.extent = {client_.swapchain.extent.width, client_.swapchain.extent.height, 1};
    info.mipLevels = 1;
    info.arrayLayers = 1;
    info.samples = VK_SAMPLE_COUNT_1_BIT;
    info.tiling = VK_IMAGE_TILING_OPTIMAL; // the swapchain decides: the layer replaces it
    info.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    info.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    return info;
  }

  std::unique_ptr<sfw::test::Weston> weston_;
  sfw::test::WsiClient client_;

  void binds_to_swapchain_memory_and_answers_requirements();
};

class SwapchainImageBelowValidationTest : public SwapchainImageTest {
protected:
  void SetUp() override {
    if (access(SFW_VALIDATION_DIR "/VkLayer_khronos_validation.json", R_OK) != 0)
      GTEST_SKIP() << "the validation layer is not installed (vulkan-validationlayers)";
    validation_below_ = true;
    SwapchainImageTest::SetUp();
  }
};

TEST_F(SwapchainImageTest, BindsToSwapchainMemoryAndAnswersRequirements) { binds_to_swapchain_memory_and_answers_requirements(); }

// The layer's swapchain memory is dedicated to the layer's own image; binding the app's image to it is
// VUID-VkBindImageMemoryInfo-memory-01509 (and a driver may rely on the dedication). What the driver sees must
// be valid: no validation error below the layer, from creation to the last present.
TEST_F(SwapchainImageBelowValidationTest, WhatTheDriverSeesIsValid) {
  if (IsSkipped()) return;
  // The validation layer is there and reports: a reserved flag (1.3.239 reports it and still calls the driver).
  VkSemaphoreCreateInfo bad{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  bad.flags = 1;
  VkSemaphore canary = VK_NULL_HANDLE;
  if (vkCreateSemaphore(client_.device.get(), &bad, nullptr, &canary) == VK_SUCCESS)
    vkDestroySemaphore(client_.device.get(), canary, nullptr);
  std::vector<std::string> seen = validation_.take();
  ASSERT_EQ(seen.size(), 1u) << "the validation layer below the layer did not report the canary";
  EXPECT_NE(seen[0].find("VkSemaphoreCreateInfo-flags"), std::string::npos) << seen[0];

  binds_to_swapchain_memory_and_answers_requirements();
  client_.destroy_swapchain(); // what destruction hands the driver counts too
  client_.device = {};
  std::vector<std::string> errors = validation_.take();
  for (const auto &e : errors) ADD_FAILURE() << "validation below the layer: " << e;
}

void SwapchainImageTest::binds_to_swapchain_memory_and_answers_requirements() {
  const VkDevice device = client_.device.get();
  VkImageSwapchainCreateInfoKHR link{VK_STRUCTURE_TYPE_IMAGE_SWAPCHAIN_CREATE_INFO_KHR};
  link.swapchain = client_.swapchain.get();
  const VkImageCreateInfo info = image_info(&link);

  VkImage image = VK_NULL_HANDLE;
  ASSERT_EQ(vkCreateImage(device, &info, nullptr, &image), VK_SUCCESS);
  VkMemoryRequirements made{};
  vkGetImageMemoryRequirements(device, image, &made);

  VkDeviceImageMemoryRequirements query{VK_STRUCTURE_TYPE_DEVICE_IMAGE_MEMORY_REQUIREMENTS};
  query.pCreateInfo = &info;
  VkMemoryRequirements2 asked{VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2};
  vkGetDeviceImageMemoryRequirements(device, &query, &asked);
  EXPECT_GT(made.size, 0u);
  EXPECT_EQ(asked.memoryRequirements.size, made.size) << "the query does not describe the image vkCreateImage makes";
  EXPECT_EQ(asked.memoryRequirements.alignment, made.alignment);
  EXPECT_EQ(asked.memoryRequirements.memoryTypeBits, made.memoryTypeBits);

  uint32_t sparse = 99;
  vkGetDeviceImageSparseMemoryRequirements(device, &query, &sparse, nullptr);
  EXPECT_EQ(sparse, 0u) << "a non-sparse image has no sparse requirements";

  VkBindImageMemorySwapchainInfoKHR bind_link{VK_STRUCTURE_TYPE_BIND_IMAGE_MEMORY_SWAPCHAIN_INFO_KHR};
  bind_link.swapchain = client_.swapchain.get();
  bind_link.imageIndex = 0;
  VkBindImageMemoryInfo bind{VK_STRUCTURE_TYPE_BIND_IMAGE_MEMORY_INFO};
  bind.pNext = &bind_link;
  bind.image = image;
  EXPECT_EQ(vkBindImageMemory2(device, 1, &bind), VK_SUCCESS);
  vkDestroyImage(device, image, nullptr);

  // The swapchain still presents after all that.
  uint32_t index = 0;
  EXPECT_EQ(client_.frame(&index), VK_SUCCESS);
}

} // namespace
