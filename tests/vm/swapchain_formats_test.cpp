// Issue 17, inside the VM where the layer owns the swapchains: the 10-bit, 16-bit, FP16 and 565 swapchain formats.
// Per format the surface offers through the layer: a swapchain of it, each image cleared to (1, 0.5, 0.25, 1) and
// presented, then its memory (the dma-buf weston was given) read back through a copy and decoded by the format's
// layout. R, G and B all differ, so a channel swap (AR30 read as AB30) or an 8-bit misread fails; WAYLAND_DEBUG
// shows the DRM fourcc the buffer was announced with, and weston answered `created` (else no swapchain).
// Validation below the layer. The offered list must hold every format lavapipe exports and weston 14 takes.
#include "vm_test.hpp"
#include "stderr_capture.hpp"
#include "validation_log.hpp"
#include "weston.hpp"
#include "wsi_client.hpp"

#include <drm_fourcc.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using sfw::test::StderrCapture;
using sfw::test::ValidationLog;

namespace {

using sfw::test::in_vm;
bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }

struct FormatCase {
  VkFormat format;
  const char *name;
  uint32_t fourcc; // opaque: the swapchain is made with VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
  uint32_t bytes;  // per pixel
};
const FormatCase kCases[] = {
    {VK_FORMAT_B8G8R8A8_UNORM, "B8G8R8A8_UNORM", DRM_FORMAT_XRGB8888, 4},
    {VK_FORMAT_A2R10G10B10_UNORM_PACK32, "A2R10G10B10_UNORM_PACK32", DRM_FORMAT_XRGB2101010, 4},
    {VK_FORMAT_A2B10G10R10_UNORM_PACK32, "A2B10G10R10_UNORM_PACK32", DRM_FORMAT_XBGR2101010, 4},
    {VK_FORMAT_R16G16B16A16_UNORM, "R16G16B16A16_UNORM", DRM_FORMAT_XBGR16161616, 8},
    {VK_FORMAT_R16G16B16A16_SFLOAT, "R16G16B16A16_SFLOAT", DRM_FORMAT_XBGR16161616F, 8},
    {VK_FORMAT_R5G6B5_UNORM_PACK16, "R5G6B5_UNORM_PACK16", DRM_FORMAT_RGB565, 2},
};

struct Rgb {
  double r, g, b;
};
constexpr Rgb kColour = {1.0, 0.5, 0.25};

double half_to_double(uint16_t h) {
  int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
  return (h & 0x8000) ? -v : v;
}

// The pixel as the format lays it out in memory (little endian), as fractions of full scale.
Rgb decode(VkFormat format, const uint8_t *p) {
  uint32_t w32;
  uint16_t c[4];
  std::memcpy(&w32, p, 4);
  std::memcpy(c, p, 8);
  switch (format) {
  case VK_FORMAT_B8G8R8A8_UNORM: return {p[2] / 255.0, p[1] / 255.0, p[0] / 255.0};
  case VK_FORMAT_A2R10G10B10_UNORM_PACK32:
    return {((w32 >> 20) & 0x3ff) / 1023.0, ((w32 >> 10) & 0x3ff) / 1023.0, (w32 & 0x3ff) / 1023.0};
  case VK_FORMAT_A2B10G10R10_UNORM_PACK32:
    return {(w32 & 0x3ff) / 1023.0, ((w32 >> 10) & 0x3ff) / 1023.0, ((w32 >> 20) & 0x3ff) / 1023.0};
  case VK_FORMAT_R16G16B16A16_UNORM: return {c[0] / 65535.0, c[1] / 65535.0, c[2] / 65535.0};
  case VK_FORMAT_R16G16B16A16_SFLOAT: return {half_to_double(c[0]), half_to_double(c[1]), half_to_double(c[2])};
  case VK_FORMAT_R5G6B5_UNORM_PACK16: {
    uint16_t v = c[0];
    return {(v >> 11) / 31.0, ((v >> 5) & 0x3f) / 63.0, (v & 0x1f) / 31.0};
  }
  default: return {-1, -1, -1};
  }
}
// One step of the format's channels: what a correct conversion may be off by.
double step(VkFormat format) {
  switch (format) {
  case VK_FORMAT_A2R10G10B10_UNORM_PACK32:
  case VK_FORMAT_A2B10G10R10_UNORM_PACK32: return 1 / 1023.0;
  case VK_FORMAT_R16G16B16A16_UNORM: return 1 / 65535.0;
  case VK_FORMAT_R16G16B16A16_SFLOAT: return 1e-3;
  case VK_FORMAT_R5G6B5_UNORM_PACK16: return 1 / 31.0;
  default: return 1 / 255.0;
  }
}

