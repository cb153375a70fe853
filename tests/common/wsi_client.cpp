#include "wsi_client.hpp"

#include <algorithm>

namespace sfw::test {

const char *result_name(VkResult result) {
  switch (result) {
#define R(x) case x: return #x;
    R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_SUBOPTIMAL_KHR) R(VK_ERROR_OUT_OF_DATE_KHR)
    R(VK_ERROR_SURFACE_LOST_KHR) R(VK_ERROR_DEVICE_LOST) R(VK_ERROR_OUT_OF_HOST_MEMORY)
    R(VK_ERROR_OUT_OF_DEVICE_MEMORY) R(VK_ERROR_INITIALIZATION_FAILED) R(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
    R(VK_ERROR_EXTENSION_NOT_PRESENT) R(VK_ERROR_LAYER_NOT_PRESENT) R(VK_ERROR_INCOMPATIBLE_DRIVER)
#undef R
  default: return "VkResult(other)";
  }
}

std::string Status::describe() const {
  switch (problem) {
  case Problem::none: return "ok";
  case Problem::vulkan_call: return std::string(call) + " returned " + result_name(result) + " (" + std::to_string(result) + ")";
  case Problem::wayland_globals_missing: return "no wl_compositor or xdg_wm_base";
  case Problem::window_not_configured: return "the compositor did not configure the surface";
  case Problem::no_presenting_device: return "no device can present to the surface";
  case Problem::no_surface_format: return "the surface offers no format";
  case Problem::present_mode_not_offered: return "the present mode is not offered";
  case Problem::usage_not_supported: return "the swapchain images do not support the usage asked for";
  }
  return "?";
}

void destroy_debug_messenger(VkInstance instance, VkDebugUtilsMessengerEXT messenger, const VkAllocationCallbacks *allocator) {
  auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
  if (destroy != nullptr) destroy(instance, messenger, allocator);
}

Status create_instance(const InstanceOptions &options, Instance &out) {
  out.reset();
  std::vector<const char *> extensions = {VK_KHR_SURFACE_EXTENSION_NAME, VK_KHR_WAYLAND_SURFACE_EXTENSION_NAME};
  if (options.debug_messenger != nullptr) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  extensions.insert(extensions.end(), options.extensions.begin(), options.extensions.end());
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = options.app_name;
  app.apiVersion = options.api_version;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pNext = options.debug_messenger;
  info.pApplicationInfo = &app;
  info.enabledLayerCount = static_cast<uint32_t>(options.layers.size());
  info.ppEnabledLayerNames = options.layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkInstance instance = VK_NULL_HANDLE;
  if (VkResult r = vkCreateInstance(&info, nullptr, &instance); r != VK_SUCCESS) return Status::failed("vkCreateInstance", r);
  out.handle = UniqueInstance(nullptr, instance);
  if (options.debug_messenger != nullptr) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    if (create == nullptr) return Status::failed("vkGetInstanceProcAddr(vkCreateDebugUtilsMessengerEXT)", VK_ERROR_EXTENSION_NOT_PRESENT);
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    if (VkResult r = create(instance, options.debug_messenger, nullptr, &messenger); r != VK_SUCCESS)
      return Status::failed("vkCreateDebugUtilsMessengerEXT", r);
    out.messenger = UniqueDebugMessenger(instance, messenger);
  }
  return {};
}

Status create_wayland_surface(VkInstance instance, wl_display *display, wl_surface *surface, UniqueSurface &out) {
  out.reset();
  VkWaylandSurfaceCreateInfoKHR info{VK_STRUCTURE_TYPE_WAYLAND_SURFACE_CREATE_INFO_KHR};
  info.display = display;
  info.surface = surface;
  VkSurfaceKHR handle = VK_NULL_HANDLE;
  if (VkResult r = vkCreateWaylandSurfaceKHR(instance, &info, nullptr, &handle); r != VK_SUCCESS)
    return Status::failed("vkCreateWaylandSurfaceKHR", r);
  out = UniqueSurface(instance, handle);
  return {};
}

