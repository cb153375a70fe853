// Swapchain entry points: the layer's own swapchain where the surface decision says so, the
// driver's otherwise. A layer handle never reaches the driver.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "intercepts.hpp"
#include "debug_flags.hpp"
#include "log.hpp"
#include "state.hpp"

namespace sfw::layer {

namespace {
// Modifiers both sides support for this format, in the driver's order.
Vector<uint64_t> common_modifiers(const DriverFacts &driver, const wl::DisplayInfo &compositor, VkFormat format,
                                  uint32_t fourcc, bool modifier_tiling) {
  Vector<uint64_t> out;
  auto offered = [&](uint64_t m) {
    return std::any_of(compositor.dmabuf.begin(), compositor.dmabuf.end(),
                       [&](const wl::FormatModifier &fm) { return fm.format == fourcc && fm.modifier == m; });
  };
  if (modifier_tiling)
    for (uint64_t m : exportable_modifiers(driver, format))
      if (offered(m)) out.push_back(m);
  const DriverFacts::FormatSupport *fs = driver.format(format);
  if (fs != nullptr && fs->dmabuf_export_linear && offered(wl::kModifierLinear) &&
      std::find(out.begin(), out.end(), wl::kModifierLinear) == out.end())
    out.push_back(wl::kModifierLinear);
  return out;
}
} // namespace

void set_tearing_hint(SurfaceState &surface, const wl::DisplayInfo &compositor, bool async) {
  if (!compositor.tearing_control) return;
  std::lock_guard lock(surface.mutex);
  if (!surface.tearing && async) {
    wl::Status status;
    surface.tearing = wl::TearingControl::create(surface.display, surface.wl, std::chrono::milliseconds(1000), &status);
    if (!surface.tearing) SFW_WARN("wp_tearing_control_v1: %s", wl::to_string(status));
  }
  if (surface.tearing) surface.tearing->set_async(async);
}

wl::SyncobjSurface *syncobj_surface_for(SurfaceState &surface, Mode mode) {
  ScopedHostAllocator surface_scope{HostAllocator()}; // the surface's object: not a swapchain's callbacks
  std::lock_guard lock(surface.mutex);
  if (mode != Mode::drm_syncobj) {
    if (surface.syncobj) surface.syncobj->abandon();
    return nullptr;
  }
  if (!surface.syncobj_tried) {
    surface.syncobj_tried = true;
    wl::Status status;
    surface.syncobj = wl::SyncobjSurface::create(surface.display, surface.wl, std::chrono::milliseconds(1000), &status);
    if (!surface.syncobj) SFW_WARN("wp_linux_drm_syncobj_v1: %s; the dma-buf sync_file path instead", wl::to_string(status));
  }
  return surface.syncobj && surface.syncobj->active() ? surface.syncobj.get() : nullptr;
}

VKAPI_ATTR VkResult VKAPI_CALL vkCreateSwapchainKHR(VkDevice device, const VkSwapchainCreateInfoKHR *info,
                                                    const VkAllocationCallbacks *allocator,
                                                    VkSwapchainKHR *swapchain) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  try {
    std::shared_ptr<SurfaceState> surface = find_surface(*dev->instance, info->surface);
    const SurfaceState::PerDevice *d = surface ? &surface_decision(*dev->instance, dev->physical_device, *surface) : nullptr;
    std::shared_ptr<LayerSwapchain> old = dev->layer_swapchain(info->oldSwapchain);
    // oldSwapchain is retired first, even if this creation fails; a surface one of the layer's swapchains
    // holds takes no other (surface_chains.hpp).
    if (surface && !surface->chains.retire_for_create(old ? old->engine.get() : nullptr)) {
      SFW_ERROR("vkCreateSwapchainKHR: the surface has a swapchain that is not oldSwapchain");
      return VK_ERROR_NATIVE_WINDOW_IN_USE_KHR;
    }
    // A degraded oldSwapchain decides for its successor: the degradation sticks to the surface.
    if (old && d != nullptr) record_degradation(*surface, dev->physical_device, old->engine->mode());
    Mode mode = d ? current_mode(*surface, *d) : Mode::passthrough;
    if (!dev->may_own_swapchains) mode = Mode::passthrough;
    wl::SyncobjSurface *syncobj = surface ? syncobj_surface_for(*surface, mode) : nullptr;
    if (mode == Mode::drm_syncobj && syncobj == nullptr) {
      mode = Mode::syncfile;
      record_degradation(*surface, dev->physical_device, mode);
    }
    if (mode == Mode::passthrough) {
      if (old) return VK_ERROR_NATIVE_WINDOW_IN_USE_KHR;
      return dev->dispatch.CreateSwapchainKHR(device, info, allocator, swapchain);
    }
    // Everything the swapchain keeps goes through the app's callbacks for it, or the device's.
    ScopedHostAllocator scope(allocator != nullptr ? HostAllocator(allocator, VK_SYSTEM_ALLOCATION_SCOPE_OBJECT)
                                                   : dev->host_alloc.with_scope(VK_SYSTEM_ALLOCATION_SCOPE_OBJECT));
    bool opaque = info->compositeAlpha == VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    SwapchainParams p;
    p.device = device;
    p.vk = &dev->swapchain_vk;
    if (allocator != nullptr) p.vk_allocator = *allocator;
    p.compositor = d->compositor;
    p.memory = dev->memory;
    p.mode = mode;
    p.display = surface->display;
    p.surface = surface->wl;
    p.chains = &surface->chains;
    p.syncobj = syncobj;
    p.drm_format = drm_fourcc_for(info->imageFormat, opaque);
    p.use_drm_modifier_tiling = dev->drm_modifiers_enabled;
    p.modifiers = common_modifiers(*d->driver, *d->compositor, info->imageFormat, p.drm_format, p.use_drm_modifier_tiling);
    if (p.modifiers.empty()) {
      SFW_ERROR("vkCreateSwapchainKHR: format %d has no modifier in common with the compositor", info->imageFormat);
      return VK_ERROR_INITIALIZATION_FAILED;
    }
    for (uint64_t m : p.modifiers)
      for (const auto &fs : d->driver->formats)
        if (fs.format == info->imageFormat)
          for (const auto &mod : fs.modifiers)
            if (mod.modifier == m) p.modifier_planes.push_back({m, mod.plane_count});
    p.wait_for_frame_callback =
        info->presentMode == VK_PRESENT_MODE_FIFO_KHR || info->presentMode == VK_PRESENT_MODE_FIFO_RELAXED_KHR;
    p.semaphore_import = !debug_flags().no_semaphore_import;
    p.ownership_transfers = needs_ownership_transfers(*d->driver);
    p.present_ids = dev->present_id || dev->present_wait;
    p.image_count = std::max(info->minImageCount, min_image_count(info->presentMode));
    // VK_EXT_swapchain_maintenance1: the modes presents may switch between (enough images for each), and no
    // scaling (the surface reports none).
    for (auto *n = static_cast<const VkBaseInStructure *>(info->pNext); n != nullptr; n = n->pNext) {
      if (n->sType == VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_MODES_CREATE_INFO_EXT) {
        auto *modes = reinterpret_cast<const VkSwapchainPresentModesCreateInfoEXT *>(n);
        for (uint32_t i = 0; i < modes->presentModeCount; ++i)
          p.image_count = std::max(p.image_count, min_image_count(modes->pPresentModes[i]));
      } else if (n->sType == VK_STRUCTURE_TYPE_SWAPCHAIN_PRESENT_SCALING_CREATE_INFO_EXT) {
        auto *scaling = reinterpret_cast<const VkSwapchainPresentScalingCreateInfoEXT *>(n);
        if (scaling->scalingBehavior != 0 || scaling->presentGravityX != 0 || scaling->presentGravityY != 0) {
          SFW_ERROR("vkCreateSwapchainKHR: present scaling or gravity asked for; the surface offers none");
          return VK_ERROR_INITIALIZATION_FAILED;
        }
      }
    }
    // Allocating early is allowed for VK_SWAPCHAIN_CREATE_DEFERRED_MEMORY_ALLOCATION_BIT_EXT: nothing to do.
    p.format = info->imageFormat;
    p.extent = info->imageExtent;
    p.array_layers = info->imageArrayLayers;
    p.usage = info->imageUsage;
    p.sharing = info->imageSharingMode;
    if (p.sharing == VK_SHARING_MODE_CONCURRENT)
      p.queue_families.assign(info->pQueueFamilyIndices, info->pQueueFamilyIndices + info->queueFamilyIndexCount);
    if (info->flags & VK_SWAPCHAIN_CREATE_MUTABLE_FORMAT_BIT_KHR) {
      p.image_flags |= VK_IMAGE_CREATE_MUTABLE_FORMAT_BIT;
      for (auto *s = static_cast<const VkBaseInStructure *>(info->pNext); s != nullptr; s = s->pNext)
        if (s->sType == VK_STRUCTURE_TYPE_IMAGE_FORMAT_LIST_CREATE_INFO) {
          auto *list = reinterpret_cast<const VkImageFormatListCreateInfo *>(s);
          p.view_formats.assign(list->pViewFormats, list->pViewFormats + list->viewFormatCount);
        }
    }
    {
      ScopedHostAllocator surface_scope{HostAllocator()}; // the tearing object is the surface's: not these callbacks
      set_tearing_hint(*surface, *d->compositor, info->presentMode == VK_PRESENT_MODE_IMMEDIATE_KHR);
    }
    auto sc = std::allocate_shared<LayerSwapchain>(HostStl<LayerSwapchain>());
    sc->surface = surface;
    sc->device = device;
    sc->image_count = p.image_count;
    sc->compositor = d->compositor;
    sc->present_mode = info->presentMode;
    VkResult result = Swapchain::create(p, &sc->engine);
    if (result != VK_SUCCESS) return result;
    // Room for every image's pending acquire, so that acquire never allocates (throws: nothing registered).
    dev->pending.add_source(sc->engine.get(), p.image_count);
    try {
      std::lock_guard lock(dev->swapchains_mutex);
      dev->swapchains.emplace(to_handle(sc.get()), sc);
    } catch (const std::bad_alloc &) {
      dev->pending.forget(sc->engine.get());
      throw;
    }
    if (sc->engine->mode() != p.mode) record_degradation(*surface, dev->physical_device, sc->engine->mode());
    SFW_DEBUG("swapchain %p: %s", static_cast<void *>(sc.get()), sc->engine->describe().c_str());
    *swapchain = to_handle(sc.get());
    return VK_SUCCESS;
  } catch (const std::bad_alloc &) {
    SFW_ERROR("vkCreateSwapchainKHR: out of host memory");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VKAPI_ATTR void VKAPI_CALL vkDestroySwapchainKHR(VkDevice device, VkSwapchainKHR swapchain,
                                                 const VkAllocationCallbacks *allocator) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr || swapchain == VK_NULL_HANDLE) return;
  std::shared_ptr<LayerSwapchain> sc;
  {
    std::lock_guard lock(dev->swapchains_mutex);
    auto it = dev->swapchains.find(swapchain);
    if (it != dev->swapchains.end()) {
      sc = std::move(it->second);
      dev->swapchains.erase(it);
    }
  }
  if (!sc) {
    if (dev->present_id && !dev->driver_present_id) {
      std::lock_guard lock(dev->passthrough_ids_mutex);
      dev->passthrough_ids.erase(swapchain);
    }
    return dev->dispatch.DestroySwapchainKHR(device, swapchain, allocator);
  }
  // Its pending acquires hold no reference to it from here on: it is destroyed when `sc` goes, in this call.
  dev->pending.forget(sc->engine.get());
  record_degradation(*sc->surface, dev->physical_device, sc->engine->mode());
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetSwapchainImagesKHR(VkDevice device, VkSwapchainKHR swapchain, uint32_t *count,
                                                       VkImage *images) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  std::shared_ptr<LayerSwapchain> sc = dev->layer_swapchain(swapchain);
  if (!sc) return dev->dispatch.GetSwapchainImagesKHR(device, swapchain, count, images);
  return sc->engine->get_images(count, images);
}

