// Per-instance and per-device state of the layer, keyed by dispatch key.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dispatch_tables.hpp"
#include "dispatch_map.hpp"
#include "swapchain/pending_acquires.hpp"
#include "swapchain/vk_functions.hpp"
#include "wsi_state.hpp"

namespace sfw::layer {

// What the *app* enabled: GetProcAddr answers by this, never by what the layer added.
struct EnabledSet {
  uint32_t api_version = VK_API_VERSION_1_0;
  std::vector<std::string> extensions;

  bool has(std::string_view name) const noexcept {
    for (const auto &e : extensions)
      if (e == name) return true;
    return false;
  }
  // The gate of an entry point in entrypoints.hpp.
  bool allows(std::string_view extension, uint32_t core_version) const noexcept {
    if (extension.empty() && core_version == 0) return true;
    if (core_version != 0 && api_version >= core_version) return true;
    return !extension.empty() && has(extension);
  }
};

struct InstanceState {
  VkInstance instance = VK_NULL_HANDLE;
  InstanceDispatch dispatch;
  EnabledSet app;
  DriverQueries queries; // for driver facts: core 1.1 names or the KHR ones the layer enabled

  std::mutex wsi_mutex;
  std::unordered_map<VkSurfaceKHR, std::shared_ptr<SurfaceState>> surfaces;
  std::unordered_map<VkPhysicalDevice, std::shared_ptr<const DriverFacts>> driver_facts;
};

// What the slow paths of one queue's vkQueueSubmit(2) and vkQueuePresentKHR build in. The spec makes the
// app synchronise every call on a queue, so no lock guards it; kept across calls, its vectors stop
// growing after the first frames and a frame allocates nothing. Empty (no swapchain reference) between calls.
struct QueueScratch {
  PendingAcquires::ClaimScratch claim;
  Vector<VkSubmitInfo> batches;
  Vector<std::shared_ptr<LayerSwapchain>> owned;
  Vector<VkResult> results;
  Vector<Swapchain::PresentPart> parts;
  Vector<VkSemaphore> waits, signals;
  Vector<VkPipelineStageFlags> stages;
  Vector<VkCommandBuffer> cmds;
  Vector<wl::Rect> damage;
};

struct QueueState {
  uint32_t family = 0;
  QueueScratch scratch;
};

// Made inside a ScopedHostAllocator of the device's callbacks: its Host* containers keep them.
struct DeviceState {
  VkDevice device = VK_NULL_HANDLE;
  HostAllocator host_alloc; // vkCreateDevice's pAllocator (device scope), or operator new
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  std::shared_ptr<InstanceState> instance;
  DeviceDispatch dispatch;
  EnabledSet app; // api_version: min(app's instance apiVersion, the device's)

  // Counters for the log line at vkDestroyDevice.
  std::atomic<uint64_t> submits{0};
  std::atomic<uint64_t> presents{0};

  // The queues vkGetDeviceQueue(2) gave out; guards the map only (a QueueState is used without it).
  std::mutex queues_mutex;
  HostMap<VkQueue, HostUnique<QueueState>> queues;
  // The queue's state, made at vkGetDeviceQueue(2); null for a queue the layer never saw.
  QueueState *queue_state(VkQueue queue) noexcept {
    std::lock_guard lock(queues_mutex);
    auto it = queues.find(queue);
    return it == queues.end() ? nullptr : it->second.get();
  }
  Vector<VkQueueFlags> family_flags; // per queue family, from vkCreateDevice
  // Can a queue of `family` record the layer's ownership transfers (a pipeline barrier)?
  bool can_record(uint32_t family) const noexcept {
    return family >= family_flags.size() ||
           (family_flags[family] & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT | VK_QUEUE_TRANSFER_BIT)) != 0;
  }

  // Swapchains: the layer's own, and what it needs to run them.
  SwapchainVk swapchain_vk;
  VkPhysicalDeviceMemoryProperties memory{};
  std::shared_ptr<const DriverFacts> driver;
  bool may_own_swapchains = false; // the driver side of the modes table allows it
  bool drm_modifiers_enabled = false;
  // Guards the map only: held for look-ups, never across a call into a swapchain or a wait.
  std::mutex swapchains_mutex;
  HostMap<VkSwapchainKHR, std::shared_ptr<LayerSwapchain>> swapchains;
  // A look-up: allocates nothing.
  std::shared_ptr<LayerSwapchain> layer_swapchain(VkSwapchainKHR handle) noexcept {
    if (handle == VK_NULL_HANDLE) return nullptr;
    std::lock_guard lock(swapchains_mutex);
    auto it = swapchains.find(handle);
    return it == swapchains.end() ? nullptr : it->second;
  }
  // VK_KHR_present_id / VK_KHR_present_wait (README, "Present id and present wait"): what the app enabled,
  // and what the driver itself has (false: the layer serves the driver's swapchains too, see below).
  bool present_id = false, present_wait = false;
  bool driver_present_id = false, driver_present_wait = false;
  // The driver's own swapchains where the driver lacks present ids: the highest id each has handed to the
  // driver's vkQueuePresentKHR, which is when the layer counts it complete (an approximation: queued, not
  // yet shown). Guards the map only.
  std::mutex passthrough_ids_mutex;
  std::condition_variable passthrough_ids_cv;
  HostMap<VkSwapchainKHR, uint64_t> passthrough_ids;

  // Acquires whose image a submit or present must take back from the compositor first; its own lock.
  // The fast path reads only pending.any().
  PendingAcquires pending;
};

// Namespace-scope (no function-local static guard on the submit path); built when the library loads.
extern DispatchMap<InstanceState> g_instance_map;
extern DispatchMap<DeviceState> g_device_map;
inline DispatchMap<InstanceState> &instances() noexcept { return g_instance_map; }
inline DispatchMap<DeviceState> &devices() noexcept { return g_device_map; }

// Lock-free look-ups for entry points; null only for a handle the layer never saw.
inline InstanceState *instance_of(VkInstance h) noexcept { return instances().find(dispatch_key(h)); }
inline InstanceState *instance_of(VkPhysicalDevice h) noexcept { return instances().find(dispatch_key(h)); }
inline DeviceState *device_of(VkDevice h) noexcept { return devices().find(dispatch_key(h)); }
inline DeviceState *device_of(VkQueue h) noexcept { return devices().find(dispatch_key(h)); }
inline DeviceState *device_of(VkCommandBuffer h) noexcept { return devices().find(dispatch_key(h)); }

} // namespace sfw::layer
