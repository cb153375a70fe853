// Dispatch tables generated from entrypoints.hpp: one slot per intercepted entry point and per
// driver function the layer calls for itself, loaded once from the next layer's GetProcAddr.
#pragma once

#include "entrypoints.hpp"

namespace sfw::layer {

struct InstanceDispatch {
#define SFW_SLOT(name, ...) PFN_vk##name name = nullptr;
  SFW_INSTANCE_INTERCEPTS(SFW_SLOT)
  SFW_INSTANCE_CALLS(SFW_SLOT)
#undef SFW_SLOT

  void load(VkInstance instance, PFN_vkGetInstanceProcAddr gipa) noexcept {
#define SFW_LOAD(name, ...) name = reinterpret_cast<PFN_vk##name>(gipa(instance, "vk" #name));
    SFW_INSTANCE_INTERCEPTS(SFW_LOAD)
    SFW_INSTANCE_CALLS(SFW_LOAD)
#undef SFW_LOAD
    GetInstanceProcAddr = gipa;
  }
};

struct DeviceDispatch {
#define SFW_SLOT(name, ...) PFN_vk##name name = nullptr;
  SFW_DEVICE_INTERCEPTS(SFW_SLOT)
  SFW_DEVICE_CALLS(SFW_SLOT)
#undef SFW_SLOT

  void load(VkDevice device, PFN_vkGetDeviceProcAddr gdpa) noexcept {
#define SFW_LOAD(name, ...) name = reinterpret_cast<PFN_vk##name>(gdpa(device, "vk" #name));
    SFW_DEVICE_INTERCEPTS(SFW_LOAD)
    SFW_DEVICE_CALLS(SFW_LOAD)
#undef SFW_LOAD
    GetDeviceProcAddr = gdpa;
  }
};

} // namespace sfw::layer
