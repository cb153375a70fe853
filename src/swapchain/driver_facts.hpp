// The driver half of the modes table: what one VkPhysicalDevice offers for dma-buf swapchain
// images and SYNC_FD, asked through function pointers the caller gives (the layer's instance
// dispatch table, or the loader in syncfile-wsi-info), so both decide from the same facts.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

#include "swapchain/mode.hpp"
#include "wayland/formats.hpp"

namespace sfw {

// Any pointer may be null (a 1.0 instance without the *2 / external capability extensions): the
// facts it would answer then read "no".
struct DriverQueries {
  PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties = nullptr;
  PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties = nullptr;
  PFN_vkGetPhysicalDeviceFormatProperties2 GetPhysicalDeviceFormatProperties2 = nullptr; // core 1.1 or the KHR alias
  PFN_vkGetPhysicalDeviceImageFormatProperties2 GetPhysicalDeviceImageFormatProperties2 = nullptr;
  PFN_vkGetPhysicalDeviceExternalSemaphoreProperties GetPhysicalDeviceExternalSemaphoreProperties = nullptr;
  PFN_vkGetPhysicalDeviceExternalFenceProperties GetPhysicalDeviceExternalFenceProperties = nullptr;
};

// The formats the layer offers for swapchains, in the order it offers them (8-bit first: apps that take the first
// format get what they expect), each where the driver exports it and the compositor takes its DRM fourcc
// (drm_fourcc_for) with a modifier in common. Colour space: SRGB_NONLINEAR only.
inline constexpr VkFormat kSwapchainFormats[] = {
    VK_FORMAT_B8G8R8A8_UNORM,           VK_FORMAT_B8G8R8A8_SRGB,           VK_FORMAT_R8G8B8A8_UNORM,
    VK_FORMAT_R8G8B8A8_SRGB,            VK_FORMAT_A2R10G10B10_UNORM_PACK32, VK_FORMAT_A2B10G10R10_UNORM_PACK32,
    VK_FORMAT_R16G16B16A16_UNORM,       VK_FORMAT_R16G16B16A16_SFLOAT,     VK_FORMAT_R5G6B5_UNORM_PACK16};
// The usage dma-buf export is asked for: what vkcube's swapchain images need.
inline constexpr VkImageUsageFlags kSwapchainProbeUsage =
    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;

struct DriverFacts {
  std::string device_name;  // VkPhysicalDeviceProperties, for reports
  uint32_t api_version = 0;
  VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;

  std::vector<std::string> extensions; // the device extensions the driver offers
  bool ext_external_memory_fd = false;  // VK_KHR_external_memory_fd
  bool ext_dmabuf = false;              // VK_EXT_external_memory_dma_buf
  bool ext_drm_format_modifier = false; // VK_EXT_image_drm_format_modifier
  bool ext_semaphore_fd = false;        // VK_KHR_external_semaphore_fd
  bool ext_fence_fd = false;            // VK_KHR_external_fence_fd
  bool ext_queue_family_foreign = false;

  struct Modifier {
    uint64_t modifier = 0;
    uint32_t plane_count = 0;
    bool exportable = false; // a 2D image with kSwapchainProbeUsage exports as a dma-buf
  };
  struct FormatSupport {
    VkFormat format = VK_FORMAT_UNDEFINED;
    bool dmabuf_export_linear = false; // VK_IMAGE_TILING_LINEAR, exportable as a dma-buf
    std::vector<Modifier> modifiers;   // from VkDrmFormatModifierPropertiesListEXT (empty without the extension)
  };
  std::vector<FormatSupport> formats; // one per kSwapchainFormats entry, same order

  // VkExternal{Semaphore,Fence}Properties for SYNC_FD (binary semaphores): the feature bits as the
  // driver answers them, whether or not it offers the *_fd extension (apply_driver_facts needs both).
  bool semaphore_sync_fd_export = false, semaphore_sync_fd_import = false;
  bool fence_sync_fd_export = false, fence_sync_fd_import = false;

  // The device extensions the layer would add: the closure it asks for, limited to what the driver
  // offers, an extension only when the driver offers all its dependencies too.
  std::vector<std::string> layer_would_enable;

