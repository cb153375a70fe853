// Images the app binds to swapchain memory (device groups): VkImageSwapchainCreateInfoKHR in
// vkCreateImage and VkBindImageMemorySwapchainInfoKHR in vkBindImageMemory2. For a layer swapchain
// the structure is taken out of the chain (the driver must never see a layer handle) and replaced
// by what the layer's images are: exportable dma-buf memory with the same tiling, bound to the
// swapchain image's own memory.
#include <new>
#include <vector>

#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
// Finds `type` in a pNext chain; where it is the first link, `*rest` is what follows it.
template <typename T>
const T *find_in_chain(const void *chain, VkStructureType type, const void **rest, bool *first) {
  *first = true;
  for (auto *s = static_cast<const VkBaseInStructure *>(chain); s != nullptr; s = s->pNext, *first = false)
    if (s->sType == type) {
      *rest = s->pNext;
      return reinterpret_cast<const T *>(s);
    }
  return nullptr;
}
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkCreateImage(VkDevice device, const VkImageCreateInfo *info,
                                             const VkAllocationCallbacks *allocator, VkImage *image) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_OUT_OF_HOST_MEMORY;
  const void *rest = nullptr;
  bool first = false;
  auto *link = find_in_chain<VkImageSwapchainCreateInfoKHR>(info->pNext, VK_STRUCTURE_TYPE_IMAGE_SWAPCHAIN_CREATE_INFO_KHR,
                                                            &rest, &first);
  std::shared_ptr<LayerSwapchain> sc;
  try {
    if (link != nullptr) sc = dev->layer_swapchain(link->swapchain);
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  if (!sc) return dev->dispatch.CreateImage(device, info, allocator, image);
  if (!first) {
    SFW_LOG_ONCE(LogLevel::error, "vkCreateImage: VkImageSwapchainCreateInfoKHR must come first in pNext for a layer swapchain");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  uint64_t modifier = sc->engine->modifier();
  VkImageDrmFormatModifierListCreateInfoEXT modifiers{VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_LIST_CREATE_INFO_EXT};
  modifiers.pNext = rest;
  modifiers.drmFormatModifierCount = 1;
  modifiers.pDrmFormatModifiers = &modifier;
  VkExternalMemoryImageCreateInfo external{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO};
  external.pNext = sc->engine->modifier_tiling() ? static_cast<const void *>(&modifiers) : rest;
  external.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  VkImageCreateInfo copy = *info;
  copy.pNext = &external;
  copy.tiling = sc->engine->modifier_tiling() ? VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT : VK_IMAGE_TILING_LINEAR;
  return dev->dispatch.CreateImage(device, &copy, allocator, image);
}

static VkResult bind_image_memory2(VkDevice device, uint32_t count, const VkBindImageMemoryInfo *binds,
                                   PFN_vkBindImageMemory2 DeviceDispatch::*next) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_OUT_OF_HOST_MEMORY;
  try {
    std::vector<VkBindImageMemoryInfo> copy;
    for (uint32_t i = 0; i < count; ++i) {
      const void *rest = nullptr;
      bool first = false;
      auto *link = find_in_chain<VkBindImageMemorySwapchainInfoKHR>(
          binds[i].pNext, VK_STRUCTURE_TYPE_BIND_IMAGE_MEMORY_SWAPCHAIN_INFO_KHR, &rest, &first);
      std::shared_ptr<LayerSwapchain> sc = link ? dev->layer_swapchain(link->swapchain) : nullptr;
      if (!sc) continue;
      if (!first) {
        SFW_LOG_ONCE(LogLevel::error, "vkBindImageMemory2: VkBindImageMemorySwapchainInfoKHR must come first in pNext");
        return VK_ERROR_OUT_OF_HOST_MEMORY;
      }
      if (copy.empty()) copy.assign(binds, binds + count);
      copy[i].pNext = rest;
      copy[i].memory = sc->engine->image_memory(link->imageIndex);
      copy[i].memoryOffset = 0;
    }
    return (dev->dispatch.*next)(device, count, copy.empty() ? binds : copy.data());
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VKAPI_ATTR VkResult VKAPI_CALL vkBindImageMemory2(VkDevice device, uint32_t count, const VkBindImageMemoryInfo *binds) noexcept {
  return bind_image_memory2(device, count, binds, &DeviceDispatch::BindImageMemory2);
}

VKAPI_ATTR VkResult VKAPI_CALL vkBindImageMemory2KHR(VkDevice device, uint32_t count, const VkBindImageMemoryInfo *binds) noexcept {
  return bind_image_memory2(device, count, binds, &DeviceDispatch::BindImageMemory2KHR);
}

} // namespace sfw::layer
