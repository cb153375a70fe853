// Wayland surfaces and the surface queries. Whether the layer owns a surface's swapchains is
// decided once per (physical device, surface) at the first query; then the queries describe the
// layer's swapchain exactly, or pass through to the driver's WSI.
#include "kernel/drm_syncobj.hpp"
#include <algorithm>
#include <cstring>
#include <new>

#include "intercepts.hpp"
#include "kernel/dmabuf_sync.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
constexpr auto kCompositorQueryTimeout = std::chrono::milliseconds(5000); // bounded; a busy compositor is slow
constexpr VkPresentModeKHR kPresentModes[] = {VK_PRESENT_MODE_FIFO_KHR, VK_PRESENT_MODE_MAILBOX_KHR,
                                              VK_PRESENT_MODE_IMMEDIATE_KHR};

template <typename T> VkResult fill_array(const T *items, uint32_t n, uint32_t *count, T *out) {
  if (out == nullptr) {
    *count = n;
    return VK_SUCCESS;
  }
  uint32_t copied = std::min(*count, n);
  std::copy(items, items + copied, out);
  *count = copied;
  return copied < n ? VK_INCOMPLETE : VK_SUCCESS;
}

// Formats the layer offers (the rule: surface_formats).
std::vector<VkFormat> offered_formats(const SurfaceState::PerDevice &d) { return surface_formats(*d.driver, d.compositor->dmabuf); }
} // namespace

std::shared_ptr<const DriverFacts> driver_facts(InstanceState &inst, VkPhysicalDevice phys) {
  {
    std::lock_guard lock(inst.wsi_mutex);
    auto it = inst.driver_facts.find(phys);
    if (it != inst.driver_facts.end()) return it->second;
  }
  auto facts = std::make_shared<const DriverFacts>(query_driver_facts(inst.queries, phys));
  std::lock_guard lock(inst.wsi_mutex);
  return inst.driver_facts.emplace(phys, facts).first->second;
}

std::shared_ptr<SurfaceState> find_surface(InstanceState &inst, VkSurfaceKHR surface) {
  std::lock_guard lock(inst.wsi_mutex);
  auto it = inst.surfaces.find(surface);
  return it == inst.surfaces.end() ? nullptr : it->second;
}

const SurfaceState::PerDevice &surface_decision(InstanceState &inst, VkPhysicalDevice phys, SurfaceState &surface) {
  std::lock_guard lock(surface.mutex);
  for (const auto &d : surface.decisions)
    if (d.physical_device == phys) return d;
  SurfaceState::PerDevice d{phys, {}, driver_facts(inst, phys), nullptr};
  ModeFacts facts;
  apply_driver_facts(*d.driver, &facts);
  auto info = std::make_shared<wl::DisplayInfo>();
  wl::Status status = wl::query_display(surface.display, kCompositorQueryTimeout, info.get());
  if (status != wl::Status::ok) SFW_WARN("cannot query the compositor: %s", wl::to_string(status));
  d.compositor = info;
  facts.compositor_dmabuf = status == wl::Status::ok && info->dmabuf_version >= 3;
  facts.common_format = facts.compositor_dmabuf && !offered_formats(d).empty();
  facts.compositor_drm_syncobj = status == wl::Status::ok && info->drm_syncobj;
  // The render node is looked for (once per process) only where the compositor could use it.
  facts.render_node_timelines = facts.compositor_drm_syncobj && kernel::RenderNode::available();
  auto kernel = kernel::sync_file_support();
  facts.kernel_sync_file = kernel.support == kernel::Support::supported     ? Tristate::yes
                           : kernel.support == kernel::Support::unsupported ? Tristate::no
                                                                            : Tristate::unknown;
  d.decision = decide_mode(facts, mode_request_from_env());
  if (d.decision.request_ignored) SFW_WARN("SYNCFILE_WSI_MODE cannot be obeyed here");
  SFW_INFO("surface %p on \"%s\": mode %s (%s)", static_cast<void *>(surface.wl), d.driver->device_name.c_str(),
           to_string(d.decision.mode), d.decision.reasons.c_str());
  surface.decisions.push_back(std::move(d));
  return surface.decisions.back();
}

Mode current_mode(SurfaceState &surface, const SurfaceState::PerDevice &decision) {
  std::lock_guard lock(surface.mutex);
  return decision.decision.mode;
}

