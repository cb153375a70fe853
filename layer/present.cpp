// vkQueuePresentKHR: one submit waits on the app's semaphores once, releases each layer image to
// the compositor (where the device needs ownership transfers) and signals one exportable semaphore
// per swapchain; then each swapchain fences its dma-buf and commits. Nothing here waits for the GPU
// in syncfile mode.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <system_error>
#include <new>

#include "chain.hpp"
#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {

// The spec's severity order for the combined result: errors beat SUBOPTIMAL beats SUCCESS.
int severity(VkResult r) {
  switch (r) {
  case VK_SUCCESS: return 0;
  case VK_SUBOPTIMAL_KHR: return 1;
  case VK_ERROR_OUT_OF_DATE_KHR: return 2;
  case VK_ERROR_SURFACE_LOST_KHR: return 3;
  case VK_ERROR_DEVICE_LOST: return 5;
  default: return 4;
  }
}

std::span<const wl::Rect> damage_of(const VkPresentRegionsKHR *regions, uint32_t i, Vector<wl::Rect> *storage) noexcept {
  storage->clear();
  if (regions == nullptr || regions->pRegions == nullptr || i >= regions->swapchainCount) return {};
  const VkPresentRegionKHR &r = regions->pRegions[i];
  for (uint32_t k = 0; k < r.rectangleCount && storage->size() < storage->capacity(); ++k) {
    const VkRectLayerKHR &rect = r.pRectangles[k];
    storage->push_back({rect.offset.x, rect.offset.y, static_cast<int32_t>(rect.extent.width),
                        static_cast<int32_t>(rect.extent.height)});
  }
  return *storage;
}

// Leaves the scratch's swapchain references behind on every return: a scratch holds none between calls.
struct ScratchReset {
  QueueScratch &s;
  ~ScratchReset() { s.owned.clear(); }
};

// The driver's own swapchains. Where the driver lacks VK_KHR_present_id, the ids stay with the layer: taken
// out of the chain the driver sees, and counted complete once its vkQueuePresentKHR has taken the image.
VkResult driver_present(DeviceState &dev, VkQueue queue, const VkPresentInfoKHR *info, const VkPresentIdKHR *ids) {
  if (ids == nullptr || dev.driver_present_id) return dev.dispatch.QueuePresentKHR(queue, info);
  VkPresentInfoKHR amended = *info;
  VkResult result;
  {
    ChainStrip strip(&amended);
    strip.remove(VK_STRUCTURE_TYPE_PRESENT_ID_KHR);
    result = dev.dispatch.QueuePresentKHR(queue, &amended);
  }
  {
    std::lock_guard lock(dev.passthrough_ids_mutex);
    for (uint32_t i = 0; i < info->swapchainCount; ++i) {
      VkResult r = info->pResults != nullptr ? info->pResults[i] : result;
      if (ids->pPresentIds[i] == 0 || (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR)) continue;
      try { // allocates at a swapchain's first id only; the present itself has happened either way
        uint64_t &done = dev.passthrough_ids[info->pSwapchains[i]];
        done = std::max(done, ids->pPresentIds[i]);
      } catch (const std::bad_alloc &) {
        SFW_WARN("vkQueuePresentKHR: out of host memory recording present id %" PRIu64, ids->pPresentIds[i]);
      }
    }
  }
  dev.passthrough_ids_cv.notify_all();
  return result;
}

// VkSwapchainPresentModeInfoEXT: the mode this present asks for; the tearing hint follows when IMMEDIATE comes or
// goes (the engine switches its frame-callback pacing itself).
VkPresentModeKHR switch_mode(LayerSwapchain &sc, VkPresentModeKHR mode) {
  const bool was_immediate = sc.present_mode == VK_PRESENT_MODE_IMMEDIATE_KHR;
  if ((mode == VK_PRESENT_MODE_IMMEDIATE_KHR) != was_immediate && sc.compositor)
    set_tearing_hint(*sc.surface, *sc.compositor, mode == VK_PRESENT_MODE_IMMEDIATE_KHR);
  sc.present_mode = mode;
  return mode;
}

