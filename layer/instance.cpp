// vkCreateInstance / vkDestroyInstance: build the instance chain and remember what the app enabled.
#include <new>
#include <vector>

#include "chain.hpp"
#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
constexpr const char *kInstanceExtensionsFor10[] = {
    "VK_KHR_get_physical_device_properties2", "VK_KHR_external_memory_capabilities",
    "VK_KHR_external_semaphore_capabilities", "VK_KHR_external_fence_capabilities"};
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkCreateInstance(const VkInstanceCreateInfo *create_info,
                                                const VkAllocationCallbacks *allocator,
                                                VkInstance *instance) noexcept {
  auto *link = find_link_info<VkLayerInstanceCreateInfo>(create_info, VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO);
  if (link == nullptr || link->u.pLayerInfo == nullptr) {
    SFW_ERROR("vkCreateInstance: no loader layer link info; is the layer loaded by the Vulkan loader?");
    return VK_ERROR_INITIALIZATION_FAILED;
  }
  PFN_vkGetInstanceProcAddr next_gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  auto next_create = reinterpret_cast<PFN_vkCreateInstance>(next_gipa(VK_NULL_HANDLE, "vkCreateInstance"));
  if (next_create == nullptr) return VK_ERROR_INITIALIZATION_FAILED;

  std::shared_ptr<InstanceState> state;
  try {
    state = std::make_shared<InstanceState>();
    const VkApplicationInfo *app = create_info->pApplicationInfo;
    state->app.api_version = (app != nullptr && app->apiVersion != 0) ? app->apiVersion : VK_API_VERSION_1_0;
    for (uint32_t i = 0; i < create_info->enabledExtensionCount; ++i)
      state->app.extensions.emplace_back(create_info->ppEnabledExtensionNames[i]);
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }

  // A 1.0 app: the layer's own queries need these (it never raises the app's apiVersion).
  std::vector<const char *> extensions;
  VkInstanceCreateInfo amended = *create_info;
  bool added = state->app.api_version < VK_API_VERSION_1_1;
  if (added) {
    try {
      extensions.assign(create_info->ppEnabledExtensionNames,
                        create_info->ppEnabledExtensionNames + create_info->enabledExtensionCount);
      for (const char *ext : kInstanceExtensionsFor10)
        if (!state->app.has(ext)) extensions.push_back(ext);
    } catch (const std::bad_alloc &) {
      return VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    amended.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    amended.ppEnabledExtensionNames = extensions.data();
  }

  // The next layer finds its own link: advance the chain for it.
  VkLayerInstanceLink *next_link = link->u.pLayerInfo->pNext;
  link->u.pLayerInfo = next_link;
  VkResult result = next_create(&amended, allocator, instance);
  if (result == VK_ERROR_EXTENSION_NOT_PRESENT && added) {
    SFW_WARN("the driver lacks the external capabilities extensions; the layer will pass through");
    added = false;
    link->u.pLayerInfo = next_link;
    result = next_create(create_info, allocator, instance);
  }
  if (result != VK_SUCCESS) return result;

  state->instance = *instance;
  state->dispatch.load(*instance, next_gipa);
  state->queries = driver_queries_from(next_gipa, *instance);
  if (added) { // the 1.1 names may be missing on a 1.0 instance: use the extensions' names
    auto khr = [&](const char *name) { return next_gipa(*instance, name); };
    state->queries.GetPhysicalDeviceFormatProperties2 =
        reinterpret_cast<PFN_vkGetPhysicalDeviceFormatProperties2>(khr("vkGetPhysicalDeviceFormatProperties2KHR"));
    state->queries.GetPhysicalDeviceImageFormatProperties2 =
        reinterpret_cast<PFN_vkGetPhysicalDeviceImageFormatProperties2>(khr("vkGetPhysicalDeviceImageFormatProperties2KHR"));
    state->queries.GetPhysicalDeviceExternalSemaphoreProperties =
        reinterpret_cast<PFN_vkGetPhysicalDeviceExternalSemaphoreProperties>(khr("vkGetPhysicalDeviceExternalSemaphorePropertiesKHR"));
    state->queries.GetPhysicalDeviceExternalFenceProperties =
        reinterpret_cast<PFN_vkGetPhysicalDeviceExternalFenceProperties>(khr("vkGetPhysicalDeviceExternalFencePropertiesKHR"));
  }
  try {
    instances().insert(dispatch_key(*instance), state);
  } catch (const std::bad_alloc &) {
    auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(next_gipa(*instance, "vkDestroyInstance"));
    if (destroy != nullptr) destroy(*instance, allocator);
    *instance = VK_NULL_HANDLE;
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  SFW_INFO("instance created (app apiVersion %u.%u)", VK_API_VERSION_MAJOR(state->app.api_version),
           VK_API_VERSION_MINOR(state->app.api_version));
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL vkDestroyInstance(VkInstance instance, const VkAllocationCallbacks *allocator) noexcept {
  if (instance == VK_NULL_HANDLE) return;
  std::shared_ptr<InstanceState> state = instances().erase(dispatch_key(instance));
  if (state == nullptr) {
    SFW_ERROR("vkDestroyInstance: unknown instance %p", static_cast<void *>(instance));
    return;
  }
  state->dispatch.DestroyInstance(instance, allocator);
}

} // namespace sfw::layer