Status find_presenting_queue(VkInstance instance, wl_display *display, VkSurfaceKHR surface, PresentingQueue &out) {
  uint32_t count = 0;
  if (VkResult r = vkEnumeratePhysicalDevices(instance, &count, nullptr); r != VK_SUCCESS)
    return Status::failed("vkEnumeratePhysicalDevices", r);
  std::vector<VkPhysicalDevice> devices(count);
  if (VkResult r = vkEnumeratePhysicalDevices(instance, &count, devices.data()); r < VK_SUCCESS)
    return Status::failed("vkEnumeratePhysicalDevices", r);
  for (VkPhysicalDevice device : devices) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, families.data());
    for (uint32_t family = 0; family < n; ++family) {
      VkBool32 presents = VK_FALSE;
      if ((families[family].queueFlags & VK_QUEUE_GRAPHICS_BIT) &&
          vkGetPhysicalDeviceWaylandPresentationSupportKHR(device, family, display) &&
          vkGetPhysicalDeviceSurfaceSupportKHR(device, family, surface, &presents) == VK_SUCCESS && presents) {
        out = {device, family};
        return {};
      }
    }
  }
  return {Status::Problem::no_presenting_device};
}

Status create_device(const PresentingQueue &where, const DeviceOptions &options, Device &out) {
  out = {};
  std::vector<const char *> extensions = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  extensions.insert(extensions.end(), options.extensions.begin(), options.extensions.end());
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue.queueFamilyIndex = where.family;
  queue.queueCount = 1;
  queue.pQueuePriorities = &priority;
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  info.pNext = options.next;
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkDevice device = VK_NULL_HANDLE;
  if (VkResult r = vkCreateDevice(where.physical, &info, options.allocator, &device); r != VK_SUCCESS)
    return Status::failed("vkCreateDevice", r);
  out.handle = UniqueDevice(nullptr, device, options.allocator);
  out.physical = where.physical;
  out.family = where.family;
  vkGetDeviceQueue(device, where.family, 0, &out.queue);
  return {};
}

Status create_swapchain(VkPhysicalDevice physical, VkDevice device, VkSurfaceKHR surface, const SwapchainOptions &options,
                        Swapchain &out) {
  out = {};
  VkSurfaceCapabilitiesKHR caps;
  if (VkResult r = vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical, surface, &caps); r != VK_SUCCESS)
    return Status::failed("vkGetPhysicalDeviceSurfaceCapabilitiesKHR", r);
  uint32_t n = 0;
  if (VkResult r = vkGetPhysicalDeviceSurfaceFormatsKHR(physical, surface, &n, nullptr); r != VK_SUCCESS)
    return Status::failed("vkGetPhysicalDeviceSurfaceFormatsKHR", r);
  std::vector<VkSurfaceFormatKHR> formats(n);
  if (VkResult r = vkGetPhysicalDeviceSurfaceFormatsKHR(physical, surface, &n, formats.data()); r < VK_SUCCESS)
    return Status::failed("vkGetPhysicalDeviceSurfaceFormatsKHR", r);
  if (n == 0) return {Status::Problem::no_surface_format};
  VkSurfaceFormatKHR format = formats[0];
  for (const VkSurfaceFormatKHR &f : formats)
    if (f.format == options.format) format = f;
  if (VkResult r = vkGetPhysicalDeviceSurfacePresentModesKHR(physical, surface, &n, nullptr); r != VK_SUCCESS)
    return Status::failed("vkGetPhysicalDeviceSurfacePresentModesKHR", r);
  std::vector<VkPresentModeKHR> modes(n);
  if (VkResult r = vkGetPhysicalDeviceSurfacePresentModesKHR(physical, surface, &n, modes.data()); r < VK_SUCCESS)
    return Status::failed("vkGetPhysicalDeviceSurfacePresentModesKHR", r);
  if (std::find(modes.begin(), modes.end(), options.present_mode) == modes.end())
    return {Status::Problem::present_mode_not_offered};
  if ((caps.supportedUsageFlags & options.usage) != options.usage) return {Status::Problem::usage_not_supported};

  VkExtent2D extent = caps.currentExtent;
  if (extent.width == 0xFFFFFFFFu)
    extent = {std::clamp(options.extent.width, caps.minImageExtent.width, caps.maxImageExtent.width),
              std::clamp(options.extent.height, caps.minImageExtent.height, caps.maxImageExtent.height)};
  VkSwapchainCreateInfoKHR info{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, options.next};
  info.surface = surface;
  info.minImageCount = caps.minImageCount + options.extra_images;
  if (caps.maxImageCount != 0) info.minImageCount = std::min(info.minImageCount, caps.maxImageCount);
  info.imageFormat = format.format;
  info.imageColorSpace = format.colorSpace;
  info.imageExtent = extent;
  info.imageArrayLayers = 1;
  info.imageUsage = options.usage;
  info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  info.preTransform = VK_SURFACE_TRANSFORM_IDENTITY_BIT_KHR;
  // Opaque where offered, else the lowest bit offered.
  info.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                            ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                            : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha & -caps.supportedCompositeAlpha);
  info.presentMode = options.present_mode;
  info.clipped = VK_TRUE;
  info.oldSwapchain = options.old_swapchain;
  VkSwapchainKHR handle = VK_NULL_HANDLE;
  if (VkResult r = vkCreateSwapchainKHR(device, &info, options.allocator, &handle); r != VK_SUCCESS)
    return Status::failed("vkCreateSwapchainKHR", r);
  UniqueSwapchain owner(device, handle, options.allocator);
  if (VkResult r = vkGetSwapchainImagesKHR(device, handle, &n, nullptr); r != VK_SUCCESS)
    return Status::failed("vkGetSwapchainImagesKHR", r);
  std::vector<VkImage> images(n);
  if (VkResult r = vkGetSwapchainImagesKHR(device, handle, &n, images.data()); r < VK_SUCCESS)
    return Status::failed("vkGetSwapchainImagesKHR", r);
  out.handle = std::move(owner);
  out.format = format;
  out.extent = extent;
  out.images = std::move(images);
  return {};
}

