// Queue entry points. The fast path (nothing pending on this device) is one lock-free look-up,
// one relaxed load and a relaxed counter: no lock, no allocation. The slow path takes images
// back from the compositor (PendingAcquires) in the same call, in the queue's reused scratch.
#include <algorithm>
#include <new>

#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {

bool waits_on(const VkSubmitInfo &b, VkSemaphore s) noexcept {
  return std::find(b.pWaitSemaphores, b.pWaitSemaphores + b.waitSemaphoreCount, s) != b.pWaitSemaphores + b.waitSemaphoreCount;
}
bool waits_on(const VkSubmitInfo2 &b, VkSemaphore s) noexcept {
  return std::any_of(b.pWaitSemaphoreInfos, b.pWaitSemaphoreInfos + b.waitSemaphoreInfoCount,
                     [&](const VkSemaphoreSubmitInfo &w) { return w.semaphore == s; });
}
bool waits_on(const VkBindSparseInfo &b, VkSemaphore s) noexcept {
  return std::find(b.pWaitSemaphores, b.pWaitSemaphores + b.waitSemaphoreCount, s) != b.pWaitSemaphores + b.waitSemaphoreCount;
}
bool has_commands(const VkSubmitInfo &b) noexcept { return b.commandBufferCount != 0; }
bool has_commands(const VkSubmitInfo2 &b) noexcept { return b.commandBufferInfoCount != 0; }

// Takes what `batches` needs taken back: the acquires whose semaphores they wait on, and, where `renders`,
// the fence-only acquires (the app waited on their fences; its first submit with command buffers uses them).
template <typename Info> void take_for(PendingAcquires::Claim *claim, uint32_t count, const Info *batches, bool renders) {
  claim->take([&](const PendingAcquires::Entry &e) {
    if (e.semaphore == VK_NULL_HANDLE) return renders;
    return std::any_of(batches, batches + count, [&](const Info &b) { return waits_on(b, e.semaphore); });
  });
}

// The slow path of vkQueueSubmit and vkQueueSubmit2: the app's batches, with the take-backs they need
// (in them, or in batches of the layer's before them), in one driver call. A failure anywhere leaves every
// pending acquire as it was. Built in the queue's scratch: a frame allocates nothing.
template <typename Info, typename CallDown>
VkResult submit_after_take_backs(DeviceState &dev, VkQueue queue, uint32_t count, const Info *submits, CallDown &&call_down) {
  ScopedHostAllocator scope(dev.host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
  QueueState *q = dev.queue_state(queue);
  QueueState unknown; // a queue the layer never saw: a scratch for this call only
  if (q == nullptr) q = &unknown;
  PendingAcquires::Claim claim(dev.pending, q->scratch.claim);
  take_for(&claim, count, submits, std::any_of(submits, submits + count, [](const Info &b) { return has_commands(b); }));
  if (claim.empty()) return call_down(count, submits);
  VkResult r = claim.prepare(q->family, dev.can_record(q->family));
  if (r != VK_SUCCESS) return r;
  std::span<const Info> batches = claim.with_app_batches(count, submits);
  r = call_down(static_cast<uint32_t>(batches.size()), batches.data());
  if (r == VK_SUCCESS) claim.commit();
  return r;
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
    return submit_after_take_backs(*dev, queue, count, submits, [&](uint32_t n, const VkSubmitInfo *batches) {
      return dev->dispatch.QueueSubmit(queue, n, batches, fence);
    });
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueueSubmit: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

[[gnu::noinline, gnu::cold]] static VkResult submit2_slow(DeviceState *dev, VkQueue queue, uint32_t count,
                                                          const VkSubmitInfo2 *submits, VkFence fence,
                                                          PFN_vkQueueSubmit2 call_down) noexcept {
  try {
    return submit_after_take_backs(*dev, queue, count, submits, [&](uint32_t n, const VkSubmitInfo2 *batches) {
      return call_down(queue, n, batches, fence);
    });
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
  if (!dev->pending.any()) [[likely]]
    return nothrow_fn(dev->dispatch.QueueSubmit)(queue, count, submits, fence);
  return submit_slow(dev, queue, count, submits, fence);
}

template <PFN_vkQueueSubmit2 DeviceDispatch::*slot>
static inline VkResult queue_submit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                     VkFence fence) noexcept {
  DeviceState *dev = queue_device(queue);
  if (dev == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  dev->submits.fetch_add(1, std::memory_order_relaxed);
  if (!dev->pending.any()) [[likely]]
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

// vkQueueBindSparse runs no command buffers: its take-backs go first in a vkQueueSubmit of their own on
// the same queue (without the ownership transfer where the queue cannot record it), then the binds, unchanged.
VKAPI_ATTR VkResult VKAPI_CALL vkQueueBindSparse(VkQueue queue, uint32_t count, const VkBindSparseInfo *binds,
                                                 VkFence fence) noexcept {
  DeviceState *dev = queue_device(queue);
  if (dev == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  if (!dev->pending.any()) [[likely]]
    return dev->dispatch.QueueBindSparse(queue, count, binds, fence);
  try {
    ScopedHostAllocator scope(dev->host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
    QueueState *q = dev->queue_state(queue);
    QueueState unknown; // a queue the layer never saw: a scratch for this call only
    if (q == nullptr) q = &unknown;
    PendingAcquires::Claim claim(dev->pending, q->scratch.claim);
    take_for(&claim, count, binds, false);
    if (!claim.empty()) {
      VkResult r = claim.prepare(q->family, dev->can_record(q->family));
      if (r != VK_SUCCESS) return r;
      Vector<VkSubmitInfo> &batches = q->scratch.batches;
      batches.clear();
      claim.append_batches(&batches);
      if (!batches.empty() &&
          (r = dev->dispatch.QueueSubmit(queue, static_cast<uint32_t>(batches.size()), batches.data(), VK_NULL_HANDLE)) != VK_SUCCESS)
        return r;
      claim.commit(); // the binds' own failure cannot undo a submitted take-back; its semaphores are signalled again
    }
    return dev->dispatch.QueueBindSparse(queue, count, binds, fence);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkQueueBindSparse: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

} // namespace sfw::layer
