// vkCreateDevice / vkDestroyDevice, queues, and the device extension list the app sees.
#include <algorithm>
#include <cstdio>
#include <utility>
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

// Swapchain-related device extensions the layer does not implement for its own swapchains:
// hidden on devices where it may own them, so what the app sees matches what the layer does.
// VK_EXT_swapchain_maintenance1 is the layer's on its own swapchains and the driver's on the driver's: offered
// where the driver has it (the driver serves the swapchains the layer passes through).
constexpr const char *kHiddenExtensions[] = {
    "VK_KHR_swapchain_maintenance1", "VK_KHR_present_id2", "VK_KHR_present_wait2", "VK_EXT_present_timing", "VK_EXT_hdr_metadata",
    "VK_GOOGLE_display_timing", "VK_EXT_display_control", "VK_EXT_full_screen_exclusive",
    "VK_KHR_shared_presentable_image", "VK_AMD_display_native_hdr"};

bool hidden_extension(const char *name) {
  for (const char *h : kHiddenExtensions)
    if (std::strcmp(h, name) == 0) return true;
  return false;
}

constexpr const char *kPresentId = "VK_KHR_present_id";
constexpr const char *kPresentWait = "VK_KHR_present_wait";

// The exposure rule of VK_KHR_present_id and VK_KHR_present_wait where the layer may own swapchains (README,
// "Present id and present wait"): offered when every swapchain the app could make on the device is served.
// The layer's own (Wayland) by the layer; the driver's by the driver where it has the extension, else, for a
// Wayland surface the layer passes through, by the layer's approximation at present. A swapchain on any other
// surface platform the instance enabled is the driver's alone: without the driver's extension, hidden.
// Null: offered; else why not.
const char *present_id_unserved(const InstanceState &inst, const DriverFacts &facts, const char *extension,
                                std::string *why) {
  if (facts.has_extension(extension)) return nullptr;
  for (const std::string &e : inst.app.extensions) {
    const bool platform = e == "VK_KHR_display" ||
                          (e.size() > 8 && e.compare(e.size() - 8, 8, "_surface") == 0 && e != "VK_KHR_surface" &&
                           e != "VK_KHR_wayland_surface");
    if (platform) {
      *why = "the instance enabled " + e + ", whose swapchains are the driver's, and the driver has no " + extension;
      return why->c_str();
    }
  }
  return nullptr;
}

// The driver half of the modes table: can the layer own swapchains on this device at all?
bool may_own_swapchains(const DriverFacts &facts, std::string *why) {
  ModeFacts f;
  apply_driver_facts(facts, &f);
  f.compositor_dmabuf = f.common_format = true; // judged per surface
  ModeDecision d = decide_mode(f, ModeRequest::automatic);
  *why = d.reasons;
  return d.mode != Mode::passthrough;
}