  bool has_extension(const char *name) const;
  const FormatSupport *format(VkFormat format) const; // null when not asked
};

DriverFacts query_driver_facts(const DriverQueries &queries, VkPhysicalDevice physical_device);

// The queries from an instance's vkGetInstanceProcAddr (the loader's, or the next layer's): the
// core 1.1 names, else the KHR aliases of the instance extensions.
DriverQueries driver_queries_from(PFN_vkGetInstanceProcAddr get_instance_proc_addr, VkInstance instance);

// The modifiers `format` exports as a dma-buf: DRM_FORMAT_MOD_LINEAR (0) when LINEAR tiling exports
// (with or without the modifier extension), then each exportable modifier, without duplicates.
std::vector<uint64_t> exportable_modifiers(const DriverFacts &facts, VkFormat format);

// The DRM fourcc the compositor sees for a swapchain format (both name the same little-endian layout):
// B8G8R8A8 is ARGB8888 (XRGB8888 when opaque), R8G8B8A8 ABGR8888 (XBGR8888), A2R10G10B10 ARGB2101010 (XRGB2101010),
// A2B10G10R10 ABGR2101010 (XBGR2101010), R16G16B16A16_UNORM ABGR16161616 (XBGR16161616), R16G16B16A16_SFLOAT
// ABGR16161616F (XBGR16161616F), R5G6B5 RGB565 (no alpha either way); 0 for others.
uint32_t drm_fourcc_for(VkFormat format, bool opaque);

// Whether `format` exports with one of `compositor_modifiers` (what the compositor lists for
// drm_fourcc_for(format)); exact match: an implicit DRM_FORMAT_MOD_INVALID entry does not count.
bool has_common_modifier(const DriverFacts &facts, VkFormat format, const std::vector<uint64_t> &compositor_modifiers);

// What the surface answers advertise for a format: the driver exports it with a modifier the compositor lists for
// drm_fourcc_for(format, opaque) (`compositor`: its dma-buf format table). Its twin at creation is
// common_modifiers() in layer/swapchain.cpp, which also knows whether the device enabled modifier tiling. Surface formats are the ones served
// opaque (every app may ask for VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR); PRE_MULTIPLIED is advertised only when every
// surface format is also served with alpha, since supportedCompositeAlpha holds for every format.
bool format_served(const DriverFacts &facts, VkFormat format, bool opaque, const std::vector<wl::FormatModifier> &compositor);
std::vector<VkFormat> surface_formats(const DriverFacts &facts, const std::vector<wl::FormatModifier> &compositor);
bool premultiplied_served(const DriverFacts &facts, const std::vector<wl::FormatModifier> &compositor);

// Fills the driver half of ModeFacts: dmabuf_image_export (B8G8R8A8_UNORM exports as a dma-buf,
// LINEAR or a modifier, and the driver offers VK_KHR_external_memory_fd and
// VK_EXT_external_memory_dma_buf), the SYNC_FD flags (feature bit and the *_fd extension), and
// queue_family_foreign. Leaves the compositor and kernel halves alone.
void apply_driver_facts(const DriverFacts &facts, ModeFacts *mode_facts);

// Whether the queue family ownership transfers to and from VK_QUEUE_FAMILY_FOREIGN_EXT (the release at present,
// the take-back before the next rendering) can do any work. On a CPU device (lavapipe) an image lives in host
// memory laid out as its modifier says, with no cache or compression of the queue family's own to hand over, and
// the semaphores and sync_files already order its memory: the transfers would only cost, and lavapipe drains
// the device at every pipeline barrier (two drains a frame). Every other device type gets them, as the spec asks
// for external memory. SYNCFILE_WSI_DEBUG=ownership-transfers keeps them everywhere (tests, validation).
bool needs_ownership_transfers(const DriverFacts &facts);

// Whether a queue family can present to a surface the layer owns: present submits a command buffer (the
// release to VK_QUEUE_FAMILY_FOREIGN_EXT, on every device that needs_ownership_transfers), which a
// sparse-binding-only family cannot run.
constexpr bool queue_family_can_present(VkQueueFlags flags) noexcept {
  return (flags & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT | VK_QUEUE_TRANSFER_BIT)) != 0;
}

} // namespace sfw
