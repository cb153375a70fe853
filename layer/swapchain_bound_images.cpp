// Images the app binds to swapchain memory (device groups): VkImageSwapchainCreateInfoKHR in
// vkCreateImage (and in the maintenance4 requirement queries, which take the same create info) and
// VkBindImageMemorySwapchainInfoKHR in vkBindImageMemory2. For a layer swapchain
// the structure is taken out of the chain (the driver must never see a layer handle) and replaced
// by what the layer's images are: exportable dma-buf memory with the same tiling, bound to the
// swapchain image's dma-buf imported again as memory dedicated to the app's image.
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

// A VkImageCreateInfo with VkImageSwapchainCreateInfoKHR naming a layer swapchain, as the driver must see it:
// without the layer handle, and described as the layer's images are (exportable dma-buf memory, the same
// tiling). `info` then points at the rewritten copy; otherwise it is the app's, untouched.
struct SwapchainImageInfo {
  const VkImageCreateInfo *info = nullptr;
  VkImageCreateInfo copy{};
  VkExternalMemoryImageCreateInfo external{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO};
  VkImageDrmFormatModifierListCreateInfoEXT modifiers{VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_LIST_CREATE_INFO_EXT};
  uint64_t modifier = 0;

  SwapchainImageInfo() = default;
  SwapchainImageInfo(const SwapchainImageInfo &) = delete; // points into itself
  SwapchainImageInfo &operator=(const SwapchainImageInfo &) = delete;
};

// VK_SUCCESS with `out->info` set, or the error the entry point returns.
VkResult as_driver_sees_it(DeviceState &dev, const char *call, const VkImageCreateInfo *info, SwapchainImageInfo *out) noexcept {
  out->info = info;
  const void *rest = nullptr;
  bool first = false;
  auto *link = find_in_chain<VkImageSwapchainCreateInfoKHR>(info->pNext, VK_STRUCTURE_TYPE_IMAGE_SWAPCHAIN_CREATE_INFO_KHR,
                                                            &rest, &first);
  std::shared_ptr<LayerSwapchain> sc = link != nullptr ? dev.layer_swapchain(link->swapchain) : nullptr;
  if (!sc) return VK_SUCCESS;
  if (!first) {
    SFW_LOG_ONCE(LogLevel::error, "%s: VkImageSwapchainCreateInfoKHR must come first in pNext for a layer swapchain", call);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  const bool modifier_tiling = sc->engine->modifier_tiling();
  out->modifier = sc->engine->modifier();
  out->modifiers.pNext = rest;
  out->modifiers.drmFormatModifierCount = 1;
  out->modifiers.pDrmFormatModifiers = &out->modifier;
  out->external.pNext = modifier_tiling ? static_cast<const void *>(&out->modifiers) : rest;
  out->external.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  out->copy = *info;
  out->copy.pNext = &out->external;
  out->copy.tiling = modifier_tiling ? VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT : VK_IMAGE_TILING_LINEAR;
  out->info = &out->copy;
  return VK_SUCCESS;
}
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkCreateImage(VkDevice device, const VkImageCreateInfo *info,
                                             const VkAllocationCallbacks *allocator, VkImage *image) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_OUT_OF_HOST_MEMORY;
  SwapchainImageInfo seen;
  if (VkResult r = as_driver_sees_it(*dev, "vkCreateImage", info, &seen); r != VK_SUCCESS) return r;
  return dev->dispatch.CreateImage(device, seen.info, allocator, image);
}

// The maintenance4 queries take the same create info: a layer swapchain in it is rewritten as for vkCreateImage.
// They return nothing: where the chain cannot be rewritten they answer zero requirements.
template <auto Slot>
static void device_image_memory_requirements(VkDevice device, const VkDeviceImageMemoryRequirements *query,
                                             VkMemoryRequirements2 *out) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return;
  SwapchainImageInfo seen;
  if (as_driver_sees_it(*dev, "vkGetDeviceImageMemoryRequirements", query->pCreateInfo, &seen) != VK_SUCCESS) {
    out->memoryRequirements = {};
    return;
  }
  VkDeviceImageMemoryRequirements copy = *query;
  copy.pCreateInfo = seen.info;
  (dev->dispatch.*Slot)(device, &copy, out);
}

template <auto Slot>
static void device_image_sparse_requirements(VkDevice device, const VkDeviceImageMemoryRequirements *query, uint32_t *count,
                                             VkSparseImageMemoryRequirements2 *out) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return;
  SwapchainImageInfo seen;
  if (as_driver_sees_it(*dev, "vkGetDeviceImageSparseMemoryRequirements", query->pCreateInfo, &seen) != VK_SUCCESS) {
    *count = 0;
    return;
  }
  VkDeviceImageMemoryRequirements copy = *query;
  copy.pCreateInfo = seen.info;
  (dev->dispatch.*Slot)(device, &copy, count, out);
}

VKAPI_ATTR void VKAPI_CALL vkGetDeviceImageMemoryRequirements(VkDevice device, const VkDeviceImageMemoryRequirements *query,
                                                              VkMemoryRequirements2 *out) noexcept {
  device_image_memory_requirements<&DeviceDispatch::GetDeviceImageMemoryRequirements>(device, query, out);
}
VKAPI_ATTR void VKAPI_CALL vkGetDeviceImageMemoryRequirementsKHR(VkDevice device, const VkDeviceImageMemoryRequirements *query,
                                                                 VkMemoryRequirements2 *out) noexcept {
  device_image_memory_requirements<&DeviceDispatch::GetDeviceImageMemoryRequirementsKHR>(device, query, out);
}
VKAPI_ATTR void VKAPI_CALL vkGetDeviceImageSparseMemoryRequirements(VkDevice device, const VkDeviceImageMemoryRequirements *query,
                                                                    uint32_t *count, VkSparseImageMemoryRequirements2 *out) noexcept {
  device_image_sparse_requirements<&DeviceDispatch::GetDeviceImageSparseMemoryRequirements>(device, query, count, out);
}
VKAPI_ATTR void VKAPI_CALL vkGetDeviceImageSparseMemoryRequirementsKHR(VkDevice device, const VkDeviceImageMemoryRequirements *query,
                                                                       uint32_t *count, VkSparseImageMemoryRequirements2 *out) noexcept {
  device_image_sparse_requirements<&DeviceDispatch::GetDeviceImageSparseMemoryRequirementsKHR>(device, query, count, out);
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
      VkResult result = sc->engine->alias_memory(link->imageIndex, binds[i].image, &copy[i].memory);
      if (result != VK_SUCCESS) return result;
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