// ---- WsiClient --------------------------------------------------------------------------------------

namespace {

// Creates one object of `device` with `create` and hands it to `out`.
template <class Handle, class Info, class Owner>
VkResult create_owned(VkDevice device, VkResult (*create)(VkDevice, const Info *, const VkAllocationCallbacks *, Handle *),
                      const Info &info, Owner &out) {
  Handle handle = VK_NULL_HANDLE;
  VkResult r = create(device, &info, nullptr, &handle);
  if (r == VK_SUCCESS) out = Owner(device, handle);
  return r;
}

} // namespace

Status WsiClient::connect(wl_display *display) {
  if (!wayland.adopt(display)) return {Status::Problem::wayland_globals_missing};
  window.create(wayland, "syncfile-wsi test");
  if (!wait_configured(wayland.display(), {&window, 1})) return {Status::Problem::window_not_configured};
  return {};
}

Status WsiClient::create_instance(const InstanceOptions &options) {
  if (Status s = sfw::test::create_instance(options, instance); !s) return s;
  return create_wayland_surface(instance.get(), wayland.display(), window.surface(), surface);
}

Status WsiClient::create_device(const DeviceOptions &options) {
  PresentingQueue where;
  if (Status s = find_presenting_queue(instance.get(), wayland.display(), surface.get(), where); !s) return s;
  return sfw::test::create_device(where, options, device);
}

Status WsiClient::create_swapchain(const SwapchainOptions &options) {
  if (Status s = sfw::test::create_swapchain(device.physical, device.get(), surface.get(), options, swapchain); !s) return s;
  const VkDevice dev = device.get();
  const size_t n = swapchain.images.size();
  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.queueFamilyIndex = device.family;
  if (VkResult r = create_owned(dev, vkCreateCommandPool, pool_info, pool); r != VK_SUCCESS)
    return Status::failed("vkCreateCommandPool", r);
  cmds.assign(n, VK_NULL_HANDLE);
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = pool.get();
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = static_cast<uint32_t>(n);
  if (VkResult r = vkAllocateCommandBuffers(dev, &alloc, cmds.data()); r != VK_SUCCESS)
    return Status::failed("vkAllocateCommandBuffers", r);
  for (size_t i = 0; i < n; ++i) {
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (VkResult r = vkBeginCommandBuffer(cmds[i], &begin); r != VK_SUCCESS) return Status::failed("vkBeginCommandBuffer", r);
    VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    barrier.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    barrier.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    barrier.srcQueueFamilyIndex = barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    barrier.image = swapchain.images[i];
    barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmds[i], VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1,
                         &barrier);
    VkClearColorValue colour{};
    colour.float32[0] = (i & 1) ? 1.0f : 0.0f;
    colour.float32[1] = (i & 2) ? 1.0f : 0.0f;
    colour.float32[2] = 0.5f;
    colour.float32[3] = 1.0f;
    vkCmdClearColorImage(cmds[i], swapchain.images[i], VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &colour, 1, &barrier.subresourceRange);
    barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = 0;
    barrier.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    barrier.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    vkCmdPipelineBarrier(cmds[i], VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0, nullptr,
                         1, &barrier);
    if (VkResult r = vkEndCommandBuffer(cmds[i]); r != VK_SUCCESS) return Status::failed("vkEndCommandBuffer", r);
  }
  const VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  const VkFenceCreateInfo fence{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  render_done.resize(n);
  for (UniqueSemaphore &s : render_done)
    if (VkResult r = create_owned(dev, vkCreateSemaphore, semaphore, s); r != VK_SUCCESS) return Status::failed("vkCreateSemaphore", r);
  if (VkResult r = create_owned(dev, vkCreateSemaphore, semaphore, acquired); r != VK_SUCCESS)
    return Status::failed("vkCreateSemaphore", r);
  if (VkResult r = create_owned(dev, vkCreateFence, fence, acquire_fence); r != VK_SUCCESS) return Status::failed("vkCreateFence", r);
  if (VkResult r = create_owned(dev, vkCreateFence, fence, frame_fence); r != VK_SUCCESS) return Status::failed("vkCreateFence", r);
  return {};
}