VkResult present(DeviceState &dev, VkQueue queue, const VkPresentInfoKHR *info) {
  ScopedHostAllocator scope(dev.host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
  dev.presents.fetch_add(1, std::memory_order_relaxed);
  QueueState *q = dev.queue_state(queue);
  QueueState unknown; // a queue the layer never saw: a scratch for this call only
  if (q == nullptr) q = &unknown;
  QueueScratch &s = q->scratch;
  ScratchReset reset{s};
  const uint32_t n = info->swapchainCount;
  Vector<std::shared_ptr<LayerSwapchain>> &owned = s.owned;
  owned.assign(n, nullptr);
  bool any_layer = false, any_driver = false;
  for (uint32_t i = 0; i < n; ++i) {
    owned[i] = dev.layer_swapchain(info->pSwapchains[i]);
    (owned[i] ? any_layer : any_driver) = true;
  }
  // What the app's chain asks besides the images, read in one walk: incremental present, present ids (where the
  // app enabled them), VK_EXT_swapchain_maintenance1's fences and modes (the driver's swapchains see the chain).
  const VkPresentRegionsKHR *regions = nullptr;
  const VkPresentIdKHR *ids = nullptr;
  const VkSwapchainPresentFenceInfoEXT *present_fences = nullptr;
  const VkSwapchainPresentModeInfoEXT *present_modes = nullptr;
  for (auto *p = static_cast<const VkBaseInStructure *>(info->pNext); p != nullptr; p = p->pNext) {
    switch (p->sType) {
    case VK_STRUCTURE_TYPE_PRESENT_REGIONS_KHR: regions = reinterpret_cast<const VkPresentRegionsKHR *>(p); break;
    case VK_STRUCTURE_TYPE_PRESENT_ID_KHR:
      if (dev.present_id) ids = reinterpret_cast<const VkPresentIdKHR *>(p);
      break;
    case VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_FENCE_INFO_EXT:
      present_fences = reinterpret_cast<const VkSwapchainPresentFenceInfoEXT *>(p);
      break;
    case VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_MODE_INFO_EXT:
      present_modes = reinterpret_cast<const VkSwapchainPresentModeInfoEXT *>(p);
      break;
    default: break;
    }
  }
  if (ids != nullptr && (ids->pPresentIds == nullptr || ids->swapchainCount != n)) ids = nullptr;
  if (present_fences != nullptr && (present_fences->pFences == nullptr || present_fences->swapchainCount != n)) present_fences = nullptr;
  if (present_modes != nullptr && (present_modes->pPresentModes == nullptr || present_modes->swapchainCount != n)) present_modes = nullptr;
  if (!any_layer) return driver_present(dev, queue, info, ids);
  if (any_driver) {
    // Layer and driver swapchains of one device only mix if one surface passes through and another
    // does not, which the per-surface decision makes rare; unsupported for now.
    SFW_LOG_ONCE(LogLevel::error, "vkQueuePresentKHR mixing layer and driver swapchains is not supported");
    return VK_ERROR_OUT_OF_DATE_KHR;
  }
  const uint32_t family = q->family;

  // All the memory this present needs comes first: running out leaves every image and pending acquire
  // as it was, and the app sees VK_ERROR_OUT_OF_HOST_MEMORY. The queue's scratch keeps it for the next.
  Vector<VkResult> &results = s.results;
  results.assign(n, VK_SUCCESS);
  Vector<Swapchain::PresentPart> &parts = s.parts;
  parts.assign(n, Swapchain::PresentPart{});
  Vector<VkSemaphore> &signals = s.signals;
  signals.clear();
  signals.reserve(n);
  Vector<VkSemaphore> &waits = s.waits;
  waits.assign(info->pWaitSemaphores, info->pWaitSemaphores + info->waitSemaphoreCount);
  Vector<VkPipelineStageFlags> &stages = s.stages;
  stages.assign(waits.size(), VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
  Vector<wl::Rect> &damage = s.damage;
  damage.clear();
  if (regions != nullptr && regions->pRegions != nullptr) {
    uint32_t most = 0;
    for (uint32_t i = 0; i < std::min(n, regions->swapchainCount); ++i) most = std::max(most, regions->pRegions[i].rectangleCount);
    damage.reserve(most);
  }
  Vector<VkCommandBuffer> &cmds = s.cmds;
  cmds.clear();
  cmds.reserve(n);
  // The images this present must take back first: acquires it waits on without a submit in between
  // (a present without rendering), and fence-only acquires of the images it presents.
  PendingAcquires::Claim claim(dev.pending, s.claim);
  if (dev.pending.any())
    claim.take([&](const PendingAcquires::Entry &e) {
      if (e.semaphore != VK_NULL_HANDLE) return std::find(waits.begin(), waits.end(), e.semaphore) != waits.end();
      for (uint32_t i = 0; i < n; ++i)
        if (e.source.get() == owned[i]->engine.get() && e.index == info->pImageIndices[i]) return true;
      return false;
    });
  Vector<VkSubmitInfo> &batches = s.batches; // the take-backs, then the present's own
  batches.clear();
  if (!claim.empty()) {
    VkResult r = claim.prepare(family, true);
    if (r != VK_SUCCESS) return r;
    claim.append_batches(&batches);
  }
  batches.reserve(batches.size() + 1); // the last allocation: nothing below can fail for memory
  for (uint32_t i = 0; i < n; ++i) {
    results[i] = owned[i]->engine->prepare_present(info->pImageIndices[i], family, &parts[i]);
    if (results[i] != VK_SUCCESS) continue;
    if (parts[i].release != VK_NULL_HANDLE) cmds.push_back(parts[i].release);
    if (parts[i].done != VK_NULL_HANDLE) signals.push_back(parts[i].done);
  }

  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.waitSemaphoreCount = static_cast<uint32_t>(waits.size());
  submit.pWaitSemaphores = waits.data();
  submit.pWaitDstStageMask = stages.data();
  submit.commandBufferCount = static_cast<uint32_t>(cmds.size());
  submit.pCommandBuffers = cmds.data();
  submit.signalSemaphoreCount = static_cast<uint32_t>(signals.size());
  submit.pSignalSemaphores = signals.data();
  batches.push_back(submit);
  VkFence first_fence = VK_NULL_HANDLE;
  for (uint32_t i = 0; i < n && first_fence == VK_NULL_HANDLE; ++i)
    if (results[i] == VK_SUCCESS) first_fence = parts[i].fence;
  VkResult submitted = dev.dispatch.QueueSubmit(queue, static_cast<uint32_t>(batches.size()), batches.data(), first_fence);
  if (submitted == VK_SUCCESS) claim.commit(); // else the claim gives its entries back
  VkResult combined = VK_SUCCESS;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t index = info->pImageIndices[i];
    if (results[i] == VK_SUCCESS) {
      // Each other swapchain's fence: an empty submit signals it once all earlier work is done.
      VkResult r = submitted;
      if (r == VK_SUCCESS && parts[i].fence != first_fence) r = dev.dispatch.QueueSubmit(queue, 0, nullptr, parts[i].fence);
      if (r == VK_SUCCESS) {
        Swapchain::PresentRequest request;
        request.damage = damage_of(regions, i, &damage);
        if (ids != nullptr) request.present_id = ids->pPresentIds[i];
        if (present_modes != nullptr) request.mode = switch_mode(*owned[i], present_modes->pPresentModes[i]);
        results[i] = owned[i]->engine->finish_present(index, parts[i], request);
      } else {
        owned[i]->engine->cancel_present(index, parts[i]); // the image stays acquired, as it was
        results[i] = r;
      }
    }
    if (info->pResults != nullptr) info->pResults[i] = results[i];
    if (severity(results[i]) > severity(combined)) combined = results[i];
  }
  // Present fences: the batch that waited on the app's semaphores and released the images is enqueued (even where
  // a swapchain's present then ended in an error, as for a retired one); an empty submit signals each fence once
  // that work is done, so the app may reuse the semaphores and destroy the swapchain without vkDeviceWaitIdle.
  if (submitted == VK_SUCCESS && present_fences != nullptr)
    for (uint32_t i = 0; i < n; ++i)
      if (present_fences->pFences[i] != VK_NULL_HANDLE) {
        VkResult r = dev.dispatch.QueueSubmit(queue, 0, nullptr, present_fences->pFences[i]);
        if (r != VK_SUCCESS && severity(r) > severity(combined)) combined = r;
      }
  return combined;
}

} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkWaitForPresentKHR(VkDevice device, VkSwapchainKHR swapchain, uint64_t id,
                                                   uint64_t timeout) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_DEVICE_LOST;
  // The swapchain's owner answers: the layer for its own, never the driver with a layer handle.
  if (std::shared_ptr<LayerSwapchain> sc = dev->layer_swapchain(swapchain)) return sc->engine->wait_for_present(id, timeout);
  if (!dev->present_wait || dev->driver_present_wait) return dev->dispatch.WaitForPresentKHR(device, swapchain, id, timeout);
  if (dev->driver_present_id) {
    SFW_LOG_ONCE(LogLevel::error, "vkWaitForPresentKHR: the driver has VK_KHR_present_id but not VK_KHR_present_wait");
    return VK_ERROR_OUT_OF_DATE_KHR;
  }
  try {
    std::unique_lock lock(dev->passthrough_ids_mutex);
    auto done = [&] {
      auto it = dev->passthrough_ids.find(swapchain);
      return it != dev->passthrough_ids.end() && it->second >= id;
    };
    const auto deadline = wl::deadline_after(std::chrono::nanoseconds(std::min<uint64_t>(timeout, INT64_MAX)));
    return dev->passthrough_ids_cv.wait_until(lock, deadline, done) ? VK_SUCCESS : VK_TIMEOUT;
  } catch (const std::system_error &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueuePresentKHR(VkQueue queue, const VkPresentInfoKHR *info) noexcept {
  DeviceState *dev = device_of(queue);
  if (dev == nullptr) return VK_ERROR_DEVICE_LOST;
  try {
    return present(*dev, queue, info);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueuePresentKHR: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

} // namespace sfw::layer
