// vkCreateInstance / vkDestroyInstance: build the instance chain and remember what the app enabled.
#include <new>

#include "chain.hpp"
#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

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

  // The next layer finds its own link: advance the chain for it.
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  VkResult result = next_create(create_info, allocator, instance);
  if (result != VK_SUCCESS) return result;

  state->instance = *instance;
  state->dispatch.load(*instance, next_gipa);
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
