// Queue entry points. The fast path (nothing pending on this device) is one lock-free look-up,
// one relaxed load and a relaxed counter: no lock, no allocation.
#include "intercepts.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
template <typename Call> VkResult submit(VkQueue queue, Call &&call_down) noexcept {
  DeviceState *state = device_of(queue);
  if (state == nullptr) [[unlikely]] {
    SFW_LOG_ONCE(LogLevel::error, "vkQueueSubmit on a queue the layer never saw");
    return VK_ERROR_DEVICE_LOST;
  }
  state->submits.fetch_add(1, std::memory_order_relaxed);
  // Acquires waiting to be taken back (issue 4) are handled off this path.
  return call_down(*state);
}
} // namespace

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit(VkQueue queue, uint32_t count, const VkSubmitInfo *submits,
                                             VkFence fence) noexcept {
  return submit(queue, [&](DeviceState &s) { return s.dispatch.QueueSubmit(queue, count, submits, fence); });
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                              VkFence fence) noexcept {
  return submit(queue, [&](DeviceState &s) { return s.dispatch.QueueSubmit2(queue, count, submits, fence); });
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueueSubmit2KHR(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                                 VkFence fence) noexcept {
  return submit(queue, [&](DeviceState &s) { return s.dispatch.QueueSubmit2KHR(queue, count, submits, fence); });
}

VKAPI_ATTR VkResult VKAPI_CALL vkQueuePresentKHR(VkQueue queue, const VkPresentInfoKHR *info) noexcept {
  DeviceState *state = device_of(queue);
  if (state == nullptr) return VK_ERROR_DEVICE_LOST;
  state->presents.fetch_add(1, std::memory_order_relaxed);
  return state->dispatch.QueuePresentKHR(queue, info);
}

} // namespace sfw::layer
