// Driver facts: apply_driver_facts's rules, the modifier helpers, and query_driver_facts against a
// test double of a driver (function pointers answering from a table), including the extension closure.
#include <gtest/gtest.h>

#include <libdrm/drm_fourcc.h>

#include <cstring>

#include "swapchain/driver_facts.hpp"
#include "debug_flags.hpp"

using namespace sfw;

namespace {

DriverFacts exporting_driver() {
  DriverFacts f;
  f.ext_external_memory_fd = f.ext_dmabuf = f.ext_semaphore_fd = f.ext_fence_fd = f.ext_queue_family_foreign = true;
  f.semaphore_sync_fd_export = f.semaphore_sync_fd_import = f.fence_sync_fd_export = f.fence_sync_fd_import = true;
  for (VkFormat format : kSwapchainFormats) f.formats.push_back({format, true, {}});
  return f;
}

// The test double: a driver described by these globals.
std::vector<const char *> fake_extensions;
bool fake_linear_exports = false;
std::vector<uint64_t> fake_modifiers;         // offered for every format
std::vector<uint64_t> fake_exporting_modifiers; // of those, the ones that export
VkExternalSemaphoreFeatureFlags fake_semaphore_features = 0;
VkExternalFenceFeatureFlags fake_fence_features = 0;

VKAPI_ATTR VkResult VKAPI_CALL fake_enumerate(VkPhysicalDevice, const char *, uint32_t *count, VkExtensionProperties *out) {
  if (out == nullptr) {
    *count = static_cast<uint32_t>(fake_extensions.size());
    return VK_SUCCESS;
  }
  uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(fake_extensions.size()));
  for (uint32_t i = 0; i < n; ++i) {
    out[i] = {};
    strncpy(out[i].extensionName, fake_extensions[i], VK_MAX_EXTENSION_NAME_SIZE - 1);
  }
  *count = n;
  return n < fake_extensions.size() ? VK_INCOMPLETE : VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL fake_properties(VkPhysicalDevice, VkPhysicalDeviceProperties *p) {
  *p = {};
  strcpy(p->deviceName, "fake");
  p->apiVersion = VK_API_VERSION_1_1;
}
VKAPI_ATTR void VKAPI_CALL fake_format_properties2(VkPhysicalDevice, VkFormat, VkFormatProperties2 *p) {
  auto *list = static_cast<VkDrmFormatModifierPropertiesListEXT *>(p->pNext);
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->sType, VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT);
  if (list->pDrmFormatModifierProperties != nullptr)
    for (uint32_t i = 0; i < list->drmFormatModifierCount && i < fake_modifiers.size(); ++i)
      list->pDrmFormatModifierProperties[i] = {fake_modifiers[i], 1, VK_FORMAT_FEATURE_COLOR_ATTACHMENT_BIT};
  list->drmFormatModifierCount = static_cast<uint32_t>(fake_modifiers.size());
}
VKAPI_ATTR VkResult VKAPI_CALL fake_image_format_properties2(VkPhysicalDevice, const VkPhysicalDeviceImageFormatInfo2 *info,
                                                             VkImageFormatProperties2 *p) {
  auto *ext = static_cast<const VkPhysicalDeviceExternalImageFormatInfo *>(info->pNext);
  EXPECT_EQ(ext->handleType, VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT);
  EXPECT_EQ(info->usage, kSwapchainProbeUsage);
  bool ok = fake_linear_exports && info->tiling == VK_IMAGE_TILING_LINEAR;
  if (info->tiling == VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT) {
    auto *mod = static_cast<const VkPhysicalDeviceImageDrmFormatModifierInfoEXT *>(ext->pNext);
    ok = std::find(fake_exporting_modifiers.begin(), fake_exporting_modifiers.end(), mod->drmFormatModifier) !=
         fake_exporting_modifiers.end();
  }
  if (!ok) return VK_ERROR_FORMAT_NOT_SUPPORTED;
  static_cast<VkExternalImageFormatProperties *>(p->pNext)->externalMemoryProperties.externalMemoryFeatures =
      VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT | VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT;
  return VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL fake_semaphore(VkPhysicalDevice, const VkPhysicalDeviceExternalSemaphoreInfo *info,
                                          VkExternalSemaphoreProperties *p) {
  p->externalSemaphoreFeatures = info->handleType == VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT ? fake_semaphore_features : 0;
}
VKAPI_ATTR void VKAPI_CALL fake_fence(VkPhysicalDevice, const VkPhysicalDeviceExternalFenceInfo *info, VkExternalFenceProperties *p) {
  p->externalFenceFeatures = info->handleType == VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT ? fake_fence_features : 0;
}

DriverQueries fake_queries() {
  return {fake_enumerate, fake_properties, fake_format_properties2, fake_image_format_properties2, fake_semaphore, fake_fence};
}

} // namespace

