// The Vulkan device functions the swapchain engine calls, handed to it by the layer (loaded from
// the next layer's vkGetDeviceProcAddr). The engine links no loader.
#pragma once

#include <vulkan/vulkan.h>

#define SFW_SWAPCHAIN_DEVICE_CALLS(X)                                                               \
  X(CreateImage)                                                                                   \
  X(DestroyImage)                                                                                  \
  X(GetImageMemoryRequirements)                                                                    \
  X(GetImageSubresourceLayout)                                                                     \
  X(GetImageDrmFormatModifierPropertiesEXT)                                                        \
  X(AllocateMemory)                                                                                \
  X(FreeMemory)                                                                                    \
  X(BindImageMemory)                                                                               \
  X(GetMemoryFdKHR)                                                                                \
  X(GetMemoryFdPropertiesKHR)                                                                      \
  X(CreateSemaphore)                                                                               \
  X(DestroySemaphore)                                                                              \
  X(GetSemaphoreFdKHR)                                                                             \
  X(ImportSemaphoreFdKHR)                                                                          \
  X(CreateFence)                                                                                   \
  X(DestroyFence)                                                                                  \
  X(ImportFenceFdKHR)                                                                              \
  X(WaitForFences)                                                                                 \
  X(ResetFences)                                                                                   \
  X(GetFenceStatus)                                                                                \
  X(CreateCommandPool)                                                                             \
  X(DestroyCommandPool)                                                                            \
  X(AllocateCommandBuffers)                                                                        \
  X(BeginCommandBuffer)                                                                            \
  X(EndCommandBuffer)                                                                              \
  X(CmdPipelineBarrier)                                                                            \
  X(QueueSubmit)                                                                                   \
  X(QueueWaitIdle)

namespace sfw {

struct SwapchainVk {
#define SFW_SLOT(name) PFN_vk##name name = nullptr;
  SFW_SWAPCHAIN_DEVICE_CALLS(SFW_SLOT)
#undef SFW_SLOT
  // Command buffers the layer allocates need the loader's dispatch pointer (LoaderLayerInterface).
  VkResult (*set_device_loader_data)(VkDevice, void *) = nullptr;

  void load(VkDevice device, PFN_vkGetDeviceProcAddr gdpa) noexcept {
#define SFW_LOAD(name) name = reinterpret_cast<PFN_vk##name>(gdpa(device, "vk" #name));
    SFW_SWAPCHAIN_DEVICE_CALLS(SFW_LOAD)
#undef SFW_LOAD
  }
};

} // namespace sfw
