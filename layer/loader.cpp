// The loader interface: negotiation and the two GetProcAddr functions, the only exported symbols.
#include <cstring>
#include <string_view>

#include "forward.hpp"
#include "handle_commands.hpp" // generated from vk.xml
#include "intercepts.hpp"

namespace sfw::layer {

DispatchMap<InstanceState> g_instance_map;
DispatchMap<DeviceState> g_device_map;

namespace {

#define SFW_FN(fn) reinterpret_cast<PFN_vkVoidFunction>(fn)
#define SFW_IMPL_custom(scope, name) SFW_FN(&::sfw::layer::vk##name)
#define SFW_IMPL_forward(scope, name) SFW_FN(&scope##Forward<&scope##Dispatch::name>::call)
#define SFW_INSTANCE_ROW(name, impl, ext, ver) {"vk" #name, SFW_IMPL_##impl(Instance, name), Scope::instance, ext, ver},
#define SFW_DEVICE_ROW(name, impl, ext, ver) {"vk" #name, SFW_IMPL_##impl(Device, name), Scope::device, ext, ver},

const Intercept kIntercepts[] = {SFW_INSTANCE_INTERCEPTS(SFW_INSTANCE_ROW) SFW_DEVICE_INTERCEPTS(SFW_DEVICE_ROW)};

} // namespace

const Intercept *find_intercept(const char *name) noexcept {
  for (const Intercept &row : kIntercepts)
    if (std::strcmp(row.name, name) == 0) return &row;
  return nullptr;
}

bool is_hidden_command(const char *name) noexcept {
  std::string_view n(name);
  for (std::string_view carrier : kHandleCarryingCommands)
    if (carrier == n) return find_intercept(name) == nullptr;
  return false;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetDeviceProcAddr(VkDevice device, const char *name) noexcept;

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetInstanceProcAddr(VkInstance instance, const char *name) noexcept {
  if (name == nullptr) return nullptr;
  if (std::strcmp(name, "vkGetInstanceProcAddr") == 0) return SFW_FN(&GetInstanceProcAddr);
  if (std::strcmp(name, "vkCreateInstance") == 0) return SFW_FN(&vkCreateInstance);
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return SFW_FN(&GetDeviceProcAddr);
  if (instance == VK_NULL_HANDLE) return nullptr;
  InstanceState *state = instance_of(instance);
  if (state == nullptr) return nullptr;
  PFN_vkVoidFunction next = state->dispatch.GetInstanceProcAddr(instance, name);
  if (const Intercept *row = find_intercept(name)) {
    if (next == nullptr) return nullptr;
    // A device-level name asked through the instance: no device to gate by yet.
    if (row->scope == Scope::device) return row->function;
    return state->app.allows(row->gate_extension, row->gate_core_version) ? row->function : nullptr;
  }
  if (is_hidden_command(name)) return nullptr;
  return next;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetDeviceProcAddr(VkDevice device, const char *name) noexcept {
  if (name == nullptr || device == VK_NULL_HANDLE) return nullptr;
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return SFW_FN(&GetDeviceProcAddr);
  DeviceState *state = device_of(device);
  if (state == nullptr) return nullptr;
  const Intercept *row = find_intercept(name);
  if (row != nullptr && row->scope == Scope::device) {
    // The driver's answer decides, except for what the layer serves where the driver has nothing.
    const bool layer_serves = state->present_wait && !state->driver_present_wait && std::strcmp(name, "vkWaitForPresentKHR") == 0;
    if (!layer_serves && state->dispatch.GetDeviceProcAddr(device, name) == nullptr) return nullptr;
    // Device-level commands of instance extensions (VK_EXT_debug_utils) count the instance's too.
    bool allowed = state->app.allows(row->gate_extension, row->gate_core_version) ||
                   (*row->gate_extension != '\0' && state->instance->app.has(row->gate_extension));
    return allowed ? row->function : nullptr;
  }
  if (is_hidden_command(name)) return nullptr;
  return state->dispatch.GetDeviceProcAddr(device, name);
}

} // namespace sfw::layer

extern "C" {

// Interface version 2: the loader calls our GetProcAddr functions directly.
__attribute__((visibility("default"))) VKAPI_ATTR VkResult VKAPI_CALL
vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *version) noexcept {
  if (version == nullptr || version->sType != LAYER_NEGOTIATE_INTERFACE_STRUCT) return VK_ERROR_INITIALIZATION_FAILED;
  if (version->loaderLayerInterfaceVersion < 2) return VK_ERROR_INITIALIZATION_FAILED;
  version->loaderLayerInterfaceVersion = 2;
  version->pfnGetInstanceProcAddr = &sfw::layer::GetInstanceProcAddr;
  version->pfnGetDeviceProcAddr = &sfw::layer::GetDeviceProcAddr;
  version->pfnGetPhysicalDeviceProcAddr = nullptr;
  return VK_SUCCESS;
}

__attribute__((visibility("default"))) VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL
vkGetInstanceProcAddr(VkInstance instance, const char *name) noexcept {
  return sfw::layer::GetInstanceProcAddr(instance, name);
}

__attribute__((visibility("default"))) VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL
vkGetDeviceProcAddr(VkDevice device, const char *name) noexcept {
  return sfw::layer::GetDeviceProcAddr(device, name);
}

} // extern "C"
