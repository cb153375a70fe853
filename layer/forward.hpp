// Pass-through entry points generated from the dispatch table slot: find the object's state by
// its dispatch key and call the next layer. Used for the `forward` rows of entrypoints.hpp.
#pragma once

#include <type_traits>

#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

template <typename R> R unknown_handle_result(const char *what) noexcept {
  SFW_LOG_ONCE(LogLevel::error, "%s called with a handle the layer never saw", what);
  if constexpr (std::is_same_v<R, VkResult>) return VK_ERROR_INITIALIZATION_FAILED;
  else if constexpr (!std::is_void_v<R>) return R{};
}

template <auto Slot> struct InstanceForward;
template <typename R, typename First, typename... Rest, R(VKAPI_PTR *InstanceDispatch::*Slot)(First, Rest...)>
struct InstanceForward<Slot> {
  static R VKAPI_CALL call(First first, Rest... rest) noexcept {
    InstanceState *state = instance_of(first);
    if (state == nullptr) return unknown_handle_result<R>(__func__);
    return (state->dispatch.*Slot)(first, rest...);
  }
};

template <auto Slot> struct DeviceForward;
template <typename R, typename First, typename... Rest, R(VKAPI_PTR *DeviceDispatch::*Slot)(First, Rest...)>
struct DeviceForward<Slot> {
  static R VKAPI_CALL call(First first, Rest... rest) noexcept {
    DeviceState *state = device_of(first);
    if (state == nullptr) return unknown_handle_result<R>(__func__);
    return (state->dispatch.*Slot)(first, rest...);
  }
};

} // namespace sfw::layer
