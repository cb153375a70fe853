// Queue entry points. The fast path (nothing pending on this device) is one lock-free look-up,
// one relaxed load and a relaxed counter: no lock, no allocation. The slow path takes images
// back from the compositor in a batch it prepends to the app's submit.
#include <algorithm>
#include <new>

#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {

// One image to take back from the compositor before the app's batch that waits on `app_wait`.
// Normal: the layer's batch takes the app's wait and signals `done`, which the app's batch waits
// on instead. Lazy (the semaphore was never loaded): the layer's batch signals `app_wait` itself.
struct AcquireBack {
  VkSemaphore app_wait;
  VkPipelineStageFlags stage;
  Swapchain::TakeBack take;
};

// Claims the pending acquire (if any) for `semaphore`. Caller holds swapchains_mutex; `out` has room.
bool claim_pending(DeviceState &dev, VkSemaphore semaphore, uint32_t family, VkPipelineStageFlags stage,
                   Vector<AcquireBack> *out) noexcept {
  auto it = dev.find_pending_locked(semaphore);
  if (it == dev.pending.end()) return false;
  AcquireBack ab{semaphore, stage, {}};
  VkResult r = it->swapchain->engine->take_back(it->index, family, &ab.take);
  dev.pending.erase(it);
  dev.pending_acquires.fetch_sub(1, std::memory_order_relaxed);
  if (r != VK_SUCCESS) return false; // the app's wait stays as it was
  out->push_back(ab);
  return !ab.take.lazy; // lazy: the app's batch keeps waiting on its own semaphore
}

// Claims every fence-only acquire: the app's first batch waits for their take-back batches (`wait_for`
// gets each one's semaphore). Caller holds swapchains_mutex; `out` has room.
template <typename WaitFor> void claim_pending_next(DeviceState &dev, uint32_t family, Vector<AcquireBack> *out, WaitFor &&wait_for) {
  for (auto &entry : dev.pending_next) {
    AcquireBack ab{VK_NULL_HANDLE, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, {}};
    if (entry.swapchain->engine->take_back(entry.index, family, &ab.take) == VK_SUCCESS) {
      out->push_back(ab);
      wait_for(ab.take.done);
    }
    dev.pending_acquires.fetch_sub(1, std::memory_order_relaxed);
  }
  dev.pending_next.clear();
}

// `batches` has room for one per take-back.
VkResult submit_acquire_backs(DeviceState &dev, VkQueue queue, const Vector<AcquireBack> &backs, Vector<VkSubmitInfo> *batches) {
  batches->resize(backs.size(), {VK_STRUCTURE_TYPE_SUBMIT_INFO});
  for (size_t i = 0; i < backs.size(); ++i) {
    VkSubmitInfo &b = (*batches)[i];
    const AcquireBack &ab = backs[i];
    b.waitSemaphoreCount = ab.take.lazy || ab.app_wait == VK_NULL_HANDLE ? 0 : 1;
    b.pWaitSemaphores = &ab.app_wait;
    b.pWaitDstStageMask = &ab.stage;
    b.commandBufferCount = ab.take.cmd != VK_NULL_HANDLE ? 1 : 0;
    b.pCommandBuffers = &ab.take.cmd;
    b.signalSemaphoreCount = 1;
    b.pSignalSemaphores = ab.take.lazy ? &ab.app_wait : &ab.take.done;
  }
  return dev.dispatch.QueueSubmit(queue, static_cast<uint32_t>(batches->size()), batches->data(), VK_NULL_HANDLE);
}

// The room a slow-path submit needs, made before any pending acquire is claimed (caller holds
// swapchains_mutex): out of memory then changes nothing. Wait lists of batch i hold `waits_of(i)` of
// the app's, and batch 0 also the fence-only take-backs.
template <typename List, typename WaitsOf>
void reserve_slow_path(const DeviceState &dev, uint32_t count, WaitsOf &&waits_of, Vector<AcquireBack> *backs,
                       Vector<VkSubmitInfo> *batches, Vector<List> *waits) {
  size_t next = count > 0 ? dev.pending_next.size() : 0, total = next;
  for (uint32_t i = 0; i < count; ++i) {
    (*waits)[i].reserve(waits_of(i) + (i == 0 ? next : 0));
    total += waits_of(i);
  }
  backs->reserve(total);
  batches->reserve(total);
}

