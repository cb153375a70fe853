#include "swapchain/driver_facts.hpp"

#include <drm_fourcc.h>

#include "debug_flags.hpp"

#include <algorithm>
#include <cstring>

namespace sfw {

namespace {

// The closure the layer asks for, dependencies first: an entry is enabled when the driver offers it
// and every listed dependency is enabled already.
struct ExtensionRule {
  const char *name;
  const char *depends[3];
};
constexpr ExtensionRule kClosure[] = {
    {VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME, {}},
    {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME, {VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME}},
    {VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME, {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME}},
    {VK_KHR_MAINTENANCE_1_EXTENSION_NAME, {}},
    {VK_KHR_GET_MEMORY_REQUIREMENTS_2_EXTENSION_NAME, {}},
    {VK_KHR_BIND_MEMORY_2_EXTENSION_NAME, {}},
    {VK_KHR_IMAGE_FORMAT_LIST_EXTENSION_NAME, {}},
    {VK_KHR_SAMPLER_YCBCR_CONVERSION_EXTENSION_NAME,
     {VK_KHR_MAINTENANCE_1_EXTENSION_NAME, VK_KHR_BIND_MEMORY_2_EXTENSION_NAME,
      VK_KHR_GET_MEMORY_REQUIREMENTS_2_EXTENSION_NAME}},
    {VK_EXT_IMAGE_DRM_FORMAT_MODIFIER_EXTENSION_NAME,
     {VK_KHR_BIND_MEMORY_2_EXTENSION_NAME, VK_KHR_IMAGE_FORMAT_LIST_EXTENSION_NAME,
      VK_KHR_SAMPLER_YCBCR_CONVERSION_EXTENSION_NAME}},
    {VK_KHR_DEDICATED_ALLOCATION_EXTENSION_NAME, {VK_KHR_GET_MEMORY_REQUIREMENTS_2_EXTENSION_NAME}},
    {VK_KHR_EXTERNAL_SEMAPHORE_EXTENSION_NAME, {}},
    {VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME, {VK_KHR_EXTERNAL_SEMAPHORE_EXTENSION_NAME}},
    {VK_KHR_EXTERNAL_FENCE_EXTENSION_NAME, {}},
    {VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME, {VK_KHR_EXTERNAL_FENCE_EXTENSION_NAME}},
    {VK_EXT_QUEUE_FAMILY_FOREIGN_EXTENSION_NAME, {VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME}},
};

bool contains(const std::vector<std::string> &list, const char *name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::vector<std::string> closure(const std::vector<std::string> &offered) {
  std::vector<std::string> enabled;
  for (const ExtensionRule &rule : kClosure) {
    if (!contains(offered, rule.name)) continue;
    bool deps = std::all_of(std::begin(rule.depends), std::end(rule.depends),
                            [&](const char *d) { return d == nullptr || contains(enabled, d); });
    if (deps) enabled.emplace_back(rule.name);
  }
  return enabled;
}

std::vector<std::string> enumerate_extensions(const DriverQueries &q, VkPhysicalDevice pd) {
  std::vector<std::string> names;
  if (q.EnumerateDeviceExtensionProperties == nullptr) return names;
  std::vector<VkExtensionProperties> props;
  VkResult r;
  do { // VK_INCOMPLETE when the list grows between the calls
    uint32_t count = 0;
    if (q.EnumerateDeviceExtensionProperties(pd, nullptr, &count, nullptr) != VK_SUCCESS) return names;
    props.resize(count);
    r = q.EnumerateDeviceExtensionProperties(pd, nullptr, &count, props.data());
    props.resize(count);
  } while (r == VK_INCOMPLETE);
  if (r != VK_SUCCESS) return names;
  for (const VkExtensionProperties &p : props) names.emplace_back(p.extensionName);
  return names;
}

// Whether a 2D image of `format` with `tiling` (and `modifier`, for DRM_FORMAT_MODIFIER_EXT) can
// be created with dma-buf memory and exported.
bool dmabuf_exportable(const DriverQueries &q, VkPhysicalDevice pd, VkFormat format, VkImageTiling tiling,
                       uint64_t modifier) {
  if (q.GetPhysicalDeviceImageFormatProperties2 == nullptr) return false;
  VkPhysicalDeviceImageDrmFormatModifierInfoEXT modifier_info{};
  modifier_info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_DRM_FORMAT_MODIFIER_INFO_EXT;
  modifier_info.drmFormatModifier = modifier;
  modifier_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkPhysicalDeviceExternalImageFormatInfo external_info{};
  external_info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO;
  external_info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  if (tiling == VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT) external_info.pNext = &modifier_info;
  VkPhysicalDeviceImageFormatInfo2 info{};
  info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2;
  info.pNext = &external_info;
  info.format = format;
  info.type = VK_IMAGE_TYPE_2D;
  info.tiling = tiling;
  info.usage = kSwapchainProbeUsage;

  VkExternalImageFormatProperties external_props{};
  external_props.sType = VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES;
  VkImageFormatProperties2 props{};
  props.sType = VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2;
  props.pNext = &external_props;
  if (q.GetPhysicalDeviceImageFormatProperties2(pd, &info, &props) != VK_SUCCESS) return false;
  return (external_props.externalMemoryProperties.externalMemoryFeatures &
          VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT) != 0;
}

std::vector<VkDrmFormatModifierPropertiesEXT> list_modifiers(const DriverQueries &q, VkPhysicalDevice pd,
                                                             VkFormat format) {
  std::vector<VkDrmFormatModifierPropertiesEXT> mods;
  if (q.GetPhysicalDeviceFormatProperties2 == nullptr) return mods;
  VkDrmFormatModifierPropertiesListEXT list{};
  list.sType = VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT;
  VkFormatProperties2 props{};
  props.sType = VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2;
  props.pNext = &list;
  q.GetPhysicalDeviceFormatProperties2(pd, format, &props);
  if (list.drmFormatModifierCount == 0) return mods;
  mods.resize(list.drmFormatModifierCount);
  list.pDrmFormatModifierProperties = mods.data();
  q.GetPhysicalDeviceFormatProperties2(pd, format, &props);
  mods.resize(std::min<size_t>(mods.size(), list.drmFormatModifierCount));
  return mods;
}

} // namespace

bool DriverFacts::has_extension(const char *name) const { return contains(extensions, name); }

const DriverFacts::FormatSupport *DriverFacts::format(VkFormat f) const {
  for (const FormatSupport &s : formats)
    if (s.format == f) return &s;
  return nullptr;
}

DriverFacts query_driver_facts(const DriverQueries &q, VkPhysicalDevice pd) {
  DriverFacts f;
  if (q.GetPhysicalDeviceProperties != nullptr) {
    VkPhysicalDeviceProperties props{};
    q.GetPhysicalDeviceProperties(pd, &props);
    f.device_name = props.deviceName;
    f.api_version = props.apiVersion;
    f.device_type = props.deviceType;
  }
  f.extensions = enumerate_extensions(q, pd);
  f.ext_external_memory_fd = f.has_extension(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
  f.ext_dmabuf = f.has_extension(VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME);
  f.ext_drm_format_modifier = f.has_extension(VK_EXT_IMAGE_DRM_FORMAT_MODIFIER_EXTENSION_NAME);
  f.ext_semaphore_fd = f.has_extension(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
  f.ext_fence_fd = f.has_extension(VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
  f.ext_queue_family_foreign = f.has_extension(VK_EXT_QUEUE_FAMILY_FOREIGN_EXTENSION_NAME);

  for (VkFormat format : kSwapchainFormats) {
    DriverFacts::FormatSupport s;
    s.format = format;
    if (f.ext_dmabuf) s.dmabuf_export_linear = dmabuf_exportable(q, pd, format, VK_IMAGE_TILING_LINEAR, 0);
    if (f.ext_drm_format_modifier)
      for (const VkDrmFormatModifierPropertiesEXT &m : list_modifiers(q, pd, format))
        s.modifiers.push_back({m.drmFormatModifier, m.drmFormatModifierPlaneCount,
                               f.ext_dmabuf && dmabuf_exportable(q, pd, format, VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT,
                                                                 m.drmFormatModifier)});
    f.formats.push_back(std::move(s));
  }

  if (q.GetPhysicalDeviceExternalSemaphoreProperties != nullptr) {
    VkPhysicalDeviceExternalSemaphoreInfo info{};
    info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO;
    info.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    VkExternalSemaphoreProperties props{};
    props.sType = VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES;
    q.GetPhysicalDeviceExternalSemaphoreProperties(pd, &info, &props);
    f.semaphore_sync_fd_export = (props.externalSemaphoreFeatures & VK_EXTERNAL_SEMAPHORE_FEATURE_EXPORTABLE_BIT) != 0;
    f.semaphore_sync_fd_import = (props.externalSemaphoreFeatures & VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT) != 0;
  }
  if (q.GetPhysicalDeviceExternalFenceProperties != nullptr) {
    VkPhysicalDeviceExternalFenceInfo info{};
    info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_FENCE_INFO;
    info.handleType = VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT;
    VkExternalFenceProperties props{};
    props.sType = VK_STRUCTURE_TYPE_EXTERNAL_FENCE_PROPERTIES;
    q.GetPhysicalDeviceExternalFenceProperties(pd, &info, &props);
    f.fence_sync_fd_export = (props.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_EXPORTABLE_BIT) != 0;
    f.fence_sync_fd_import = (props.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_IMPORTABLE_BIT) != 0;
  }
  f.layer_would_enable = closure(f.extensions);
  return f;
}

DriverQueries driver_queries_from(PFN_vkGetInstanceProcAddr gipa, VkInstance instance) {
  auto get = [&](const char *core, const char *alias) {
    PFN_vkVoidFunction fn = gipa(instance, core);
    return fn != nullptr || alias == nullptr ? fn : gipa(instance, alias);
  };
  DriverQueries q;
  q.EnumerateDeviceExtensionProperties = reinterpret_cast<PFN_vkEnumerateDeviceExtensionProperties>(
      get("vkEnumerateDeviceExtensionProperties", nullptr));
  q.GetPhysicalDeviceProperties =
      reinterpret_cast<PFN_vkGetPhysicalDeviceProperties>(get("vkGetPhysicalDeviceProperties", nullptr));
  q.GetPhysicalDeviceFormatProperties2 = reinterpret_cast<PFN_vkGetPhysicalDeviceFormatProperties2>(
      get("vkGetPhysicalDeviceFormatProperties2", "vkGetPhysicalDeviceFormatProperties2KHR"));
  q.GetPhysicalDeviceImageFormatProperties2 = reinterpret_cast<PFN_vkGetPhysicalDeviceImageFormatProperties2>(
      get("vkGetPhysicalDeviceImageFormatProperties2", "vkGetPhysicalDeviceImageFormatProperties2KHR"));
  q.GetPhysicalDeviceExternalSemaphoreProperties = reinterpret_cast<PFN_vkGetPhysicalDeviceExternalSemaphoreProperties>(
      get("vkGetPhysicalDeviceExternalSemaphoreProperties", "vkGetPhysicalDeviceExternalSemaphorePropertiesKHR"));
  q.GetPhysicalDeviceExternalFenceProperties = reinterpret_cast<PFN_vkGetPhysicalDeviceExternalFenceProperties>(
      get("vkGetPhysicalDeviceExternalFenceProperties", "vkGetPhysicalDeviceExternalFencePropertiesKHR"));
  return q;
}

std::vector<uint64_t> exportable_modifiers(const DriverFacts &facts, VkFormat format) {
  std::vector<uint64_t> mods;
  const DriverFacts::FormatSupport *s = facts.format(format);
  if (s == nullptr) return mods;
  if (s->dmabuf_export_linear) mods.push_back(DRM_FORMAT_MOD_LINEAR);
  for (const DriverFacts::Modifier &m : s->modifiers)
    if (m.exportable && std::find(mods.begin(), mods.end(), m.modifier) == mods.end()) mods.push_back(m.modifier);
  return mods;
}

uint32_t drm_fourcc_for(VkFormat format, bool opaque) {
  switch (format) {
  case VK_FORMAT_B8G8R8A8_UNORM:
  case VK_FORMAT_B8G8R8A8_SRGB: return opaque ? DRM_FORMAT_XRGB8888 : DRM_FORMAT_ARGB8888;
  case VK_FORMAT_R8G8B8A8_UNORM:
  case VK_FORMAT_R8G8B8A8_SRGB: return opaque ? DRM_FORMAT_XBGR8888 : DRM_FORMAT_ABGR8888;
  case VK_FORMAT_A2R10G10B10_UNORM_PACK32: return opaque ? DRM_FORMAT_XRGB2101010 : DRM_FORMAT_ARGB2101010;
  case VK_FORMAT_A2B10G10R10_UNORM_PACK32: return opaque ? DRM_FORMAT_XBGR2101010 : DRM_FORMAT_ABGR2101010;
  case VK_FORMAT_R16G16B16A16_UNORM: return opaque ? DRM_FORMAT_XBGR16161616 : DRM_FORMAT_ABGR16161616;
  case VK_FORMAT_R16G16B16A16_SFLOAT: return opaque ? DRM_FORMAT_XBGR16161616F : DRM_FORMAT_ABGR16161616F;
  case VK_FORMAT_R5G6B5_UNORM_PACK16: return DRM_FORMAT_RGB565;
  default: return 0;
  }
}

bool has_common_modifier(const DriverFacts &facts, VkFormat format, const std::vector<uint64_t> &compositor_modifiers) {
  for (uint64_t m : exportable_modifiers(facts, format))
    if (std::find(compositor_modifiers.begin(), compositor_modifiers.end(), m) != compositor_modifiers.end())
      return true;
  return false;
}

bool format_served(const DriverFacts &facts, VkFormat format, bool opaque, const std::vector<wl::FormatModifier> &compositor) {
  std::vector<uint64_t> modifiers;
  for (const wl::FormatModifier &fm : compositor)
    if (fm.format == drm_fourcc_for(format, opaque)) modifiers.push_back(fm.modifier);
  return has_common_modifier(facts, format, modifiers);
}

std::vector<VkFormat> surface_formats(const DriverFacts &facts, const std::vector<wl::FormatModifier> &compositor) {
  std::vector<VkFormat> formats;
  for (VkFormat f : kSwapchainFormats)
    if (format_served(facts, f, /*opaque=*/true, compositor)) formats.push_back(f);
  return formats;
}

bool premultiplied_served(const DriverFacts &facts, const std::vector<wl::FormatModifier> &compositor) {
  std::vector<VkFormat> formats = surface_formats(facts, compositor);
  return !formats.empty() && std::all_of(formats.begin(), formats.end(), [&](VkFormat f) {
    return format_served(facts, f, /*opaque=*/false, compositor);
  });
}

bool needs_ownership_transfers(const DriverFacts &facts) {
  return facts.device_type != VK_PHYSICAL_DEVICE_TYPE_CPU || debug_flags().ownership_transfers;
}

void apply_driver_facts(const DriverFacts &facts, ModeFacts *mode_facts) {
  mode_facts->dmabuf_image_export = facts.ext_external_memory_fd && facts.ext_dmabuf &&
                                    !exportable_modifiers(facts, VK_FORMAT_B8G8R8A8_UNORM).empty();
  mode_facts->fence_sync_fd_import = facts.ext_fence_fd && facts.fence_sync_fd_import;
  mode_facts->semaphore_sync_fd_import = facts.ext_semaphore_fd && facts.semaphore_sync_fd_import;
  mode_facts->semaphore_sync_fd_export = facts.ext_semaphore_fd && facts.semaphore_sync_fd_export;
  mode_facts->queue_family_foreign = facts.ext_queue_family_foreign;
}

} // namespace sfw