void record_degradation(SurfaceState &surface, VkPhysicalDevice phys, Mode mode) {
  // Only downwards, drm-syncobj to syncfile to cpu-wait: a swapchain never starts above where the surface got to.
  auto rank = [](Mode m) { return m == Mode::drm_syncobj ? 0 : m == Mode::syncfile ? 1 : m == Mode::cpu_wait ? 2 : -1; };
  std::lock_guard lock(surface.mutex);
  for (auto &d : surface.decisions)
    if (d.physical_device == phys && rank(d.decision.mode) >= 0 && rank(mode) > rank(d.decision.mode)) {
      d.decision.mode = mode;
      d.decision.reasons += std::string("; degraded to ") + to_string(mode);
      SFW_INFO("surface %p: mode %s from now on", static_cast<void *>(surface.wl), to_string(mode));
    }
}

VKAPI_ATTR VkResult VKAPI_CALL vkCreateWaylandSurfaceKHR(VkInstance instance, const VkWaylandSurfaceCreateInfoKHR *info,
                                                         const VkAllocationCallbacks *allocator,
                                                         VkSurfaceKHR *surface) noexcept {
  InstanceState *inst = instance_of(instance);
  if (inst == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  std::shared_ptr<SurfaceState> state;
  try {
    state = std::make_shared<SurfaceState>();
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  // The driver's surface too: passthrough pairs use it.
  VkResult result = inst->dispatch.CreateWaylandSurfaceKHR(instance, info, allocator, surface);
  if (result != VK_SUCCESS) return result;
  state->surface = *surface;
  state->display = info->display;
  state->wl = info->surface;
  try {
    std::lock_guard lock(inst->wsi_mutex);
    inst->surfaces[*surface] = state;
  } catch (const std::bad_alloc &) {
    inst->dispatch.DestroySurfaceKHR(instance, *surface, allocator);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL vkDestroySurfaceKHR(VkInstance instance, VkSurfaceKHR surface,
                                               const VkAllocationCallbacks *allocator) noexcept {
  InstanceState *inst = instance_of(instance);
  if (inst == nullptr || surface == VK_NULL_HANDLE) return;
  std::shared_ptr<SurfaceState> gone;
  bool display_in_use = false;
  {
    std::lock_guard lock(inst->wsi_mutex);
    auto it = inst->surfaces.find(surface);
    if (it != inst->surfaces.end()) {
      gone = std::move(it->second);
      inst->surfaces.erase(it);
      for (const auto &[handle, other] : inst->surfaces) display_in_use |= other->display == gone->display;
    }
  }
  // A reconnecting app may get the same wl_display address back: drop what the layer cached for it.
  if (gone && !display_in_use) wl::forget_display(gone->display);
  inst->dispatch.DestroySurfaceKHR(instance, surface, allocator);
}

// Looks up the decision for a surface query; null means pass through to the driver.
static const SurfaceState::PerDevice *owned(VkPhysicalDevice phys, VkSurfaceKHR surface, InstanceState **inst_out) {
  InstanceState *inst = instance_of(phys);
  *inst_out = inst;
  if (inst == nullptr) return nullptr;
  std::shared_ptr<SurfaceState> state = find_surface(*inst, surface);
  if (!state) return nullptr; // not a Wayland surface
  const SurfaceState::PerDevice &d = surface_decision(*inst, phys, *state);
  return d.decision.mode == Mode::passthrough ? nullptr : &d;
}

// A surface query: `own` answers where the layer owns (phys, surface), `pass` calls the driver.
template <typename Pass, typename Own>
static VkResult surface_query(VkPhysicalDevice phys, VkSurfaceKHR surface, Pass &&pass, Own &&own) noexcept {
  try {
    InstanceState *inst;
    const SurfaceState::PerDevice *d = owned(phys, surface, &inst);
    if (inst == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
    if (d == nullptr) return pass(inst->dispatch);
    return own(*inst, *d);
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceSupportKHR(VkPhysicalDevice phys, uint32_t family,
                                                                    VkSurfaceKHR surface, VkBool32 *supported) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceSupportKHR(phys, family, surface, supported); },
                       [&](InstanceState &inst, const SurfaceState::PerDevice &) -> VkResult {
    uint32_t n = 0;
    inst.dispatch.GetPhysicalDeviceQueueFamilyProperties(phys, &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    inst.dispatch.GetPhysicalDeviceQueueFamilyProperties(phys, &n, families.data());
    if (family >= n) {
      SFW_ERROR("vkGetPhysicalDeviceSurfaceSupportKHR: queue family %u of %u", family, n);
      return VK_ERROR_VALIDATION_FAILED_EXT;
    }
    *supported = queue_family_can_present(families[family].queueFlags) ? VK_TRUE : VK_FALSE;
    return VK_SUCCESS;
  });
}

static void fill_capabilities(InstanceState &inst, VkPhysicalDevice phys, const SurfaceState::PerDevice &d, VkSurfaceCapabilitiesKHR *caps) {
  VkPhysicalDeviceProperties props;
  inst.dispatch.GetPhysicalDeviceProperties(phys, &props);
  *caps = {};
  caps->minImageCount = kMinImagesAnyMode;
  caps->maxImageCount = kMaxImages;
  caps->currentExtent = {0xFFFFFFFFu, 0xFFFFFFFFu}; // the app chooses the size
  caps->minImageExtent = {1, 1};
  caps->maxImageExtent = {props.limits.maxImageDimension2D, props.limits.maxImageDimension2D};
  caps->maxImageArrayLayers = 1;
  caps->supportedTransforms = VK_SURFACE_TRANSFORM_IDENTITY_BIT_KHR;
  caps->currentTransform = VK_SURFACE_TRANSFORM_IDENTITY_BIT_KHR;
  caps->supportedCompositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
  if (premultiplied_served(*d.driver, d.compositor->dmabuf)) caps->supportedCompositeAlpha |= VK_COMPOSITE_ALPHA_PRE_MULTIPLIED_BIT_KHR;
  // Usages the dma-buf-exportable LINEAR B8G8R8A8 image supports. Per-format limits (no STORAGE for SRGB) are
  // the app's to check with vkGetPhysicalDeviceImageFormatProperties (VUID-VkSwapchainCreateInfoKHR-imageFormat-01778),
  // as with Mesa's WSI, which advertises one set too.
  caps->supportedUsageFlags = 0;
  for (VkImageUsageFlags usage : {VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT, VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                  VK_IMAGE_USAGE_TRANSFER_DST_BIT, VK_IMAGE_USAGE_SAMPLED_BIT, VK_IMAGE_USAGE_STORAGE_BIT,
                                  VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT}) {
    VkPhysicalDeviceExternalImageFormatInfo external{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO};
    external.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
    VkPhysicalDeviceImageFormatInfo2 info{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2, &external};
    info.format = VK_FORMAT_B8G8R8A8_UNORM;
    info.type = VK_IMAGE_TYPE_2D;
    info.tiling = VK_IMAGE_TILING_LINEAR;
    info.usage = usage;
    VkImageFormatProperties2 out{VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2};
    if (inst.queries.GetPhysicalDeviceImageFormatProperties2(phys, &info, &out) == VK_SUCCESS) caps->supportedUsageFlags |= usage;
  }
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceCapabilitiesKHR(VkPhysicalDevice phys, VkSurfaceKHR surface,
                                                                         VkSurfaceCapabilitiesKHR *caps) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceCapabilitiesKHR(phys, surface, caps); },
                       [&](InstanceState &inst, const SurfaceState::PerDevice &d) -> VkResult {
    fill_capabilities(inst, phys, d, caps);
    return VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceCapabilities2KHR(VkPhysicalDevice phys,
                                                                          const VkPhysicalDeviceSurfaceInfo2KHR *info,
                                                                          VkSurfaceCapabilities2KHR *caps) noexcept {
  return surface_query(phys, info->surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceCapabilities2KHR(phys, info, caps); },
                       [&](InstanceState &inst, const SurfaceState::PerDevice &d) -> VkResult {
    fill_capabilities(inst, phys, d, &caps->surfaceCapabilities);
    // VK_EXT_surface_maintenance1: per-mode counts only through VkSurfacePresentModeEXT.
    const VkSurfacePresentModeEXT *mode = nullptr;
    for (auto *in = static_cast<const VkBaseInStructure *>(info->pNext); in != nullptr; in = in->pNext)
      if (in->sType == VK_STRUCTURE_TYPE_SURFACE_PRESENT_MODE_EXT) mode = reinterpret_cast<const VkSurfacePresentModeEXT *>(in);
    if (mode != nullptr) caps->surfaceCapabilities.minImageCount = min_image_count(mode->presentMode);
    for (auto *out = static_cast<VkBaseOutStructure *>(caps->pNext); out != nullptr; out = out->pNext) {
      switch (out->sType) {
      case VK_STRUCTURE_TYPE_SURFACE_PRESENT_MODE_COMPATIBILITY_EXT: {
        // Every mode the layer offers switches to every other at present (VK_EXT_swapchain_maintenance1): only
        // the frame-callback pacing and the tearing hint differ.
        auto *compat = reinterpret_cast<VkSurfacePresentModeCompatibilityEXT *>(out);
        const uint32_t all = mode != nullptr ? static_cast<uint32_t>(std::size(kPresentModes)) : 0;
        if (compat->pPresentModes == nullptr) {
          compat->presentModeCount = all;
        } else {
          compat->presentModeCount = std::min(compat->presentModeCount, all);
          std::copy_n(kPresentModes, compat->presentModeCount, compat->pPresentModes);
        }
        break;
      }
      case VK_STRUCTURE_TYPE_SURFACE_PRESENT_SCALING_CAPABILITIES_EXT: {
        // No scaling and no gravity (wp_viewporter is not used): the image is shown at its own size.
        auto *scaling = reinterpret_cast<VkSurfacePresentScalingCapabilitiesEXT *>(out);
        void *next = scaling->pNext;
        *scaling = {VK_STRUCTURE_TYPE_SURFACE_PRESENT_SCALING_CAPABILITIES_EXT};
        scaling->pNext = next;
        scaling->minScaledImageExtent = caps->surfaceCapabilities.minImageExtent;
        scaling->maxScaledImageExtent = caps->surfaceCapabilities.maxImageExtent;
        break;
      }
      case VK_STRUCTURE_TYPE_SURFACE_PROTECTED_CAPABILITIES_KHR:
        reinterpret_cast<VkSurfaceProtectedCapabilitiesKHR *>(out)->supportsProtected = VK_FALSE;
        break;
      default: break;
      }
    }
    return VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceCapabilities2EXT(VkPhysicalDevice phys, VkSurfaceKHR surface,
                                                                          VkSurfaceCapabilities2EXT *caps) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceCapabilities2EXT(phys, surface, caps); },
                       [&](InstanceState &inst, const SurfaceState::PerDevice &d) -> VkResult {
    VkSurfaceCapabilitiesKHR base;
    fill_capabilities(inst, phys, d, &base);
    caps->minImageCount = base.minImageCount;
    caps->maxImageCount = base.maxImageCount;
    caps->currentExtent = base.currentExtent;
    caps->minImageExtent = base.minImageExtent;
    caps->maxImageExtent = base.maxImageExtent;
    caps->maxImageArrayLayers = base.maxImageArrayLayers;
    caps->supportedTransforms = base.supportedTransforms;
    caps->currentTransform = base.currentTransform;
    caps->supportedCompositeAlpha = base.supportedCompositeAlpha;
    caps->supportedUsageFlags = base.supportedUsageFlags;
    caps->supportedSurfaceCounters = 0;
    return VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceFormatsKHR(VkPhysicalDevice phys, VkSurfaceKHR surface,
                                                                    uint32_t *count, VkSurfaceFormatKHR *formats) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceFormatsKHR(phys, surface, count, formats); },
                       [&](InstanceState &, const SurfaceState::PerDevice &d) -> VkResult {
    std::vector<VkSurfaceFormatKHR> list;
    for (VkFormat f : offered_formats(d)) list.push_back({f, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR});
    return fill_array(list.data(), static_cast<uint32_t>(list.size()), count, formats);
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfaceFormats2KHR(VkPhysicalDevice phys,
                                                                     const VkPhysicalDeviceSurfaceInfo2KHR *info,
                                                                     uint32_t *count, VkSurfaceFormat2KHR *formats) noexcept {
  return surface_query(phys, info->surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfaceFormats2KHR(phys, info, count, formats); },
                       [&](InstanceState &, const SurfaceState::PerDevice &d) -> VkResult {
    std::vector<VkFormat> list;
    list = offered_formats(d);
    uint32_t n = static_cast<uint32_t>(list.size());
    if (formats == nullptr) {
      *count = n;
      return VK_SUCCESS;
    }
    uint32_t copied = std::min(*count, n);
    for (uint32_t i = 0; i < copied; ++i) formats[i].surfaceFormat = {list[i], VK_COLOR_SPACE_SRGB_NONLINEAR_KHR};
    *count = copied;
    return copied < n ? VK_INCOMPLETE : VK_SUCCESS;
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDeviceSurfacePresentModesKHR(VkPhysicalDevice phys, VkSurfaceKHR surface,
                                                                         uint32_t *count, VkPresentModeKHR *modes) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDeviceSurfacePresentModesKHR(phys, surface, count, modes); },
                       [&](InstanceState &, const SurfaceState::PerDevice &) -> VkResult {
    return fill_array(kPresentModes, 3, count, modes);
  });
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetPhysicalDevicePresentRectanglesKHR(VkPhysicalDevice phys, VkSurfaceKHR surface,
                                                                       uint32_t *count, VkRect2D *rects) noexcept {
  return surface_query(phys, surface, [&](InstanceDispatch &next) { return next.GetPhysicalDevicePresentRectanglesKHR(phys, surface, count, rects); },
                       [&](InstanceState &, const SurfaceState::PerDevice &) -> VkResult {
    const VkRect2D unknown{{0, 0}, {0xFFFFFFFFu, 0xFFFFFFFFu}}; // Wayland: the size is the app's
    return fill_array(&unknown, 1, count, rects);
  });
}

} // namespace sfw::layer