static VkResult acquire(DeviceState &dev, const std::shared_ptr<LayerSwapchain> &sc, uint64_t timeout,
                        VkSemaphore semaphore, VkFence fence, uint32_t *index) noexcept {
  Swapchain &engine = *sc->engine;
  VkResult result = engine.acquire(timeout, semaphore, fence, index);
  if ((result == VK_SUCCESS || result == VK_SUBOPTIMAL_KHR) && engine.needs_take_back(*index)) {
    // The first submit (or present) that waits on this semaphore takes the image back from the
    // compositor's queue family, on its own queue; without a semaphore, the next submit with command
    // buffers or the image's present. The entry shares the LayerSwapchain's ownership (no allocation).
    VkResult r = dev.pending.add({semaphore, std::shared_ptr<TakeBackSource>(sc, &engine), *index, engine.is_lazy(*index)});
    if (r != VK_SUCCESS) return r;
  }
  return result;
}

VKAPI_ATTR VkResult VKAPI_CALL vkAcquireNextImageKHR(VkDevice device, VkSwapchainKHR swapchain, uint64_t timeout,
                                                     VkSemaphore semaphore, VkFence fence, uint32_t *index) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  std::shared_ptr<LayerSwapchain> sc = dev->layer_swapchain(swapchain);
  if (!sc) return dev->dispatch.AcquireNextImageKHR(device, swapchain, timeout, semaphore, fence, index);
  return acquire(*dev, sc, timeout, semaphore, fence, index);
}

