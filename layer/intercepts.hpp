// The layer's own (`custom`) entry points, declared from the table in entrypoints.hpp.
#pragma once

#include <vulkan/vk_layer.h>

#include "entrypoints.hpp"

namespace sfw::layer {

VKAPI_ATTR VkResult VKAPI_CALL vkCreateInstance(const VkInstanceCreateInfo *, const VkAllocationCallbacks *,
                                                VkInstance *) noexcept;
VKAPI_ATTR void VKAPI_CALL vkDestroyInstance(VkInstance, const VkAllocationCallbacks *) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkCreateDevice(VkPhysicalDevice, const VkDeviceCreateInfo *,
                                              const VkAllocationCallbacks *, VkDevice *) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkEnumerateDeviceExtensionProperties(VkPhysicalDevice, const char *, uint32_t *,
                                                                    VkExtensionProperties *) noexcept;
VKAPI_ATTR void VKAPI_CALL vkDestroyDevice(VkDevice, const VkAllocationCallbacks *) noexcept;
VKAPI_ATTR void VKAPI_CALL vkGetDeviceQueue(VkDevice, uint32_t, uint32_t, VkQueue *) noexcept;
VKAPI_ATTR void VKAPI_CALL vkGetDeviceQueue2(VkDevice, const VkDeviceQueueInfo2 *, VkQueue *) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit(VkQueue, uint32_t, const VkSubmitInfo *, VkFence) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2(VkQueue, uint32_t, const VkSubmitInfo2 *, VkFence) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2KHR(VkQueue, uint32_t, const VkSubmitInfo2 *, VkFence) noexcept;
VKAPI_ATTR VkResult VKAPI_CALL vkQueuePresentKHR(VkQueue, const VkPresentInfoKHR *) noexcept;

// Lookup for GetProcAddr: the layer's function for `name` in the given scope, or null.
enum class Scope { instance, device };
struct Intercept {
  const char *name;
  PFN_vkVoidFunction function;
  Scope scope;
  const char *gate_extension;
  uint32_t gate_core_version;
};
const Intercept *find_intercept(const char *name) noexcept;
// Commands that carry a swapchain or surface (from vk.xml) that the layer does not handle:
// GetProcAddr hides them, so such a handle never reaches the driver unseen.
bool is_hidden_command(const char *name) noexcept;

} // namespace sfw::layer
