// The one table of intercepted entry points. It generates the dispatch tables (dispatch_tables.hpp),
// the GetProcAddr lookup (loader.cpp) and the NULL answer for extensions the app did not enable.
// Adding an interception is one line here, plus, for `custom`, the function in layer/.
//
// X(name, impl, gate_extension, gate_core_version)
//   impl: custom  - the layer's own function sfw::layer::vk<name> (declared in intercepts.hpp)
//         forward - passes straight down, through the dispatch table (forward.hpp); it is
//                   intercepted because it carries a swapchain or surface handle, which the
//                   layer must see once it owns them
//   gate: the entry point is answered only when the app enabled gate_extension (instance or
//         device) or asked for at least gate_core_version; "" with 0 means always.
#pragma once

#include <vulkan/vulkan.h>

#define SFW_V(major, minor) VK_MAKE_API_VERSION(0, major, minor, 0)

// Entry points whose first parameter is a VkInstance or VkPhysicalDevice.
#define SFW_INSTANCE_INTERCEPTS(X)                                                                  \
  X(DestroyInstance, custom, "", 0)                                                                \
  X(CreateDevice, custom, "", 0)                                                                   \
  X(EnumerateDeviceExtensionProperties, custom, "", 0)                                             \
  X(GetPhysicalDeviceFeatures2, custom, "", SFW_V(1, 1))                                          \
  X(GetPhysicalDeviceFeatures2KHR, custom, "VK_KHR_get_physical_device_properties2", 0)          \
  X(CreateWaylandSurfaceKHR, custom, "VK_KHR_wayland_surface", 0)                                 \
  X(GetPhysicalDeviceWaylandPresentationSupportKHR, forward, "VK_KHR_wayland_surface", 0)          \
  X(DestroySurfaceKHR, custom, "VK_KHR_surface", 0)                                               \
  X(GetPhysicalDeviceSurfaceSupportKHR, custom, "VK_KHR_surface", 0)                              \
  X(GetPhysicalDeviceSurfaceCapabilitiesKHR, custom, "VK_KHR_surface", 0)                         \
  X(GetPhysicalDeviceSurfaceFormatsKHR, custom, "VK_KHR_surface", 0)                              \
  X(GetPhysicalDeviceSurfacePresentModesKHR, custom, "VK_KHR_surface", 0)                         \
  X(GetPhysicalDeviceSurfaceCapabilities2KHR, custom, "VK_KHR_get_surface_capabilities2", 0)      \
  X(GetPhysicalDeviceSurfaceFormats2KHR, custom, "VK_KHR_get_surface_capabilities2", 0)           \
  X(GetPhysicalDeviceSurfaceCapabilities2EXT, custom, "VK_EXT_display_surface_counter", 0)        \
  X(GetPhysicalDevicePresentRectanglesKHR, custom, "", 0)

// Entry points whose first parameter is a VkDevice or VkQueue.
#define SFW_DEVICE_INTERCEPTS(X)                                                                    \
  X(DestroyDevice, custom, "", 0)                                                                  \
  X(GetDeviceQueue, custom, "", 0)                                                                 \
  X(GetDeviceQueue2, custom, "", SFW_V(1, 1))                                                      \
  X(QueueSubmit, custom, "", 0)                                                                    \
  X(QueueSubmit2, custom, "", SFW_V(1, 3))                                                         \
  X(QueueSubmit2KHR, custom, "VK_KHR_synchronization2", 0)                                         \
  X(QueuePresentKHR, custom, "VK_KHR_swapchain", 0)                                                \
  X(QueueBindSparse, custom, "", 0)                                                               \
  X(CreateSwapchainKHR, custom, "VK_KHR_swapchain", 0)                                            \
  X(DestroySwapchainKHR, custom, "VK_KHR_swapchain", 0)                                           \
  X(GetSwapchainImagesKHR, custom, "VK_KHR_swapchain", 0)                                         \
  X(AcquireNextImageKHR, custom, "VK_KHR_swapchain", 0)                                           \
  X(AcquireNextImage2KHR, custom, "VK_KHR_swapchain", 0)                                          \
  X(GetDeviceGroupPresentCapabilitiesKHR, forward, "VK_KHR_swapchain", 0)                          \
  X(GetDeviceGroupSurfacePresentModesKHR, custom, "VK_KHR_swapchain", 0)                          \
  X(GetSwapchainStatusKHR, forward, "VK_KHR_shared_presentable_image", 0)                          \
  X(ReleaseSwapchainImagesEXT, custom, "VK_EXT_swapchain_maintenance1", 0)                         \
  X(WaitForPresentKHR, custom, "VK_KHR_present_wait", 0)                                           \
  X(SetHdrMetadataEXT, forward, "VK_EXT_hdr_metadata", 0)                                          \
  X(GetSwapchainCounterEXT, forward, "VK_EXT_display_control", 0)                                  \
  X(GetRefreshCycleDurationGOOGLE, forward, "VK_GOOGLE_display_timing", 0)                         \
  X(GetPastPresentationTimingGOOGLE, forward, "VK_GOOGLE_display_timing", 0)                       \
  X(CreateSharedSwapchainsKHR, forward, "VK_KHR_display_swapchain", 0)                             \
  X(SetLocalDimmingAMD, forward, "VK_AMD_display_native_hdr", 0)                                   \
  X(SetDebugUtilsObjectNameEXT, custom, "VK_EXT_debug_utils", 0)                                  \
  X(SetDebugUtilsObjectTagEXT, custom, "VK_EXT_debug_utils", 0)                                   \
  X(DebugMarkerSetObjectNameEXT, custom, "VK_EXT_debug_marker", 0)                                \
  X(DebugMarkerSetObjectTagEXT, custom, "VK_EXT_debug_marker", 0)                                 \
  X(SetPrivateData, custom, "", SFW_V(1, 3))                                                      \
  X(GetPrivateData, custom, "", SFW_V(1, 3))                                                      \
  X(SetPrivateDataEXT, custom, "VK_EXT_private_data", 0)                                          \
  X(GetPrivateDataEXT, custom, "VK_EXT_private_data", 0)                                          \
  X(CreateImage, custom, "", 0)                                                                   \
  X(BindImageMemory2, custom, "", SFW_V(1, 1))                                                    \
  X(BindImageMemory2KHR, custom, "VK_KHR_bind_memory2", 0)                                        \
  X(GetDeviceImageMemoryRequirements, custom, "", SFW_V(1, 3))                                     \
  X(GetDeviceImageMemoryRequirementsKHR, custom, "VK_KHR_maintenance4", 0)                         \
  X(GetDeviceImageSparseMemoryRequirements, custom, "", SFW_V(1, 3))                               \
  X(GetDeviceImageSparseMemoryRequirementsKHR, custom, "VK_KHR_maintenance4", 0)

// Driver functions the layer calls for itself without intercepting them: X(name).
#define SFW_INSTANCE_CALLS(X)                                                                       \
  X(GetInstanceProcAddr)                                                                           \
  X(EnumeratePhysicalDevices)                                                                      \
  X(GetPhysicalDeviceProperties)                                                                   \
  X(GetPhysicalDeviceQueueFamilyProperties)                                                         \
  X(GetPhysicalDeviceMemoryProperties)

#define SFW_DEVICE_CALLS(X)                                                                         \
  X(GetDeviceProcAddr)                                                                             \
  X(DeviceWaitIdle)