std::vector<VkSurfaceFormatKHR> surface_formats(VkPhysicalDevice phys, VkSurfaceKHR surface) {
  uint32_t n = 0;
  vkGetPhysicalDeviceSurfaceFormatsKHR(phys, surface, &n, nullptr);
  std::vector<VkSurfaceFormatKHR> all(n);
  vkGetPhysicalDeviceSurfaceFormatsKHR(phys, surface, &n, all.data());
  all.resize(n);
  return all;
}

class SwapchainFormatsTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!in_vm()) GTEST_SKIP() << "needs weston and /dev/udmabuf (run inside tests/vm/vm-run)";
    if (!sfw::test::use_validation(SFW_LAYER_MANIFEST_DIR, sfw::test::ValidationAt::below))
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    weston_ = std::make_unique<sfw::test::Weston>(/*hide_dri=*/true);
    setenv("WAYLAND_DEBUG", "client", 1); // libwayland reads it at connect
    capture_ = std::make_unique<StderrCapture>();
    wl_display *display = weston_->connect(60s);
    unsetenv("WAYLAND_DEBUG");
    ASSERT_NE(display, nullptr) << "weston did not start";
    options_.instance.app_name = "syncfile-wsi swapchain_formats_test";
    messenger_ = validation_.messenger();
    options_.instance.debug_messenger = &messenger_;
    ASSERT_TRUE(client_.connect(display));
    sfw::test::Status status = client_.create_instance(options_.instance);
    ASSERT_TRUE(status) << status.describe();
    status = client_.create_device(options_.device);
    ASSERT_TRUE(status) << status.describe();
  }
  void TearDown() override {
    if (client_.device.get() != VK_NULL_HANDLE) vkDeviceWaitIdle(client_.device.get());
    client_.destroy();
    weston_.reset();
    if (capture_) capture_->stop();
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation below the layer: " << e;
  }

  // A swapchain of `c.format`; every image cleared to kColour, presented, and read back. Returns the first pixel
  // of each image (decoded) through `out`.
  void run_format(const FormatCase &c, std::vector<Rgb> *out) {
    sfw::test::SwapchainOptions options;
    options.format = c.format;
    options.present_mode = VK_PRESENT_MODE_MAILBOX_KHR;
    options.extent = {16, 16};
    options.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
    sfw::test::Status status = client_.create_swapchain(options);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_EQ(client_.swapchain.format.format, c.format) << "the swapchain took another format";
    VkDevice dev = client_.device.get();
    const VkDeviceSize size = 16ull * 16 * c.bytes;
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkBuffer buffer = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateBuffer(dev, &bi, nullptr, &buffer), VK_SUCCESS);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, buffer, &req);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(client_.device.physical, &mp);
    uint32_t type = 0;
    for (; type < mp.memoryTypeCount; ++type)
      if ((req.memoryTypeBits & (1u << type)) &&
          (mp.memoryTypes[type].propertyFlags & (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) ==
              (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
        break;
    ASSERT_LT(type, mp.memoryTypeCount);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    ASSERT_EQ(vkAllocateMemory(dev, &ai, nullptr, &memory), VK_SUCCESS);
    ASSERT_EQ(vkBindBufferMemory(dev, buffer, memory, 0), VK_SUCCESS);
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = client_.device.family;
    VkCommandPool pool = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateCommandPool(dev, &pi, nullptr, &pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = pool;
    cai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    ASSERT_EQ(vkAllocateCommandBuffers(dev, &cai, &cmd), VK_SUCCESS);

    for (size_t i = 0; i < client_.swapchain.images.size(); ++i) {
      uint32_t index = 0;
      VkResult r = client_.acquire(client_.acquire_fence.get(), &index);
      ASSERT_TRUE(ok(r)) << sfw::test::result_name(r);
      ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS);
      VkImage image = client_.swapchain.images[index];
      VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      ASSERT_EQ(vkBeginCommandBuffer(cmd, &begin), VK_SUCCESS);
      VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
      b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      b.image = image;
      b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
      b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
      b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
      b.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
      VkClearColorValue colour{};
      colour.float32[0] = static_cast<float>(kColour.r);
      colour.float32[1] = static_cast<float>(kColour.g);
      colour.float32[2] = static_cast<float>(kColour.b);
      colour.float32[3] = 1.0f;
      vkCmdClearColorImage(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &colour, 1, &b.subresourceRange);
      b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
      b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
      b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      b.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {16, 16, 1};
      vkCmdCopyImageToBuffer(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buffer, 1, &region);
      b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
      b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
      b.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
      b.dstAccessMask = 0;
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
      VkBufferMemoryBarrier host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
      host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      host.srcQueueFamilyIndex = host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      host.buffer = buffer;
      host.size = VK_WHOLE_SIZE;
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &host, 0, nullptr);
      ASSERT_EQ(vkEndCommandBuffer(cmd), VK_SUCCESS);
      const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
      const VkSemaphore wait = client_.acquired.get(), signal = client_.render_done[index].get();
      VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
      submit.waitSemaphoreCount = 1;
      submit.pWaitSemaphores = &wait;
      submit.pWaitDstStageMask = &stage;
      submit.commandBufferCount = 1;
      submit.pCommandBuffers = &cmd;
      submit.signalSemaphoreCount = 1;
      submit.pSignalSemaphores = &signal;
      ASSERT_EQ(vkQueueSubmit(client_.device.queue, 1, &submit, client_.frame_fence.get()), VK_SUCCESS);
      r = client_.present(index);
      ASSERT_TRUE(ok(r)) << sfw::test::result_name(r);
      ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
      void *mapped = nullptr;
      ASSERT_EQ(vkMapMemory(dev, memory, 0, VK_WHOLE_SIZE, 0, &mapped), VK_SUCCESS);
      out->push_back(decode(c.format, static_cast<const uint8_t *>(mapped) + (16 * 8 + 8) * c.bytes)); // pixel (8, 8)
      vkUnmapMemory(dev, memory);
    }
    vkDeviceWaitIdle(dev);
    vkDestroyCommandPool(dev, pool, nullptr);
    vkDestroyBuffer(dev, buffer, nullptr);
    vkFreeMemory(dev, memory, nullptr);
    client_.destroy_swapchain();
  }

  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  sfw::test::WsiClient::Options options_;
  std::unique_ptr<sfw::test::Weston> weston_;
  std::unique_ptr<StderrCapture> capture_;
  sfw::test::WsiClient client_;
};