Status WsiClient::init(wl_display *display, const Options &options) {
  Status s = connect(display);
  if (s) s = create_instance(options.instance);
  if (s) s = create_device(options.device);
  if (s) s = create_swapchain(options.swapchain);
  return s;
}

void WsiClient::destroy_swapchain() {
  if (device.get() != VK_NULL_HANDLE) vkDeviceWaitIdle(device.get());
  frame_fence.reset();
  acquire_fence.reset();
  acquired.reset();
  render_done.clear();
  cmds.clear();
  pool.reset();
  swapchain = {};
}

void WsiClient::destroy() {
  destroy_swapchain();
  device = {};
  surface.reset();
  instance.reset();
  window.reset();
  wayland.reset();
}

VkResult WsiClient::acquire(VkFence fence, uint32_t *index, uint64_t timeout) {
  wl_display_dispatch_pending(wayland.display());
  return vkAcquireNextImageKHR(device.get(), swapchain.get(), timeout, acquired.get(), fence, index);
}

VkResult WsiClient::wait_and_reset(VkFence fence) {
  if (VkResult r = vkWaitForFences(device.get(), 1, &fence, VK_TRUE, kWaitBound); r != VK_SUCCESS) return r;
  return vkResetFences(device.get(), 1, &fence);
}

VkResult WsiClient::render(uint32_t index, VkFence fence) {
  const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  const VkSemaphore wait = acquired.get(), signal = render_done[index].get();
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.waitSemaphoreCount = 1;
  submit.pWaitSemaphores = &wait;
  submit.pWaitDstStageMask = &stage;
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmds[index];
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &signal;
  return vkQueueSubmit(device.queue, 1, &submit, fence);
}

VkResult WsiClient::present(uint32_t index) {
  const VkSemaphore wait = render_done[index].get();
  const VkSwapchainKHR chain = swapchain.get();
  VkPresentInfoKHR info{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  info.waitSemaphoreCount = 1;
  info.pWaitSemaphores = &wait;
  info.swapchainCount = 1;
  info.pSwapchains = &chain;
  info.pImageIndices = &index;
  return vkQueuePresentKHR(device.queue, &info);
}

VkResult WsiClient::frame(uint32_t *index) {
  VkResult acquired_result = acquire(acquire_fence.get(), index);
  if (acquired_result != VK_SUCCESS && acquired_result != VK_SUBOPTIMAL_KHR) return acquired_result;
  if (*index >= render_done.size()) return VK_ERROR_UNKNOWN; // not one of the swapchain's images
  if (VkResult r = wait_and_reset(acquire_fence.get()); r != VK_SUCCESS) return r;
  if (VkResult r = render(*index, frame_fence.get()); r != VK_SUCCESS) return r;
  VkResult presented = present(*index);
  if (presented != VK_SUCCESS && presented != VK_SUBOPTIMAL_KHR) return presented;
  if (VkResult r = wait_and_reset(frame_fence.get()); r != VK_SUCCESS) return r;
  return acquired_result == VK_SUBOPTIMAL_KHR ? acquired_result : presented;
}

} // namespace sfw::test