// Slow path of vkQueueSubmit: the app's waits on pending acquire semaphores move into a prepended
// batch that also acquires the image back; the app's batch waits on the layer's semaphore instead.
VkResult submit_with_acquire_backs(DeviceState &dev, VkQueue queue, uint32_t count, const VkSubmitInfo *submits,
                                   VkFence fence) {
  ScopedHostAllocator scope(dev.host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
  uint32_t family = dev.family_of(queue);
  Vector<AcquireBack> backs;
  Vector<VkSubmitInfo> batches;
  Vector<Vector<VkSemaphore>> waits(count);
  Vector<Vector<VkPipelineStageFlags>> stages(count);
  Vector<VkSubmitInfo> copy(submits, submits + count);
  {
    std::lock_guard lock(dev.swapchains_mutex);
    auto waits_of = [&](uint32_t i) -> size_t { return submits[i].waitSemaphoreCount; };
    reserve_slow_path(dev, count, waits_of, &backs, &batches, &waits);
    for (uint32_t i = 0; i < count; ++i) stages[i].reserve(waits[i].capacity());
    for (uint32_t i = 0; i < count; ++i)
      for (uint32_t w = 0; w < submits[i].waitSemaphoreCount; ++w) {
        VkSemaphore s = submits[i].pWaitSemaphores[w];
        if (claim_pending(dev, s, family, submits[i].pWaitDstStageMask[w], &backs)) s = backs.back().take.done;
        waits[i].push_back(s);
        stages[i].push_back(submits[i].pWaitDstStageMask[w]);
      }
    if (count > 0 && !dev.pending_next.empty())
      claim_pending_next(dev, family, &backs, [&](VkSemaphore done) {
        waits[0].push_back(done);
        stages[0].push_back(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
      });
  }
  if (backs.empty()) return dev.dispatch.QueueSubmit(queue, count, submits, fence);
  for (uint32_t i = 0; i < count; ++i) {
    copy[i].waitSemaphoreCount = static_cast<uint32_t>(waits[i].size());
    copy[i].pWaitSemaphores = waits[i].data();
    copy[i].pWaitDstStageMask = stages[i].data();
  }
  VkResult r = submit_acquire_backs(dev, queue, backs, &batches);
  if (r != VK_SUCCESS) return r;
  return dev.dispatch.QueueSubmit(queue, count, copy.data(), fence);
}

VkResult submit2_with_acquire_backs(DeviceState &dev, VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                    VkFence fence, PFN_vkQueueSubmit2 call_down) {
  ScopedHostAllocator scope(dev.host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
  uint32_t family = dev.family_of(queue);
  Vector<AcquireBack> backs;
  Vector<VkSubmitInfo> batches;
  Vector<Vector<VkSemaphoreSubmitInfo>> waits(count);
  Vector<VkSubmitInfo2> copy(submits, submits + count);
  {
    std::lock_guard lock(dev.swapchains_mutex);
    auto waits_of = [&](uint32_t i) -> size_t { return submits[i].waitSemaphoreInfoCount; };
    reserve_slow_path(dev, count, waits_of, &backs, &batches, &waits);
    for (uint32_t i = 0; i < count; ++i)
      for (uint32_t w = 0; w < submits[i].waitSemaphoreInfoCount; ++w) {
        VkSemaphoreSubmitInfo info = submits[i].pWaitSemaphoreInfos[w];
        // Stage flags 2 above the 32-bit range have no VkSubmitInfo form: ALL_COMMANDS then.
        VkPipelineStageFlags stage = info.stageMask >> 32 ? VkPipelineStageFlags(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT)
                                                          : static_cast<VkPipelineStageFlags>(info.stageMask);
        if (stage == 0) stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
        if (claim_pending(dev, info.semaphore, family, stage, &backs)) info.semaphore = backs.back().take.done;
        waits[i].push_back(info);
      }
    if (count > 0 && !dev.pending_next.empty())
      claim_pending_next(dev, family, &backs, [&](VkSemaphore done) {
        VkSemaphoreSubmitInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO};
        info.semaphore = done;
        info.stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
        waits[0].push_back(info);
      });
  }
  if (backs.empty()) return call_down(queue, count, submits, fence);
  for (uint32_t i = 0; i < count; ++i) {
    copy[i].waitSemaphoreInfoCount = static_cast<uint32_t>(waits[i].size());
    copy[i].pWaitSemaphoreInfos = waits[i].data();
  }
  VkResult r = submit_acquire_backs(dev, queue, backs, &batches);
  if (r != VK_SUCCESS) return r;
  return call_down(queue, count, copy.data(), fence);
}

[[gnu::noinline, gnu::cold]] void log_unknown_queue() noexcept { SFW_LOG_ONCE(LogLevel::error, "a queue the layer never saw"); }

inline DeviceState *queue_device(VkQueue queue) noexcept {
  DeviceState *state = device_of(queue);
  if (state == nullptr) [[unlikely]]
    log_unknown_queue();
  return state;
}

} // namespace

// The driver never throws (it is C); calling it through a noexcept type lets the compiler tail-call
// it from these noexcept entry points instead of wrapping the call in a terminate region.
template <typename R, typename... A> inline auto nothrow_fn(R (*f)(A...)) noexcept {
  return reinterpret_cast<R (*)(A...) noexcept>(f);
}

// The slow paths, out of line: the fast path then needs no stack frame and tail-calls the driver.
[[gnu::noinline, gnu::cold]] static VkResult submit_slow(DeviceState *dev, VkQueue queue, uint32_t count,
                                                         const VkSubmitInfo *submits, VkFence fence) noexcept {
  try {
    return submit_with_acquire_backs(*dev, queue, count, submits, fence);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueueSubmit: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

[[gnu::noinline, gnu::cold]] static VkResult submit2_slow(DeviceState *dev, VkQueue queue, uint32_t count,
                                                          const VkSubmitInfo2 *submits, VkFence fence,
                                                          PFN_vkQueueSubmit2 call_down) noexcept {
  try {
    return submit2_with_acquire_backs(*dev, queue, count, submits, fence, call_down);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueueSubmit2: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit(VkQueue queue, uint32_t count, const VkSubmitInfo *submits,
                                             VkFence fence) noexcept {
  DeviceState *dev = queue_device(queue);
  if (dev == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  dev->submits.fetch_add(1, std::memory_order_relaxed);
  if (dev->pending_acquires.load(std::memory_order_relaxed) == 0) [[likely]]
    return nothrow_fn(dev->dispatch.QueueSubmit)(queue, count, submits, fence);
  return submit_slow(dev, queue, count, submits, fence);
}

template <PFN_vkQueueSubmit2 DeviceDispatch::*slot>
static inline VkResult queue_submit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                     VkFence fence) noexcept {
  DeviceState *dev = queue_device(queue);
  if (dev == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  dev->submits.fetch_add(1, std::memory_order_relaxed);
  if (dev->pending_acquires.load(std::memory_order_relaxed) == 0) [[likely]]
    return nothrow_fn(dev->dispatch.*slot)(queue, count, submits, fence);
  return submit2_slow(dev, queue, count, submits, fence, dev->dispatch.*slot);
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                              VkFence fence) noexcept {
  return queue_submit2<&DeviceDispatch::QueueSubmit2>(queue, count, submits, fence);
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2KHR(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                                 VkFence fence) noexcept {
  return queue_submit2<&DeviceDispatch::QueueSubmit2KHR>(queue, count, submits, fence);
}

} // namespace sfw::layer

namespace sfw::layer {

// vkQueueBindSparse cannot run the layer's batches: a wait on a lazy acquire semaphore becomes a
// CPU wait (and the wait is dropped: nothing else will signal that semaphore).
VKAPI_ATTR VkResult VKAPI_CALL vkQueueBindSparse(VkQueue queue, uint32_t count, const VkBindSparseInfo *binds,
                                                 VkFence fence) noexcept {
  DeviceState *dev = queue_device(queue);
  if (dev == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  if (dev->pending_acquires.load(std::memory_order_relaxed) == 0) [[likely]]
    return dev->dispatch.QueueBindSparse(queue, count, binds, fence);
  try {
    ScopedHostAllocator scope(dev->host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
    uint32_t family = dev->family_of(queue);
    Vector<VkBindSparseInfo> copy(binds, binds + count);
    Vector<Vector<VkSemaphore>> waits(count);
    for (uint32_t i = 0; i < count; ++i) waits[i].reserve(binds[i].waitSemaphoreCount); // before any claim
    std::lock_guard lock(dev->swapchains_mutex);
    for (uint32_t i = 0; i < count; ++i) {
      for (uint32_t w = 0; w < binds[i].waitSemaphoreCount; ++w) {
        VkSemaphore s = binds[i].pWaitSemaphores[w];
        auto it = dev->find_pending_locked(s);
        if (it != dev->pending.end()) {
          Swapchain::TakeBack take;
          it->swapchain->engine->take_back(it->index, family, &take);
          if (take.cmd != VK_NULL_HANDLE)
            SFW_LOG_ONCE(LogLevel::warn, "vkQueueBindSparse waits on an acquire semaphore: no ownership transfer there");
          dev->pending.erase(it);
          dev->pending_acquires.fetch_sub(1, std::memory_order_relaxed);
          if (take.lazy) continue;
        }
        waits[i].push_back(s);
      }
      copy[i].waitSemaphoreCount = static_cast<uint32_t>(waits[i].size());
      copy[i].pWaitSemaphores = waits[i].data();
    }
    return dev->dispatch.QueueBindSparse(queue, count, copy.data(), fence);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueueBindSparse: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

} // namespace sfw::layer
