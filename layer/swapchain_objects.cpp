// Debug names, tags and private data on swapchains: a layer handle never reaches the driver, so
// the layer answers for its own swapchains (names are kept for logs, private data per slot).
#include <new>

#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
std::shared_ptr<LayerSwapchain> layer_object(DeviceState &dev, bool is_swapchain, uint64_t handle) {
  if (!is_swapchain) return nullptr;
  return dev.layer_swapchain(reinterpret_cast<VkSwapchainKHR>(handle));
}

// The next layer's entry point for a command of an instance extension (VK_EXT_debug_utils, debug_marker).
// Seen with loader 1.3.239 under mpv (libplacebo): the slot loaded at vkCreateDevice was NULL although
// GetDeviceProcAddr answers the same name later, and calling it crashed the release build. So a NULL slot is
// asked again at call time; NULL then means the command does not exist below, and naming is optional.
template <typename Pfn> Pfn next_entry(const DeviceState &dev, VkDevice device, Pfn slot, const char *name) noexcept {
  if (slot != nullptr) return slot;
  return reinterpret_cast<Pfn>(dev.dispatch.GetDeviceProcAddr(device, name));
}

template <typename Call> VkResult guarded(Call &&call) noexcept {
  try {
    return call();
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkSetDebugUtilsObjectNameEXT(VkDevice device, const VkDebugUtilsObjectNameInfoEXT *info) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return guarded([&] {
    auto sc = layer_object(*dev, info->objectType == VK_OBJECT_TYPE_SWAPCHAIN_KHR, info->objectHandle);
    if (!sc) {
      auto next = next_entry(*dev, device, dev->dispatch.SetDebugUtilsObjectNameEXT, "vkSetDebugUtilsObjectNameEXT");
      return next != nullptr ? next(device, info) : VK_SUCCESS;
    }
    std::lock_guard lock(dev->swapchains_mutex);
    sc->name = info->pObjectName != nullptr ? info->pObjectName : "";
    return VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkSetDebugUtilsObjectTagEXT(VkDevice device, const VkDebugUtilsObjectTagInfoEXT *info) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return guarded([&] {
    if (layer_object(*dev, info->objectType == VK_OBJECT_TYPE_SWAPCHAIN_KHR, info->objectHandle)) return VK_SUCCESS;
    auto next = next_entry(*dev, device, dev->dispatch.SetDebugUtilsObjectTagEXT, "vkSetDebugUtilsObjectTagEXT");
    return next != nullptr ? next(device, info) : VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkDebugMarkerSetObjectNameEXT(VkDevice device, const VkDebugMarkerObjectNameInfoEXT *info) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return guarded([&] {
    auto sc = layer_object(*dev, info->objectType == VK_DEBUG_REPORT_OBJECT_TYPE_SWAPCHAIN_KHR_EXT, info->object);
    if (!sc) {
      auto next = next_entry(*dev, device, dev->dispatch.DebugMarkerSetObjectNameEXT, "vkDebugMarkerSetObjectNameEXT");
      return next != nullptr ? next(device, info) : VK_SUCCESS;
    }
    std::lock_guard lock(dev->swapchains_mutex);
    sc->name = info->pObjectName != nullptr ? info->pObjectName : "";
    return VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkDebugMarkerSetObjectTagEXT(VkDevice device, const VkDebugMarkerObjectTagInfoEXT *info) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return guarded([&] {
    if (layer_object(*dev, info->objectType == VK_DEBUG_REPORT_OBJECT_TYPE_SWAPCHAIN_KHR_EXT, info->object)) return VK_SUCCESS;
    auto next = next_entry(*dev, device, dev->dispatch.DebugMarkerSetObjectTagEXT, "vkDebugMarkerSetObjectTagEXT");
    return next != nullptr ? next(device, info) : VK_SUCCESS;
  });
}

namespace {
VkResult set_private(VkDevice device, VkObjectType type, uint64_t handle, VkPrivateDataSlot slot, uint64_t data,
                     PFN_vkSetPrivateData DeviceDispatch::*next) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return guarded([&] {
    auto sc = layer_object(*dev, type == VK_OBJECT_TYPE_SWAPCHAIN_KHR, handle);
    if (!sc) return (dev->dispatch.*next)(device, type, handle, slot, data);
    std::lock_guard lock(dev->swapchains_mutex);
    sc->private_data[slot] = data;
    return VK_SUCCESS;
  });
}

void get_private(VkDevice device, VkObjectType type, uint64_t handle, VkPrivateDataSlot slot, uint64_t *data,
                 PFN_vkGetPrivateData DeviceDispatch::*next) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return;
  std::shared_ptr<LayerSwapchain> sc;
  try {
    sc = layer_object(*dev, type == VK_OBJECT_TYPE_SWAPCHAIN_KHR, handle);
  } catch (const std::bad_alloc &) {
  }
  if (!sc) return (dev->dispatch.*next)(device, type, handle, slot, data);
  std::lock_guard lock(dev->swapchains_mutex);
  auto it = sc->private_data.find(slot);
  *data = it == sc->private_data.end() ? 0 : it->second;
}
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkSetPrivateData(VkDevice d, VkObjectType t, uint64_t h, VkPrivateDataSlot s, uint64_t v) noexcept {
  return set_private(d, t, h, s, v, &DeviceDispatch::SetPrivateData);
}
VKAPI_ATTR VkResult VKAPI_CALL vkSetPrivateDataEXT(VkDevice d, VkObjectType t, uint64_t h, VkPrivateDataSlot s, uint64_t v) noexcept {
  return set_private(d, t, h, s, v, &DeviceDispatch::SetPrivateDataEXT);
}
VKAPI_ATTR void VKAPI_CALL vkGetPrivateData(VkDevice d, VkObjectType t, uint64_t h, VkPrivateDataSlot s, uint64_t *v) noexcept {
  get_private(d, t, h, s, v, &DeviceDispatch::GetPrivateData);
}
VKAPI_ATTR void VKAPI_CALL vkGetPrivateDataEXT(VkDevice d, VkObjectType t, uint64_t h, VkPrivateDataSlot s, uint64_t *v) noexcept {
  get_private(d, t, h, s, v, &DeviceDispatch::GetPrivateDataEXT);
}

} // namespace sfw::layer
