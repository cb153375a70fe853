#include "swapchain/swapchain.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <new>

#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "debug_flags.hpp"
#include "log.hpp"
#include "swapchain/image.hpp"
#include "wayland/buffer_params.hpp"

namespace sfw {

// Creation-time roundtrips: long enough for a busy compositor (weston under TCG stalls for 2.5 s
// while it starts its shell), still bounded, and a dead connection ends them at once.
constexpr auto kCreateTimeout = std::chrono::milliseconds(10000);

Swapchain::Swapchain(const SwapchainParams &params)
    : params_(params), mode_(params.mode), fifo_(params.wait_for_frame_callback) {}

VkResult Swapchain::create(const SwapchainParams &params, HostUnique<Swapchain> *out) {
  HostUnique<Swapchain> sc = host_new_with<Swapchain>([&](void *memory) { return new (memory) Swapchain(params); });
  wl::Status status = wl::Status::ok;
  sc->link_ = wl::SurfaceLink::create(params.display, params.surface, params.compositor, kCreateTimeout, &status);
  if (!sc->link_) {
    SFW_ERROR("swapchain: cannot link to the Wayland surface: %s", wl::to_string(status));
    return status == wl::Status::lost ? VK_ERROR_SURFACE_LOST_KHR : VK_ERROR_INITIALIZATION_FAILED;
  }
  if (params.present_ids) {
    const bool presentation = sc->link_->info().presentation && !debug_flags().no_presentation;
    sc->feedback_ = wl::PresentFeedback::create(params.display, params.surface, presentation,
                                                kHiddenWindowBound, kCreateTimeout, &status);
    if (!sc->feedback_) {
      SFW_ERROR("swapchain: cannot ask for present feedback: %s", wl::to_string(status));
      return status == wl::Status::lost ? VK_ERROR_SURFACE_LOST_KHR : VK_ERROR_INITIALIZATION_FAILED;
    }
    SFW_DEBUG("swapchain: present ids complete at %s", sc->feedback_->uses_presentation()
                                                           ? "wp_presentation feedback (presented or discarded)"
                                                           : "frame callbacks (no wp_presentation)");
  }
  const SwapchainVk &vk = *params.vk;
  // The compositor rejects (format, modifier) pairs with `failed`: try the next, then LINEAR.
  Vector<uint64_t> candidates = params.modifiers;
  if (debug_flags().unoffered_modifier_first) candidates.insert(candidates.begin(), wl::kDebugUnofferedModifier);
  if (std::find(candidates.begin(), candidates.end(), 0) == candidates.end()) candidates.push_back(0);
  VkResult result = VK_ERROR_INITIALIZATION_FAILED;
  for (uint64_t modifier : candidates) {
    result = sc->create_images(modifier);
    if (result != VK_ERROR_FORMAT_NOT_SUPPORTED) break;
    SFW_INFO("swapchain: the compositor refused modifier 0x%" PRIx64 "; trying the next", modifier);
  }
  // VK_ERROR_FORMAT_NOT_SUPPORTED is internal (every buffer refused); it is no valid result here.
  if (result == VK_ERROR_FORMAT_NOT_SUPPORTED) result = VK_ERROR_INITIALIZATION_FAILED;
  if (result != VK_SUCCESS) {
    SFW_ERROR("swapchain: creating its images and buffers failed: VkResult %d", result);
    return result;
  }

  // drm-syncobj needs a timeline per image on the layer's render node, imported by the compositor; without them
  // (out of fds, a failing ioctl) the dma-buf's sync_file path serves instead, and the surface is back on implicit sync.
  if (sc->mode_ == Mode::drm_syncobj && (result = sc->create_timelines()) != VK_SUCCESS) {
    if (result == VK_ERROR_OUT_OF_HOST_MEMORY) return result;
    sc->mode_ = Mode::syncfile;
    if (params.syncobj != nullptr) params.syncobj->abandon();
  }
  // syncfile vs cpu-wait is settled here: the kernel probe needs a dma-buf, and this is the first.
  if (sc->mode_ == Mode::syncfile) {
    kernel::ProbeResult probe = kernel::probe_sync_file_support(sc->images_.front()->dmabuf.get());
    if (probe.support == kernel::Support::unsupported) {
      sc->mode_ = Mode::cpu_wait;
      sc->degrade_reason_ = probe.reason;
      SFW_INFO("swapchain: kernel lacks the dma-buf sync_file ioctls (%s): cpu-wait", probe.reason);
    }
  }

  for (auto &image : sc->images_) {
    VkExportSemaphoreCreateInfo exportable{VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO};
    exportable.handleTypes = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    VkSemaphoreCreateInfo sem_info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    sem_info.pNext = sc->uses_sync_files() ? &exportable : nullptr;
    VkSemaphoreCreateInfo plain{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    if ((result = vk.CreateSemaphore(params.device, &sem_info, sc->vk_allocator(), &image->present_done)) != VK_SUCCESS ||
        (sc->uses_sync_files() &&
         (result = vk.CreateSemaphore(params.device, &plain, sc->vk_allocator(), &image->reads_semaphore)) != VK_SUCCESS))
      return result;
  }
  SFW_DEBUG("swapchain %ux%u: mode %s, format %d, drm 0x%08x, modifier 0x%" PRIx64 " (%u planes), %u images, "
            "buffers through zwp_linux_buffer_params_v1",
            params.extent.width, params.extent.height, to_string(sc->mode_), params.format, params.drm_format,
            sc->modifier_, sc->plane_count_, params.image_count);
  if (params.chains != nullptr) sc->generation_ = params.chains->admit(sc.get());
  *out = std::move(sc);
  return VK_SUCCESS;
}

Swapchain::~Swapchain() {
  if (params_.chains != nullptr) params_.chains->remove(this);
  const SwapchainVk *vk = params_.vk;
  VkDevice dev = params_.device;
  // Only the layer's own work, never the compositor: the layer's present submits (the spare, moved
  // last, was never submitted).
  auto spare = std::find(fences_.begin(), fences_.end(), spare_fence_);
  if (spare != fences_.end()) std::iter_swap(spare, fences_.end() - 1);
  uint32_t submitted = static_cast<uint32_t>(fences_.size()) - (spare != fences_.end() ? 1 : 0);
  if (submitted != 0) vk->WaitForFences(dev, submitted, fences_.data(), VK_TRUE, kLayerWorkBoundNs);
  for (VkFence f : fences_) vk->DestroyFence(dev, f, vk_allocator());
  // Releases already sent count as released: the compositor holds only what it has not given back.
  if (link_) (void)link_->dispatch_pending();
  size_t held = 0, images = images_.size();
  for (const auto &image : images_)
    held += image->explicit_release ? !release_available(*image) : image->buffer && image->buffer->busy() ? 1 : 0;
  destroy_images();
  for (const Pool &p : pools_) vk->DestroyCommandPool(dev, p.pool, vk_allocator());
  if (feedback_)
    SFW_INFO("swapchain present ids: up to %" PRIu64 " asked for, up to %" PRIu64 " completed, %" PRIu64
             " of them by the %lld ms bound (no answer from the compositor)",
             feedback_->requested(), feedback_->completed(), feedback_->expired(),
             static_cast<long long>(kHiddenWindowBound.count()));
  feedback_.reset();
  link_.reset();
  if (counters_.acquires.load() != 0 || counters_.presents.load() != 0)
    SFW_INFO("swapchain destroyed: mode %s, %" PRIu64 " acquires, %" PRIu64 " exports, %" PRIu64 " imports (%" PRIu64
             " already signalled), %" PRIu64 " cpu waits, %" PRIu64 " presents, %" PRIu64 " degradations, %" PRIu64
             " waits for a release (%" PRIu64 " ms), %" PRIu64 " idle at acquire (no sync_file), %zu of %zu buffers held by the"
             " compositor%s%s",
             to_string(mode_), counters_.acquires.load(), counters_.exports.load(), counters_.imports.load(),
             counters_.empty_exports.load(), counters_.cpu_waits.load(), counters_.presents.load(),
             counters_.degradations.load(), counters_.release_waits.load(), counters_.release_wait_us.load() / 1000,
             counters_.idle_exports.load(), held,
             images, *degrade_reason_ ? ": " : "", degrade_reason_);
}

VkResult Swapchain::take_fence(VkFence *fence) noexcept {
  const SwapchainVk &vk = *params_.vk;
  if (spare_fence_ != VK_NULL_HANDLE) {
    *fence = spare_fence_;
    spare_fence_ = VK_NULL_HANDLE;
    return VK_SUCCESS;
  }
  for (VkFence f : fences_)
    if (vk.GetFenceStatus(params_.device, f) == VK_SUCCESS) {
      vk.ResetFences(params_.device, 1, &f);
      *fence = f;
      return VK_SUCCESS;
    }
  VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  try {
    fences_.reserve(fences_.size() + 1);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("present: out of host memory for the layer's fence");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  VkResult r = vk.CreateFence(params_.device, &info, vk_allocator(), fence);
  if (r != VK_SUCCESS) return r;
  fences_.push_back(*fence);
  return VK_SUCCESS;
}

std::string Swapchain::describe() const {
  char text[200];
  snprintf(text, sizeof text, "mode %s, %ux%u, modifier 0x%" PRIx64 ", %zu images", to_string(mode_),
           params_.extent.width, params_.extent.height, modifier_, images_.size());
  return text;
}

VkResult Swapchain::get_images(uint32_t *count, VkImage *images) const noexcept {
  if (images == nullptr) {
    *count = static_cast<uint32_t>(images_.size());
    return VK_SUCCESS;
  }
  uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(images_.size()));
  for (uint32_t i = 0; i < n; ++i) images[i] = images_[i]->image;
  *count = n;
  return n < images_.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

} // namespace sfw