TEST(DriverFacts, SparseOnlyQueueFamiliesCannotPresent) {
  EXPECT_TRUE(queue_family_can_present(VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_SPARSE_BINDING_BIT));
  EXPECT_TRUE(queue_family_can_present(VK_QUEUE_COMPUTE_BIT));
  EXPECT_TRUE(queue_family_can_present(VK_QUEUE_TRANSFER_BIT));
  EXPECT_FALSE(queue_family_can_present(VK_QUEUE_SPARSE_BINDING_BIT));
  EXPECT_FALSE(queue_family_can_present(VK_QUEUE_SPARSE_BINDING_BIT | VK_QUEUE_PROTECTED_BIT));
}

// The FOREIGN transfers are left out only on a CPU device (unless SYNCFILE_WSI_DEBUG asks for them; not set here).
TEST(DriverFacts, OwnershipTransfersEverywhereButOnACpuDevice) {
  DriverFacts f = exporting_driver();
  for (VkPhysicalDeviceType type : {VK_PHYSICAL_DEVICE_TYPE_OTHER, VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                    VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU}) {
    f.device_type = type;
    EXPECT_TRUE(needs_ownership_transfers(f)) << type;
  }
  f.device_type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  EXPECT_EQ(needs_ownership_transfers(f), sfw::debug_flags().ownership_transfers);
}

TEST(DriverFacts, ApplyFillsTheDriverHalfOnly) {
  ModeFacts m;
  m.compositor_dmabuf = m.common_format = true;
  apply_driver_facts(exporting_driver(), &m);
  EXPECT_TRUE(m.dmabuf_image_export && m.fence_sync_fd_import && m.semaphore_sync_fd_import &&
              m.semaphore_sync_fd_export && m.queue_family_foreign);
  EXPECT_TRUE(m.compositor_dmabuf && m.common_format);
  EXPECT_EQ(m.kernel_sync_file, Tristate::unknown);
}

TEST(DriverFacts, FeatureBitsNeedTheirExtensions) {
  DriverFacts f = exporting_driver();
  f.ext_semaphore_fd = f.ext_fence_fd = f.ext_dmabuf = f.ext_queue_family_foreign = false;
  ModeFacts m;
  apply_driver_facts(f, &m);
  EXPECT_FALSE(m.dmabuf_image_export || m.fence_sync_fd_import || m.semaphore_sync_fd_import ||
               m.semaphore_sync_fd_export || m.queue_family_foreign);
}

TEST(DriverFacts, ExportIsDecidedByB8G8R8A8UnormWithLinearOrAModifier) {
  DriverFacts f = exporting_driver();
  for (auto &s : f.formats) s.dmabuf_export_linear = s.format != VK_FORMAT_B8G8R8A8_UNORM;
  ModeFacts m;
  apply_driver_facts(f, &m);
  EXPECT_FALSE(m.dmabuf_image_export);
  f.formats[0].modifiers = {{I915_FORMAT_MOD_X_TILED, 1, false}};
  apply_driver_facts(f, &m);
  EXPECT_FALSE(m.dmabuf_image_export) << "a listed modifier that cannot export does not count";
  f.formats[0].modifiers.push_back({I915_FORMAT_MOD_Y_TILED, 1, true});
  apply_driver_facts(f, &m);
  EXPECT_TRUE(m.dmabuf_image_export);
}