PFN_vkSetDeviceLoaderData find_loader_data_callback(const VkDeviceCreateInfo *info) {
  for (auto *p = static_cast<const VkBaseInStructure *>(info->pNext); p != nullptr; p = p->pNext) {
    auto *layer_info = reinterpret_cast<const VkLayerDeviceCreateInfo *>(p);
    if (p->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && layer_info->function == VK_LOADER_DATA_CALLBACK)
      return layer_info->u.pfnSetDeviceLoaderData;
  }
  return nullptr;
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
  VkDeviceCreateInfo amended = *create_info;
  ChainStrip strip(&amended); // the app's chain as it was again when vkCreateDevice returns
  std::vector<const char *> extensions;
  try {
    // The device's state, and the containers it keeps, through the app's callbacks for the device.
    HostAllocator device_alloc(allocator, VK_SYSTEM_ALLOCATION_SCOPE_DEVICE);
    {
      ScopedHostAllocator scope(device_alloc);
      state = std::allocate_shared<DeviceState>(HostStl<DeviceState>());
    }
    state->host_alloc = device_alloc;
    state->instance = instances().get(dispatch_key(phys));
    inst->dispatch.GetPhysicalDeviceProperties(phys, &props);
    state->app.api_version = std::min(inst->app.api_version, props.apiVersion);
    extensions.assign(create_info->ppEnabledExtensionNames,
                      create_info->ppEnabledExtensionNames + create_info->enabledExtensionCount);
    for (const char *e : extensions) state->app.extensions.emplace_back(e);
    state->driver = driver_facts(*inst, phys);
    uint32_t families = 0;
    inst->dispatch.GetPhysicalDeviceQueueFamilyProperties(phys, &families, nullptr);
    std::vector<VkQueueFamilyProperties> family_props(families);
    inst->dispatch.GetPhysicalDeviceQueueFamilyProperties(phys, &families, family_props.data());
    for (const auto &f : family_props) state->family_flags.push_back(f.queueFlags);
    state->may_own_swapchains = may_own_swapchains(*state->driver, &reasons);
    if (state->may_own_swapchains) {
      // An extension the layer hides here was not offered: enabling it anyway would send its commands
      // (which carry swapchain handles) to the driver with the layer's handles.
      for (const char *e : extensions) {
        std::string why;
        const bool present_ext = std::strcmp(e, kPresentId) == 0 || std::strcmp(e, kPresentWait) == 0;
        if (hidden_extension(e) || (present_ext && present_id_unserved(*inst, *state->driver, e, &why) != nullptr)) {
          SFW_ERROR("vkCreateDevice: %s is not offered on this device (the layer may own its swapchains)", e);
          return VK_ERROR_EXTENSION_NOT_PRESENT;
        }
      }
      state->present_id = state->app.has(kPresentId);
      state->present_wait = state->app.has(kPresentWait);
      state->driver_present_id = state->driver->has_extension(kPresentId);
      state->driver_present_wait = state->driver->has_extension(kPresentWait);
      // The layer serves them where the driver has not got them: the driver never hears of them.
      extensions.erase(std::remove_if(extensions.begin(), extensions.end(),
                                      [&](const char *e) {
                                        return (std::strcmp(e, kPresentId) == 0 && !state->driver_present_id) ||
                                               (std::strcmp(e, kPresentWait) == 0 && !state->driver_present_wait);
                                      }),
                       extensions.end());
      if (!state->driver_present_id) strip.remove(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR);
      if (!state->driver_present_wait) strip.remove(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR);
      // The whole closure the layer needs, where the driver has it; invisible to the app's queries.
      for (const std::string &ext : state->driver->layer_would_enable)
        if (!state->app.has(ext)) extensions.push_back(ext.c_str());
      amended.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
      amended.ppEnabledExtensionNames = extensions.data();
      state->drm_modifiers_enabled = std::any_of(extensions.begin(), extensions.end(), [](const char *e) {
        return std::strcmp(e, "VK_EXT_image_drm_format_modifier") == 0;
      });
    }
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkCreateDevice: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }

  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  VkResult result = next_create(phys, &amended, allocator, device);
  if (result != VK_SUCCESS) return result;
  state->swapchain_vk.load(*device, next_gdpa);
  state->swapchain_vk.set_device_loader_data = find_loader_data_callback(create_info);
  inst->dispatch.GetPhysicalDeviceMemoryProperties(phys, &state->memory);

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
  if (state->may_own_swapchains)
    SFW_INFO("device \"%s\": the layer may own its Wayland swapchains (decided per surface)", props.deviceName);
  else
    SFW_INFO("device \"%s\": mode passthrough (%s)", props.deviceName, reasons.c_str());
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL vkDestroyDevice(VkDevice device, const VkAllocationCallbacks *allocator) noexcept {
  if (device == VK_NULL_HANDLE) return;
  std::shared_ptr<DeviceState> state = devices().erase(dispatch_key(device));
  if (state == nullptr) {
    SFW_ERROR("vkDestroyDevice: unknown device %p", static_cast<void *>(device));
    return;
  }
  // Swapchains the app left alive: their Vulkan objects must go before the device. Each is destroyed
  // with no lock held (it waits for the layer's own GPU work).
  state->pending.clear();
  for (;;) {
    std::shared_ptr<LayerSwapchain> sc;
    {
      std::lock_guard lock(state->swapchains_mutex);
      if (state->swapchains.empty()) break;
      SFW_WARN("vkDestroyDevice with a live swapchain (%zu left): destroying it", state->swapchains.size());
      auto it = state->swapchains.begin();
      sc = std::move(it->second);
      state->swapchains.erase(it);
    }
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
    ScopedHostAllocator scope(state.host_alloc); // the device's callbacks, for the map and the queue's scratch
    std::lock_guard lock(state.queues_mutex);
    HostUnique<QueueState> &q = state.queues[queue];
    if (!q) q = host_new<QueueState>();
    q->family = family;
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
  if (layer_name != nullptr) return inst->dispatch.EnumerateDeviceExtensionProperties(phys, layer_name, count, props);
  try {
    std::string why;
    if (!may_own_swapchains(*driver_facts(*inst, phys), &why))
      return inst->dispatch.EnumerateDeviceExtensionProperties(phys, layer_name, count, props);
    uint32_t n = 0;
    VkResult r = inst->dispatch.EnumerateDeviceExtensionProperties(phys, nullptr, &n, nullptr);
    if (r != VK_SUCCESS) return r;
    std::vector<VkExtensionProperties> all(n);
    r = inst->dispatch.EnumerateDeviceExtensionProperties(phys, nullptr, &n, all.data());
    if (r < 0) return r;
    all.resize(n);
    all.erase(std::remove_if(all.begin(), all.end(), [](const VkExtensionProperties &e) { return hidden_extension(e.extensionName); }),
              all.end());
    const std::shared_ptr<const DriverFacts> facts = driver_facts(*inst, phys);
    if (!facts->has_extension("VK_EXT_swapchain_maintenance1"))
      SFW_LOG_ONCE(LogLevel::info, "VK_EXT_swapchain_maintenance1 hidden: the driver has none, so the swapchains the layer "
                                   "passes through could not serve it");
    for (auto [name, version] : {std::pair{kPresentId, uint32_t{VK_KHR_PRESENT_ID_SPEC_VERSION}},
                                 std::pair{kPresentWait, uint32_t{VK_KHR_PRESENT_WAIT_SPEC_VERSION}}}) {
      std::string unserved;
      if (present_id_unserved(*inst, *facts, name, &unserved) != nullptr) {
        all.erase(std::remove_if(all.begin(), all.end(), [&](const VkExtensionProperties &e) {
                    return std::strcmp(e.extensionName, name) == 0;
                  }),
                  all.end());
        SFW_LOG_ONCE(LogLevel::info, "%s hidden: %s", name, unserved.c_str());
      } else if (!facts->has_extension(name)) {
        VkExtensionProperties p{};
        std::snprintf(p.extensionName, sizeof p.extensionName, "%s", name);
        p.specVersion = version;
        all.push_back(p);
      }
    }
    if (props == nullptr) {
      *count = static_cast<uint32_t>(all.size());
      return VK_SUCCESS;
    }
    uint32_t copied = std::min<uint32_t>(*count, static_cast<uint32_t>(all.size()));
    std::copy(all.begin(), all.begin() + copied, props);
    *count = copied;
    return copied < all.size() ? VK_INCOMPLETE : VK_SUCCESS;
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

} // namespace sfw::layer

namespace sfw::layer {

// Features of the swapchain extensions the layer serves or hides where it may own swapchains.
static void hide_swapchain_features(VkPhysicalDevice phys, VkPhysicalDeviceFeatures2 *features) noexcept {
  InstanceState *inst = instance_of(phys);
  std::string why;
  std::shared_ptr<const DriverFacts> facts;
  try {
    if (inst == nullptr || !may_own_swapchains(*(facts = driver_facts(*inst, phys)), &why)) return;
  } catch (const std::bad_alloc &) {
    return;
  }
  auto offered = [&](const char *name) -> VkBool32 {
    std::string unserved;
    try {
      return present_id_unserved(*inst, *facts, name, &unserved) == nullptr ? VK_TRUE : VK_FALSE;
    } catch (const std::bad_alloc &) {
      return VK_FALSE;
    }
  };
  for (auto *s = static_cast<VkBaseOutStructure *>(features->pNext); s != nullptr; s = s->pNext) {
    switch (s->sType) {
    case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR:
      reinterpret_cast<VkPhysicalDevicePresentIdFeaturesKHR *>(s)->presentId = offered(kPresentId);
      break;
    case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR:
      reinterpret_cast<VkPhysicalDevicePresentWaitFeaturesKHR *>(s)->presentWait = offered(kPresentWait);
      break;
    default: break;
    }
  }
}

VKAPI_ATTR void VKAPI_CALL vkGetPhysicalDeviceFeatures2(VkPhysicalDevice phys, VkPhysicalDeviceFeatures2 *features) noexcept {
  InstanceState *inst = instance_of(phys);
  if (inst == nullptr) return;
  inst->dispatch.GetPhysicalDeviceFeatures2(phys, features);
  hide_swapchain_features(phys, features);
}

VKAPI_ATTR void VKAPI_CALL vkGetPhysicalDeviceFeatures2KHR(VkPhysicalDevice phys, VkPhysicalDeviceFeatures2 *features) noexcept {
  InstanceState *inst = instance_of(phys);
  if (inst == nullptr) return;
  inst->dispatch.GetPhysicalDeviceFeatures2KHR(phys, features);
  hide_swapchain_features(phys, features);
}

} // namespace sfw::layer