TEST_F(SwapchainFormatsTest, EveryFormatKeepsItsLayout) {
  std::vector<VkSurfaceFormatKHR> offered = surface_formats(client_.device.physical, client_.surface.get());
  std::vector<std::string> fourccs_seen;
  for (const FormatCase &c : kCases) {
    SCOPED_TRACE(c.name);
    bool is_offered = false;
    for (const VkSurfaceFormatKHR &f : offered) {
      if (f.format == c.format) {
        is_offered = true;
        EXPECT_EQ(f.colorSpace, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR);
      }
    }
    // lavapipe 25.0.7 exports each LINEAR and weston 14's GL renderer lists each fourcc LINEAR (syncfile-wsi-info).
    EXPECT_TRUE(is_offered) << "not offered through the layer";
    if (!is_offered) continue;
    std::vector<Rgb> pixels;
    ASSERT_NO_FATAL_FAILURE(run_format(c, &pixels));
    ASSERT_FALSE(pixels.empty());
    const double tolerance = step(c.format) * 1.01;
    for (const Rgb &p : pixels) {
      EXPECT_NEAR(p.r, kColour.r, tolerance) << "red";
      EXPECT_NEAR(p.g, kColour.g, tolerance) << "green";
      EXPECT_NEAR(p.b, kColour.b, tolerance) << "blue";
    }
  }
  // The buffers were announced with each format's DRM fourcc (create or create_immed's third argument).
  const std::string log = capture_->stop();
  for (const FormatCase &c : kCases) {
    const std::string needle = ", " + std::to_string(c.fourcc) + ", ";
    bool found = false;
    for (size_t at = log.find("zwp_linux_buffer_params_v1"); at != std::string::npos && !found;
         at = log.find("zwp_linux_buffer_params_v1", at + 1)) {
      size_t end = log.find('\n', at);
      std::string line = log.substr(at, end - at);
      found = (line.find(".create(") != std::string::npos || line.find(".create_immed(") != std::string::npos) &&
              line.find(needle) != std::string::npos;
    }
    EXPECT_TRUE(found) << c.name << ": no zwp_linux_buffer_params_v1.create with fourcc " << c.fourcc;
  }
}

} // namespace