TEST(DriverFacts, ExportableModifiersAndCommonFormat) {
  DriverFacts f = exporting_driver();
  f.formats[0].modifiers = {{DRM_FORMAT_MOD_LINEAR, 1, true}, {I915_FORMAT_MOD_X_TILED, 1, true}, {I915_FORMAT_MOD_Y_TILED, 1, false}};
  EXPECT_EQ(exportable_modifiers(f, VK_FORMAT_B8G8R8A8_UNORM),
            (std::vector<uint64_t>{DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED}));
  EXPECT_TRUE(exportable_modifiers(f, VK_FORMAT_R16_UNORM).empty()) << "not a swapchain format";
  EXPECT_TRUE(has_common_modifier(f, VK_FORMAT_B8G8R8A8_UNORM, {DRM_FORMAT_MOD_INVALID, I915_FORMAT_MOD_X_TILED}));
  EXPECT_FALSE(has_common_modifier(f, VK_FORMAT_B8G8R8A8_UNORM, {DRM_FORMAT_MOD_INVALID, I915_FORMAT_MOD_Y_TILED}));
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_B8G8R8A8_SRGB, false), DRM_FORMAT_ARGB8888);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_B8G8R8A8_UNORM, true), DRM_FORMAT_XRGB8888);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R8G8B8A8_UNORM, false), DRM_FORMAT_ABGR8888);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R16_UNORM, false), 0u);
  // The wider formats (issue 17): the fourcc naming the same little-endian layout, X for opaque.
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_A2R10G10B10_UNORM_PACK32, false), DRM_FORMAT_ARGB2101010);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_A2R10G10B10_UNORM_PACK32, true), DRM_FORMAT_XRGB2101010);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_A2B10G10R10_UNORM_PACK32, false), DRM_FORMAT_ABGR2101010);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_A2B10G10R10_UNORM_PACK32, true), DRM_FORMAT_XBGR2101010);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R16G16B16A16_UNORM, true), DRM_FORMAT_XBGR16161616);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R16G16B16A16_SFLOAT, false), DRM_FORMAT_ABGR16161616F);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R5G6B5_UNORM_PACK16, true), DRM_FORMAT_RGB565);
  EXPECT_EQ(drm_fourcc_for(VK_FORMAT_R5G6B5_UNORM_PACK16, false), DRM_FORMAT_RGB565) << "no alpha channel either way";
}

// Surface formats and PRE_MULTIPLIED from one rule: a format is offered when its opaque fourcc has a common
// modifier; PRE_MULTIPLIED only when every offered format's alpha fourcc has one too (before: always advertised,
// and creation failed for an XRGB-only compositor).
TEST(DriverFacts, SurfaceFormatsAndPremultipliedFollowTheCompositorsFourccs) {
  DriverFacts f = exporting_driver();
  for (auto &fs : f.formats) fs.modifiers = {{DRM_FORMAT_MOD_LINEAR, 1, true}};
  const std::vector<wl::FormatModifier> both = {{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR}};
  EXPECT_EQ(surface_formats(f, both), (std::vector<VkFormat>{VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_B8G8R8A8_SRGB}));
  EXPECT_TRUE(premultiplied_served(f, both));

  const std::vector<wl::FormatModifier> opaque_only = {{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}};
  EXPECT_EQ(surface_formats(f, opaque_only).size(), 2u);
  EXPECT_FALSE(premultiplied_served(f, opaque_only)) << "ARGB8888 is not offered: PRE_MULTIPLIED cannot be created";

  // One offered format without its alpha fourcc takes PRE_MULTIPLIED away for all (it holds for every format).
  const std::vector<wl::FormatModifier> mixed = {{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR},
                                                 {DRM_FORMAT_XBGR8888, DRM_FORMAT_MOD_LINEAR}};
  EXPECT_EQ(surface_formats(f, mixed).size(), 4u);
  EXPECT_FALSE(premultiplied_served(f, mixed));

  // Alpha only: OPAQUE would need XRGB8888, so the format is not offered at all.
  const std::vector<wl::FormatModifier> alpha_only = {{DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR}};
  EXPECT_TRUE(surface_formats(f, alpha_only).empty());
  EXPECT_FALSE(premultiplied_served(f, alpha_only));

  // A fourcc with only a modifier the driver cannot export does not count.
  const std::vector<wl::FormatModifier> tiled_alpha = {{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED}};
  EXPECT_FALSE(premultiplied_served(f, tiled_alpha));
}