VKAPI_ATTR VkResult VKAPI_CALL vkAcquireNextImage2KHR(VkDevice device, const VkAcquireNextImageInfoKHR *info,
                                                      uint32_t *index) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  std::shared_ptr<LayerSwapchain> sc = dev->layer_swapchain(info->swapchain);
  if (!sc) return dev->dispatch.AcquireNextImage2KHR(device, info, index);
  return acquire(*dev, sc, info->timeout, info->semaphore, info->fence, index);
}

VKAPI_ATTR VkResult VKAPI_CALL vkGetDeviceGroupSurfacePresentModesKHR(VkDevice device, VkSurfaceKHR surface,
                                                                      VkDeviceGroupPresentModeFlagsKHR *modes) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  std::shared_ptr<SurfaceState> state;
  try {
    state = find_surface(*dev->instance, surface);
    if (state && surface_decision(*dev->instance, dev->physical_device, *state).decision.mode != Mode::passthrough) {
      *modes = VK_DEVICE_GROUP_PRESENT_MODE_LOCAL_BIT_KHR;
      return VK_SUCCESS;
    }
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  return dev->dispatch.GetDeviceGroupSurfacePresentModesKHR(device, surface, modes);
}

VKAPI_ATTR VkResult VKAPI_CALL vkReleaseSwapchainImagesEXT(VkDevice device, const VkReleaseSwapchainImagesInfoEXT *info) noexcept {
  DeviceState *dev = device_of(device);
  if (dev == nullptr) return VK_ERROR_DEVICE_LOST;
  std::shared_ptr<LayerSwapchain> sc = dev->layer_swapchain(info->swapchain);
  if (!sc) return dev->dispatch.ReleaseSwapchainImagesEXT(device, info);
  std::span<const uint32_t> indices(info->pImageIndices, info->imageIndexCount);
  VkResult result = sc->engine->release_images(indices);
  if (result == VK_SUCCESS)
    for (uint32_t index : indices) dev->pending.forget_image(sc->engine.get(), index);
  return result;
}

} // namespace sfw::layer
