// Bench helper, not product code: a minimal Vulkan + Wayland client for bench/oversync_bench and
// bench/present_bench. It connects to $WAYLAND_DISPLAY (weston started by the calling script), maps an
// xdg_toplevel (tests/wayland/weston.hpp's App), and makes an instance, a device, a swapchain of small
// B8G8R8A8 images and one pre-recorded command buffer per image (clear, then to PRESENT_SRC). Whatever
// layers VK_LAYER_PATH / VK_INSTANCE_LAYERS name are loaded by the loader as usual.
#pragma once

#include "weston.hpp" // sfw::test::App

#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define BENCH_CHECK(x)                                                                           \
  do {                                                                                           \
    VkResult r_ = (x);                                                                           \
    if (r_ != VK_SUCCESS) {                                                                      \
      fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #x, static_cast<int>(r_));         \
      exit(1);                                                                                   \
    }                                                                                            \
  } while (0)

namespace sfw::bench {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kBound = 5'000'000'000; // 5 s

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Client {
  sfw::test::App app;
  VkInstance instance = VK_NULL_HANDLE;
  VkSurfaceKHR surface = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props{};
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  VkSwapchainKHR swapchain = VK_NULL_HANDLE;
  std::vector<VkImage> images;
  VkCommandPool pool = VK_NULL_HANDLE;
  std::vector<VkCommandBuffer> cmds;
  std::vector<VkSemaphore> render_done; // per image
  VkSemaphore acquired = VK_NULL_HANDLE;
  VkFence acquire_fence = VK_NULL_HANDLE;
  VkFence frame_fence = VK_NULL_HANDLE;

  void init(VkPresentModeKHR mode, uint32_t size, uint32_t extra_images) {
    wl_display *display = wl_display_connect(nullptr);
    if (display == nullptr) {
      fprintf(stderr, "bench: cannot connect to WAYLAND_DISPLAY\n");
      exit(1);
    }
    if (!app.init(display, /*with_toplevel=*/true)) {
      fprintf(stderr, "bench: no wl_compositor/xdg_wm_base\n");
      exit(1);
    }
    const char *extensions[] = {VK_KHR_SURFACE_EXTENSION_NAME, VK_KHR_WAYLAND_SURFACE_EXTENSION_NAME};
    VkApplicationInfo ai{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    ai.pApplicationName = "syncfile-wsi bench";
    ai.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ii.pApplicationInfo = &ai;
    ii.enabledExtensionCount = 2;
    ii.ppEnabledExtensionNames = extensions;
    BENCH_CHECK(vkCreateInstance(&ii, nullptr, &instance));
    VkWaylandSurfaceCreateInfoKHR si{VK_STRUCTURE_TYPE_WAYLAND_SURFACE_CREATE_INFO_KHR};
    si.display = app.display;
    si.surface = app.surface;
    BENCH_CHECK(vkCreateWaylandSurfaceKHR(instance, &si, nullptr, &surface));

    uint32_t count = 0;
    BENCH_CHECK(vkEnumeratePhysicalDevices(instance, &count, nullptr));
    std::vector<VkPhysicalDevice> devices(count);
    BENCH_CHECK(vkEnumeratePhysicalDevices(instance, &count, devices.data()));
    for (VkPhysicalDevice d : devices) {
      VkBool32 ok = VK_FALSE;
      if (vkGetPhysicalDeviceSurfaceSupportKHR(d, 0, surface, &ok) == VK_SUCCESS && ok) {
        physical = d;
        break;
      }
    }
    if (physical == VK_NULL_HANDLE) {
      fprintf(stderr, "bench: no device presents to the surface\n");
      exit(1);
    }
    vkGetPhysicalDeviceProperties(physical, &props);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = 0;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    const char *dev_ext[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    di.enabledExtensionCount = 1;
    di.ppEnabledExtensionNames = dev_ext;
    BENCH_CHECK(vkCreateDevice(physical, &di, nullptr, &device));
    vkGetDeviceQueue(device, 0, 0, &queue);

    VkSurfaceCapabilitiesKHR caps;
    BENCH_CHECK(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical, surface, &caps));
    uint32_t n_modes = 0;
    BENCH_CHECK(vkGetPhysicalDeviceSurfacePresentModesKHR(physical, surface, &n_modes, nullptr));
    std::vector<VkPresentModeKHR> modes(n_modes);
    BENCH_CHECK(vkGetPhysicalDeviceSurfacePresentModesKHR(physical, surface, &n_modes, modes.data()));
    bool have = false;
    for (VkPresentModeKHR m : modes) have |= m == mode;
    if (!have) {
      fprintf(stderr, "bench: present mode %d not offered\n", static_cast<int>(mode));
      exit(1);
    }
    VkSwapchainCreateInfoKHR ci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    ci.surface = surface;
    ci.minImageCount = caps.minImageCount + extra_images;
    if (caps.maxImageCount != 0 && ci.minImageCount > caps.maxImageCount) ci.minImageCount = caps.maxImageCount;
    ci.imageFormat = VK_FORMAT_B8G8R8A8_UNORM;
    ci.imageColorSpace = VK_COLOR_SPACE_SRGB_NONLINEAR_KHR;
    ci.imageExtent = {size, size};
    ci.imageArrayLayers = 1;
    ci.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
    ci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ci.preTransform = VK_SURFACE_TRANSFORM_IDENTITY_BIT_KHR;
    ci.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                            ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                            : VK_COMPOSITE_ALPHA_PRE_MULTIPLIED_BIT_KHR;
    ci.presentMode = mode;
    ci.clipped = VK_TRUE;
    BENCH_CHECK(vkCreateSwapchainKHR(device, &ci, nullptr, &swapchain));
    BENCH_CHECK(vkGetSwapchainImagesKHR(device, swapchain, &count, nullptr));
    images.resize(count);
    BENCH_CHECK(vkGetSwapchainImagesKHR(device, swapchain, &count, images.data()));

    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.queueFamilyIndex = 0;
    BENCH_CHECK(vkCreateCommandPool(device, &pi, nullptr, &pool));
    cmds.resize(images.size());
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = pool;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = static_cast<uint32_t>(cmds.size());
    BENCH_CHECK(vkAllocateCommandBuffers(device, &alloc, cmds.data()));
    for (size_t i = 0; i < cmds.size(); ++i) {
      VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      BENCH_CHECK(vkBeginCommandBuffer(cmds[i], &begin));
      VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
      b.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
      b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
      b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      b.image = images[i];
      b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
      vkCmdPipelineBarrier(cmds[i], VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
      VkClearColorValue colour{};
      colour.float32[0] = (i & 1) ? 1.0f : 0.0f;
      colour.float32[1] = (i & 2) ? 1.0f : 0.0f;
      colour.float32[2] = 0.5f;
      colour.float32[3] = 1.0f;
      vkCmdClearColorImage(cmds[i], images[i], VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &colour, 1, &b.subresourceRange);
      b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      b.dstAccessMask = 0;
      b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
      b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
      vkCmdPipelineBarrier(cmds[i], VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0, nullptr,
                           1, &b);
      BENCH_CHECK(vkEndCommandBuffer(cmds[i]));
    }
    VkSemaphoreCreateInfo sem{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    render_done.resize(images.size());
    for (VkSemaphore &s : render_done) BENCH_CHECK(vkCreateSemaphore(device, &sem, nullptr, &s));
    BENCH_CHECK(vkCreateSemaphore(device, &sem, nullptr, &acquired));
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    BENCH_CHECK(vkCreateFence(device, &fi, nullptr, &acquire_fence));
    BENCH_CHECK(vkCreateFence(device, &fi, nullptr, &frame_fence));
  }

  void destroy() {
    if (device) {
      vkDeviceWaitIdle(device);
      for (VkSemaphore s : render_done) vkDestroySemaphore(device, s, nullptr);
      vkDestroySemaphore(device, acquired, nullptr);
      vkDestroyFence(device, acquire_fence, nullptr);
      vkDestroyFence(device, frame_fence, nullptr);
      vkDestroyCommandPool(device, pool, nullptr);
      vkDestroySwapchainKHR(device, swapchain, nullptr);
      vkDestroyDevice(device, nullptr);
    }
    if (surface) vkDestroySurfaceKHR(instance, surface, nullptr);
    if (instance) vkDestroyInstance(instance, nullptr);
    app.destroy();
  }

  // The pieces of one frame.
  uint32_t acquire(VkFence fence) {
    wl_display_dispatch_pending(app.display);
    uint32_t index = 0;
    VkResult r = vkAcquireNextImageKHR(device, swapchain, kBound, acquired, fence, &index);
    if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) BENCH_CHECK(r);
    return index;
  }
  void wait_fence(VkFence f) {
    BENCH_CHECK(vkWaitForFences(device, 1, &f, VK_TRUE, kBound));
    BENCH_CHECK(vkResetFences(device, 1, &f));
  }
  void render(uint32_t index, VkFence fence) {
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo s{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    s.waitSemaphoreCount = 1;
    s.pWaitSemaphores = &acquired;
    s.pWaitDstStageMask = &stage;
    s.commandBufferCount = 1;
    s.pCommandBuffers = &cmds[index];
    s.signalSemaphoreCount = 1;
    s.pSignalSemaphores = &render_done[index];
    BENCH_CHECK(vkQueueSubmit(queue, 1, &s, fence));
  }
  VkResult present(uint32_t index) {
    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &render_done[index];
    pi.swapchainCount = 1;
    pi.pSwapchains = &swapchain;
    pi.pImageIndices = &index;
    return vkQueuePresentKHR(queue, &pi);
  }
  // A whole ordinary frame; returns the presented index.
  uint32_t frame() {
    uint32_t index = acquire(acquire_fence);
    wait_fence(acquire_fence);
    render(index, frame_fence);
    VkResult r = present(index);
    if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) BENCH_CHECK(r);
    wait_fence(frame_fence);
    return index;
  }
};

} // namespace sfw::bench