TEST(DriverFacts, QueryAsksTheDriverAndClosesOverDependencies) {
  fake_extensions = {VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
                     VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME, VK_EXT_IMAGE_DRM_FORMAT_MODIFIER_EXTENSION_NAME,
                     VK_KHR_BIND_MEMORY_2_EXTENSION_NAME, VK_KHR_IMAGE_FORMAT_LIST_EXTENSION_NAME,
                     VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME, VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  fake_linear_exports = false;
  fake_modifiers = {DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED};
  fake_exporting_modifiers = {I915_FORMAT_MOD_X_TILED};
  fake_semaphore_features = VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT;
  fake_fence_features = VK_EXTERNAL_FENCE_FEATURE_IMPORTABLE_BIT | VK_EXTERNAL_FENCE_FEATURE_EXPORTABLE_BIT;
  DriverFacts f = query_driver_facts(fake_queries(), VK_NULL_HANDLE);
  EXPECT_EQ(f.device_name, "fake");
  EXPECT_EQ(f.extensions.size(), fake_extensions.size());
  EXPECT_TRUE(f.ext_dmabuf && f.ext_drm_format_modifier && f.ext_external_memory_fd && f.ext_fence_fd);
  EXPECT_FALSE(f.ext_semaphore_fd || f.ext_queue_family_foreign);
  ASSERT_EQ(f.formats.size(), std::size(kSwapchainFormats));
  EXPECT_FALSE(f.formats[0].dmabuf_export_linear);
  ASSERT_EQ(f.formats[0].modifiers.size(), 2u);
  EXPECT_FALSE(f.formats[0].modifiers[0].exportable);
  EXPECT_TRUE(f.formats[0].modifiers[1].exportable);
  EXPECT_TRUE(f.semaphore_sync_fd_import && !f.semaphore_sync_fd_export);
  EXPECT_TRUE(f.fence_sync_fd_import && f.fence_sync_fd_export);
  // The modifier extension lacks VK_KHR_sampler_ycbcr_conversion; the fence fd extension lacks
  // VK_KHR_external_fence: neither is enabled. Swapchain is not the layer's to add.
  EXPECT_EQ(f.layer_would_enable, (std::vector<std::string>{VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME,
                                                            VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
                                                            VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME,
                                                            VK_KHR_BIND_MEMORY_2_EXTENSION_NAME,
                                                            VK_KHR_IMAGE_FORMAT_LIST_EXTENSION_NAME}));
  ModeFacts m;
  apply_driver_facts(f, &m);
  EXPECT_TRUE(m.dmabuf_image_export && m.fence_sync_fd_import);
  EXPECT_FALSE(m.semaphore_sync_fd_import || m.queue_family_foreign);
}

TEST(DriverFacts, NullQueriesAnswerNo) {
  DriverFacts f = query_driver_facts(DriverQueries{}, VK_NULL_HANDLE);
  EXPECT_TRUE(f.extensions.empty() && f.layer_would_enable.empty());
  ModeFacts m;
  apply_driver_facts(f, &m);
  EXPECT_FALSE(m.dmabuf_image_export || m.fence_sync_fd_import || m.semaphore_sync_fd_export);
}
