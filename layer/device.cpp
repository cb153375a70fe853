// vkCreateDevice / vkDestroyDevice, queues, and the device extension list the app sees.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "chain.hpp"
#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {
namespace {

constexpr const char *kLayerName = "VK_LAYER_SYNCFILE_wsi";

// What the driver must offer before the layer can own a swapchain (issue 4's modes table).
std::string passthrough_reasons(InstanceState &inst, VkPhysicalDevice phys) {
  uint32_t count = 0;
  std::vector<VkExtensionProperties> exts;
  if (inst.dispatch.EnumerateDeviceExtensionProperties(phys, nullptr, &count, nullptr) == VK_SUCCESS) {
    exts.resize(count);
    if (inst.dispatch.EnumerateDeviceExtensionProperties(phys, nullptr, &count, exts.data()) < 0) count = 0;
    exts.resize(count);
  }
  auto has = [&](const char *name) {
    return std::any_of(exts.begin(), exts.end(), [&](const VkExtensionProperties &e) { return std::strcmp(e.extensionName, name) == 0; });
  };
  std::string reasons;
  for (const char *need : {"VK_KHR_external_memory_fd", "VK_EXT_external_memory_dma_buf", "VK_KHR_external_semaphore_fd",
                           "VK_KHR_external_fence_fd", "VK_EXT_queue_family_foreign"}) {
    if (!has(need)) reasons += std::string(reasons.empty() ? "" : ", ") + "no " + need;
  }
  return reasons;
}

} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkCreateDevice(VkPhysicalDevice phys, const VkDeviceCreateInfo *create_info,
                                              const VkAllocationCallbacks *allocator, VkDevice *device) noexcept {
  InstanceState *inst = instance_of(phys);
  auto *link = find_link_info<VkLayerDeviceCreateInfo>(create_info, VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO);
  if (inst == nullptr || link == nullptr || link->u.pLayerInfo == nullptr) {
    SFW_ERROR("vkCreateDevice: no loader layer link info or unknown physical device");
    return VK_ERROR_INITIALIZATION_FAILED;
  }
  PFN_vkGetInstanceProcAddr next_gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr next_gdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  auto next_create = reinterpret_cast<PFN_vkCreateDevice>(next_gipa(inst->instance, "vkCreateDevice"));
  if (next_create == nullptr) return VK_ERROR_INITIALIZATION_FAILED;

  std::shared_ptr<DeviceState> state;
  VkPhysicalDeviceProperties props{};
  std::string reasons;
  try {
    state = std::make_shared<DeviceState>();
    state->instance = instances().get(dispatch_key(phys));
    inst->dispatch.GetPhysicalDeviceProperties(phys, &props);
    state->app.api_version = std::min(inst->app.api_version, props.apiVersion);
    for (uint32_t i = 0; i < create_info->enabledExtensionCount; ++i)
      state->app.extensions.emplace_back(create_info->ppEnabledExtensionNames[i]);
    reasons = passthrough_reasons(*inst, phys);
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }

  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  VkResult result = next_create(phys, create_info, allocator, device);
  if (result != VK_SUCCESS) return result;

  state->device = *device;
  state->physical_device = phys;
  state->dispatch.load(*device, next_gdpa);
  try {
    devices().insert(dispatch_key(*device), state);
  } catch (const std::bad_alloc &) {
    state->dispatch.DestroyDevice(*device, allocator);
    *device = VK_NULL_HANDLE;
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  // Until the layer's own swapchain lands every device passes through; say why for this driver.
  SFW_INFO("device \"%s\": mode passthrough (%s)", props.deviceName,
           reasons.empty() ? "the layer's own swapchain is not built yet" : reasons.c_str());
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL vkDestroyDevice(VkDevice device, const VkAllocationCallbacks *allocator) noexcept {
  if (device == VK_NULL_HANDLE) return;
  std::shared_ptr<DeviceState> state = devices().erase(dispatch_key(device));
  if (state == nullptr) {
    SFW_ERROR("vkDestroyDevice: unknown device %p", static_cast<void *>(device));
    return;
  }
  SFW_INFO("device destroyed: %llu submits, %llu presents",
           static_cast<unsigned long long>(state->submits.load(std::memory_order_relaxed)),
           static_cast<unsigned long long>(state->presents.load(std::memory_order_relaxed)));
  state->dispatch.DestroyDevice(device, allocator);
}

namespace {
void remember_queue(DeviceState &state, VkQueue queue, uint32_t family) noexcept {
  if (queue == VK_NULL_HANDLE) return;
  try {
    std::lock_guard lock(state.queues_mutex);
    state.queue_family[queue] = family;
  } catch (const std::bad_alloc &) {
    SFW_WARN("out of memory recording queue %p", static_cast<void *>(queue));
  }
}
} // namespace

VKAPI_ATTR void VKAPI_CALL vkGetDeviceQueue(VkDevice device, uint32_t family, uint32_t index, VkQueue *queue) noexcept {
  DeviceState *state = device_of(device);
  if (state == nullptr) return;
  state->dispatch.GetDeviceQueue(device, family, index, queue);
  remember_queue(*state, *queue, family);
}

VKAPI_ATTR void VKAPI_CALL vkGetDeviceQueue2(VkDevice device, const VkDeviceQueueInfo2 *info, VkQueue *queue) noexcept {
  DeviceState *state = device_of(device);
  if (state == nullptr) return;
  state->dispatch.GetDeviceQueue2(device, info, queue);
  remember_queue(*state, *queue, info->queueFamilyIndex);
}

VKAPI_ATTR VkResult VKAPI_CALL vkEnumerateDeviceExtensionProperties(VkPhysicalDevice phys, const char *layer_name,
                                                                    uint32_t *count, VkExtensionProperties *props) noexcept {
  // The layer itself exposes no device extensions.
  if (layer_name != nullptr && std::strcmp(layer_name, kLayerName) == 0) {
    *count = 0;
    return VK_SUCCESS;
  }
  InstanceState *inst = instance_of(phys);
  if (inst == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  return inst->dispatch.EnumerateDeviceExtensionProperties(phys, layer_name, count, props);
}

} // namespace sfw::layer
