// One frame's path: acquire (wait for a free image, then for the compositor's reads) and present
// (fence the dma-buf with the frame's rendering, then commit), in syncfile or cpu-wait mode.
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>

#include "debug_flags.hpp"
#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "log.hpp"
#include "swapchain/image.hpp"

namespace sfw {

using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kFlushTimeout = std::chrono::milliseconds(1000);
// vkWaitForPresentKHR looks at retirement this often while it waits for the compositor.
constexpr auto kPresentWaitSlice = std::chrono::milliseconds(20);

// SYNCFILE_WSI_DEBUG=fail-import-at=N (debug_flags.hpp).
void debug_import_fault() noexcept {
  const long fail_at = debug_flags().fail_import_at;
  static std::atomic<long> imports{0};
  if (fail_at > 0 && imports.fetch_add(1, std::memory_order_relaxed) + 1 == fail_at)
    kernel::set_ioctl_fault_for_testing(kernel::IoctlOp::import_sync_file, EINVAL);
}

// SYNCFILE_WSI_DEBUG=fail-syncobj-at=N / syncobj-emfile-at=N (debug_flags.hpp).
void debug_syncobj_fault() noexcept {
  static std::atomic<long> imports{0};
  const long n = imports.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n == debug_flags().fail_syncobj_at) kernel::set_syncobj_fault_for_testing(EINVAL);
  if (n == debug_flags().syncobj_emfile_at) kernel::set_syncobj_fault_for_testing(EMFILE);
}

VkResult vk_result_of(wl::Status status, bool blocking) {
  switch (status) {
  case wl::Status::ok: return VK_SUCCESS;
  case wl::Status::timeout: return blocking ? VK_TIMEOUT : VK_NOT_READY;
  case wl::Status::lost: return VK_ERROR_SURFACE_LOST_KHR;
  case wl::Status::no_fds: return VK_ERROR_OUT_OF_HOST_MEMORY;
  case wl::Status::failed:
  case wl::Status::refused: break;
  }
  return VK_ERROR_OUT_OF_DATE_KHR;
}

Clock::time_point deadline_after(uint64_t timeout_ns) {
  if (timeout_ns >= UINT64_MAX / 2) return Clock::time_point::max();
  return Clock::now() + std::chrono::nanoseconds(timeout_ns);
}

std::chrono::nanoseconds remaining(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return std::chrono::nanoseconds::max();
  auto left = deadline - Clock::now();
  return left < std::chrono::nanoseconds(0) ? std::chrono::nanoseconds(0) : std::chrono::duration_cast<std::chrono::nanoseconds>(left);
}
} // namespace

wl::Status Swapchain::wait_for_free_image(Clock::time_point deadline, bool blocking, uint32_t *index) {
  auto find_free = [&] {
    for (uint32_t i = 0; i < images_.size(); ++i) {
      Image &img = *images_[i];
      if (img.state == ImageState::presented && (img.explicit_release ? release_available(img) : !img.buffer->busy()))
        img.state = ImageState::free;
      if (img.state == ImageState::free) {
        *index = i;
        return true;
      }
    }
    return false;
  };
  // An image already known free needs no news from the compositor: no dispatch, no syscall. Only
  // without one are the releases read (the app may never dispatch its own queue).
  if (find_free()) return wl::Status::ok;
  wl::Status status = link_->dispatch_pending();
  if (status != wl::Status::ok) return status;
  if (find_free()) return wl::Status::ok;
  if (!blocking) return wl::Status::timeout;
  const Clock::time_point start = Clock::now();
  // drm-syncobj: a release point may come with no Wayland event at all; each one still out writes to the eventfd.
  // Without DRM_IOCTL_SYNCOBJ_EVENTFD (Linux < 6.6) the points are looked at every millisecond instead.
  bool armed = true;
  if (release_wake_)
    for (auto &img : images_)
      if (img->state == ImageState::presented && img->explicit_release)
        armed = img->timeline->notify_available(img->release_point, release_wake_.get()).ok() && armed;
  if (!armed) SFW_LOG_ONCE(LogLevel::warn, "swapchain: DRM_IOCTL_SYNCOBJ_EVENTFD failed: release points polled every 1 ms");
  do {
    auto left = remaining(deadline);
    status = link_->wait_until(find_free, armed ? left : std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1)),
                               release_wake_ ? release_wake_.get() : -1);
  } while (!armed && status == wl::Status::timeout && Clock::now() < deadline);
  counters_.release_waits.fetch_add(1, std::memory_order_relaxed);
  counters_.release_wait_us.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()),
      std::memory_order_relaxed);
  return status;
}

VkResult Swapchain::acquire(uint64_t timeout_ns, VkSemaphore semaphore, VkFence fence, uint32_t *index) noexcept {
  std::lock_guard frame(frame_mutex_);
  if (retired()) return VK_ERROR_OUT_OF_DATE_KHR;
  bool blocking = timeout_ns != 0;
  Clock::time_point deadline = deadline_after(timeout_ns);
  wl::Status status = wait_for_free_image(deadline, blocking, index);
  if (status != wl::Status::ok) return vk_result_of(status, blocking);
  Image &image = *images_[*index];
  VkResult result = import_acquire(image, semaphore, fence, deadline, blocking);
  if (result != VK_SUCCESS && result != VK_SUBOPTIMAL_KHR) return result;
  image.state = ImageState::acquired;
  counters_.acquires.fetch_add(1, std::memory_order_relaxed);
  if (suboptimal_once_) {
    suboptimal_once_ = false;
    return VK_SUBOPTIMAL_KHR;
  }
  return result;
}

// Makes the app's semaphore and fence wait for the compositor's outstanding reads of the image.
VkResult Swapchain::import_acquire(Image &image, VkSemaphore semaphore, VkFence fence, Clock::time_point deadline,
                                   bool blocking) noexcept {
  const SwapchainVk &vk = *params_.vk;
  kernel::SyncFile reads; // empty: already signalled
  if (image.explicit_release) {
    // The compositor's release point, which wait_for_free_image saw available: its fence is what the frame waits for.
    auto exported = image.timeline->export_sync_file(image.release_point, std::chrono::nanoseconds(0), &reads);
    if (exported && *exported) {
      counters_.exports.fetch_add(1, std::memory_order_relaxed);
      if (reads.empty()) counters_.idle_exports.fetch_add(1, std::memory_order_relaxed);
    } else if (!exported && (exported.error().code == kernel::ErrorCode::out_of_fds ||
                             exported.error().code == kernel::ErrorCode::out_of_memory)) {
      char why[160];
      SFW_ERROR("acquire: %s", kernel::format_error(exported.error(), why, sizeof why));
      return VK_ERROR_OUT_OF_HOST_MEMORY;
    } else {
      // The point cannot be read: wait for it on the CPU, bounded (a stuck compositor must not hang the app).
      degrade("DRM_IOCTL_SYNCOBJ release point export failed at acquire");
      auto done = image.timeline->wait(image.release_point, false, std::chrono::nanoseconds(kLayerWorkBoundNs));
      if (!done || !*done) SFW_WARN("acquire: the compositor's release point did not signal in time; rendering anyway");
    }
    if (mode_ == Mode::cpu_wait && !reads.empty()) {
      counters_.cpu_waits.fetch_add(1, std::memory_order_relaxed);
      auto done = reads.wait(blocking ? remaining(deadline) : std::chrono::nanoseconds(0));
      if (!done) return VK_ERROR_SURFACE_LOST_KHR;
      if (!*done) return blocking ? VK_TIMEOUT : VK_NOT_READY;
      reads = kernel::SyncFile();
    }
  } else if (mode_ == Mode::drm_syncobj) {
    // Never committed yet: nothing of the compositor's to wait for (counted as an idle export, as in syncfile).
    counters_.exports.fetch_add(1, std::memory_order_relaxed);
    counters_.idle_exports.fetch_add(1, std::memory_order_relaxed);
  } else if (mode_ == Mode::syncfile) {
    // The same snapshot two ways. A dma-buf whose every fence has signalled polls writable, and then the
    // frame has nothing to wait for: one poll, no sync_file to make, import and close (the common case,
    // the compositor done reading before its release). Otherwise the export; write access: the new frame
    // waits for every reader.
    auto idle = kernel::wait_dmabuf_writable(image.dmabuf.get(), std::chrono::nanoseconds(0));
    auto exported = idle && *idle ? kernel::Result<kernel::SyncFile>(kernel::SyncFile())
                                  : kernel::export_sync_file(image.dmabuf.get(), kernel::Access::write);
    if (idle && *idle) counters_.idle_exports.fetch_add(1, std::memory_order_relaxed);
    if (exported) {
      reads = std::move(*exported);
      counters_.exports.fetch_add(1, std::memory_order_relaxed);
    } else if (exported.error().code == kernel::ErrorCode::out_of_fds ||
               exported.error().code == kernel::ErrorCode::out_of_memory) {
      // The process is out of descriptors or memory: the app's problem to see, not a reason to degrade.
      char why[160];
      SFW_ERROR("acquire: %s", kernel::format_error(exported.error(), why, sizeof why));
      return VK_ERROR_OUT_OF_HOST_MEMORY;
    } else {
      degrade("DMA_BUF_IOCTL_EXPORT_SYNC_FILE failed at acquire");
    }
  }
  if (mode_ == Mode::cpu_wait && !image.explicit_release) {
    counters_.cpu_waits.fetch_add(1, std::memory_order_relaxed);
    auto writable = kernel::wait_dmabuf_writable(image.dmabuf.get(), blocking ? remaining(deadline) : std::chrono::nanoseconds(0));
    if (!writable) return VK_ERROR_SURFACE_LOST_KHR;
    if (!*writable) return blocking ? VK_TIMEOUT : VK_NOT_READY;
  }
  // Where the reads go besides the app's fence: the app's semaphore; with none, the layer's own, which
  // the take-back waits on (the app need not have waited on its fence before the take-back runs);
  // without semaphore imports (the lazy path), a copy the take-back waits for on the CPU.
  const bool lazy = semaphore != VK_NULL_HANDLE && !params_.semaphore_import;
  const bool into_reads_semaphore = semaphore == VK_NULL_HANDLE && !reads.empty() && params_.semaphore_import &&
                                    image.reads_semaphore != VK_NULL_HANDLE;
  const bool keep_for_cpu_wait = !reads.empty() && (lazy || (semaphore == VK_NULL_HANDLE && !into_reads_semaphore));
  VkSemaphore target = lazy ? VK_NULL_HANDLE : semaphore != VK_NULL_HANDLE ? semaphore : into_reads_semaphore ? image.reads_semaphore : VK_NULL_HANDLE;
  // Each import consumes its own fd, and a Vulkan import takes it only on success: every consumer but
  // the last gets a dup, the last the exported fd itself (one fcntl and one close fewer per frame).
  int consumers = (fence != VK_NULL_HANDLE) + (target != VK_NULL_HANDLE) + keep_for_cpu_wait;
  auto next_copy = [&](kernel::SyncFile *copy) -> bool {
    if (reads.empty()) return true;
    if (--consumers == 0) {
      *copy = std::move(reads);
      return true;
    }
    auto dup = reads.dup();
    if (!dup) return false;
    *copy = std::move(*dup);
    return true;
  };
  auto import_into = [&](const char *call, auto &&do_import) -> VkResult {
    kernel::SyncFile copy;
    if (!next_copy(&copy)) return VK_ERROR_OUT_OF_HOST_MEMORY;
    VkResult r = do_import(copy.fd_for_vulkan_import());
    if (r == VK_SUCCESS) {
      copy.vulkan_import_succeeded();
      return VK_SUCCESS;
    }
    SFW_ERROR("acquire: %s failed: %d", call, r);
    return r == VK_ERROR_INVALID_EXTERNAL_HANDLE ? VK_ERROR_OUT_OF_HOST_MEMORY : r;
  };
  auto import_fence = [&](int fd) {
    VkImportFenceFdInfoKHR info{VK_STRUCTURE_TYPE_IMPORT_FENCE_FD_INFO_KHR};
    info.fence = fence;
    info.flags = VK_FENCE_IMPORT_TEMPORARY_BIT;
    info.handleType = VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT;
    info.fd = fd;
    return vk.ImportFenceFdKHR(params_.device, &info);
  };
  auto import_semaphore_into = [&](VkSemaphore target) {
    return [&, target](int fd) {
      VkImportSemaphoreFdInfoKHR info{VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR};
      info.semaphore = target;
      info.flags = VK_SEMAPHORE_IMPORT_TEMPORARY_BIT;
      info.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
      info.fd = fd;
      return vk.ImportSemaphoreFdKHR(params_.device, &info);
    };
  };
  // The fence first: if the semaphore's import then fails, resetting the fence restores it as it was.
  if (fence != VK_NULL_HANDLE) {
    VkResult r = import_into("vkImportFenceFdKHR", import_fence);
    if (r != VK_SUCCESS) return r;
  }
  if (target != VK_NULL_HANDLE) {
    VkResult r = import_into("vkImportSemaphoreFdKHR", import_semaphore_into(target));
    if (r != VK_SUCCESS) {
      if (fence != VK_NULL_HANDLE) vk.ResetFences(params_.device, 1, &fence);
      return r;
    }
  }
  kernel::SyncFile for_cpu_wait;
  if (keep_for_cpu_wait) next_copy(&for_cpu_wait); // the last consumer: the fd itself, nothing to fail
  std::lock_guard lock(mutex_);
  image.lazy = lazy;
  image.reads_pending = into_reads_semaphore;
  image.reads = std::move(for_cpu_wait);
  return VK_SUCCESS;
}

bool Swapchain::release_available(Image &image) noexcept {
  auto available = image.timeline->wait(image.release_point, true, std::chrono::nanoseconds(0));
  if (available) return *available;
  char why[160];
  SFW_LOG_ONCE(LogLevel::warn, "swapchain: cannot read a release point (%s); taking the image as released",
               kernel::format_error(available.error(), why, sizeof why));
  return true; // never hang on a broken syncobj: the acquire's export fails next and degrades
}

// drm-syncobj degrades to the dma-buf's sync_files (the surface gives up explicit sync), syncfile to cpu-wait.
VkResult Swapchain::degrade(const char *why) noexcept {
  if (mode_ != Mode::syncfile && mode_ != Mode::drm_syncobj) return VK_SUCCESS;
  if (mode_ == Mode::drm_syncobj && params_.syncobj != nullptr) params_.syncobj->abandon();
  mode_ = mode_ == Mode::drm_syncobj ? Mode::syncfile : Mode::cpu_wait;
  suboptimal_once_ = true;
  counters_.degradations.fetch_add(1, std::memory_order_relaxed);
  degrade_reason_ = why;
  SFW_WARN("swapchain degraded to %s: %s", to_string(mode_), why);
  return VK_SUBOPTIMAL_KHR;
}

VkResult Swapchain::prepare_present(uint32_t index, uint32_t queue_family, PresentPart *part) noexcept {
  std::lock_guard frame(frame_mutex_);
  if (index >= images_.size() || images_[index]->state != ImageState::acquired) {
    SFW_ERROR("present: image %u is not acquired", index);
    return VK_ERROR_OUT_OF_DATE_KHR;
  }
  Image &image = *images_[index];
  VkResult result = VK_SUCCESS;
  part->release = VK_NULL_HANDLE;
  if (params_.ownership_transfers) {
    std::lock_guard lock(mutex_);
    result = barrier_cmd(queue_family, true, index, &part->release);
  }
  if (result == VK_SUCCESS) result = take_fence(&part->fence);
  if (result != VK_SUCCESS) return result;
  // Only the sync_file modes consume the semaphore (its SYNC_FD export); cpu-wait waits on the fence instead.
  part->done = uses_sync_files() ? image.present_done : VK_NULL_HANDLE;
  return VK_SUCCESS;
}

void Swapchain::cancel_present(uint32_t /*index*/, const PresentPart &part) noexcept {
  std::lock_guard frame(frame_mutex_);
  if (part.fence != VK_NULL_HANDLE) spare_fence_ = part.fence;
}

VkResult Swapchain::finish_present(uint32_t index, const PresentPart &part, const PresentRequest &request) noexcept {
  std::lock_guard frame(frame_mutex_);
  if (request.mode != VK_PRESENT_MODE_MAX_ENUM_KHR) // VK_EXT_swapchain_maintenance1: this present's mode, and on
    fifo_ = request.mode == VK_PRESENT_MODE_FIFO_KHR || request.mode == VK_PRESENT_MODE_FIFO_RELAXED_KHR;
  const uint64_t present_id = request.present_id;
  Image &image = *images_[index];
  const SwapchainVk &vk = *params_.vk;
  {
    std::lock_guard lock(mutex_);
    image.released_to_foreign = params_.ownership_transfers; // else nothing to take back
  }
  VkResult result = VK_SUCCESS;
  std::optional<wl::SurfaceLink::SyncPoints> points;

  bool unfenced = false; // the frame's rendering could not be handed over: wait for it on the CPU
  if (part.done != VK_NULL_HANDLE) { // a sync_file mode at prepare: the export consumes the semaphore
    VkSemaphoreGetFdInfoKHR info{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR};
    info.semaphore = image.present_done;
    info.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    int fd = -1;
    VkResult r = vk.GetSemaphoreFdKHR(params_.device, &info, &fd);
    if (r != VK_SUCCESS) {
      result = degrade("vkGetSemaphoreFdKHR failed at present");
      unfenced = true;
    } else {
      kernel::SyncFile rendered{kernel::UniqueFd(fd)};
      // Another swapchain of the surface (a newer one in another mode) gave explicit sync up: fence the dma-buf.
      if (mode_ == Mode::drm_syncobj && !params_.syncobj->active()) result = degrade("the surface gave up explicit sync");
      if (mode_ == Mode::drm_syncobj) {
        // The frame's rendering into the acquire point; the compositor signals the release point after its reads.
        const uint64_t acquire = image.last_point + 1;
        debug_syncobj_fault();
        if (auto imported = image.timeline->import_sync_file(acquire, rendered)) {
          image.last_point = acquire + 1;
          points.emplace(wl::SurfaceLink::SyncPoints{params_.syncobj, image.wl_timeline.get(), acquire, acquire + 1});
          counters_.imports.fetch_add(1, std::memory_order_relaxed);
        } else {
          char why[160];
          SFW_WARN("present: %s", kernel::format_error(imported.error(), why, sizeof why));
          result = degrade("DRM_IOCTL_SYNCOBJ import failed at present");
        }
      }
      if (mode_ != Mode::syncfile) {
        // drm-syncobj took it, or cpu-wait waits below
      } else if (rendered.empty()) {
        counters_.empty_exports.fetch_add(1, std::memory_order_relaxed); // already signalled: nothing to fence
      } else if (debug_import_fault(), kernel::import_sync_file(image.dmabuf.get(), rendered, kernel::Access::write)) {
        counters_.imports.fetch_add(1, std::memory_order_relaxed);
      } else {
        result = degrade("DMA_BUF_IOCTL_IMPORT_SYNC_FILE failed at present");
      }
    }
  }
  if (mode_ == Mode::cpu_wait || unfenced) {
    // No way to hand the compositor a fence: wait for the frame before it may read. However long the
    // frame takes (present has no timeout; a slow frame is not a lost device): only the driver says
    // whether the device is lost. Each bound that passes is logged.
    counters_.cpu_waits.fetch_add(1, std::memory_order_relaxed);
    VkResult r;
    for (int slices = 1; (r = vk.WaitForFences(params_.device, 1, &part.fence, VK_TRUE, kLayerWorkBoundNs)) == VK_TIMEOUT; ++slices)
      SFW_WARN("present: cpu-wait: the frame is still rendering after %d s; waiting on", slices * int(kLayerWorkBoundNs / 1'000'000'000));
    if (r != VK_SUCCESS) {
      SFW_ERROR("present: cpu-wait: vkWaitForFences returned %d", r);
      // The image stays with the app's frame; the driver's error is the app's to see.
      return r;
    }
  }

  if (fifo_ && link_->frame_pending()) {
    // FIFO: at most one frame ahead of the compositor, but never stuck on a hidden window.
    wl::Status s = link_->wait_until([&] { return !link_->frame_pending(); }, kHiddenWindowBound);
    if (s == wl::Status::lost) return VK_ERROR_SURFACE_LOST_KHR;
  }
  // A retired swapchain's present has run (its waits happened in the submit), but once a newer swapchain
  // has presented it does not reach the surface. Decided last, just before the commit it would make.
  if (params_.chains != nullptr) {
    if (!params_.chains->may_commit(this, generation_)) {
      image.state = ImageState::free; // never with the compositor; a retired swapchain is not acquired from again
      SFW_INFO("present: swapchain %p is retired and a newer one has presented: image %u not shown",
               static_cast<const void *>(this), index);
      return VK_ERROR_OUT_OF_DATE_KHR;
    }
    params_.chains->committed(generation_);
  }
  // The feedback request goes out before the commit it is about (same connection: libwayland keeps the order).
  if (present_id != 0 && feedback_ && feedback_->request(present_id) != wl::Status::ok)
    SFW_WARN("present: no feedback for present id %" PRIu64 " (out of memory or the compositor is gone)", present_id);
  wl::Status s = link_->present(*image.buffer, request.damage, fifo_, kFlushTimeout, points ? &*points : nullptr);
  image.explicit_release = points && points->sent;
  if (image.explicit_release) image.release_point = points->release;
  else if (points) SFW_WARN("present: the surface gave up explicit sync under this commit; its frame went out unfenced");
  image.state = ImageState::presented;
  counters_.presents.fetch_add(1, std::memory_order_relaxed);
  if (s == wl::Status::lost) return VK_ERROR_SURFACE_LOST_KHR;
  if (result == VK_SUBOPTIMAL_KHR) suboptimal_once_ = false; // said once, here
  if (result == VK_SUCCESS && suboptimal_once_) {
    suboptimal_once_ = false;
    return VK_SUBOPTIMAL_KHR;
  }
  return result;
}

VkResult Swapchain::release_images(std::span<const uint32_t> indices) noexcept {
  std::lock_guard frame(frame_mutex_);
  for (uint32_t index : indices)
    if (index >= images_.size() || images_[index]->state != ImageState::acquired) {
      SFW_ERROR("vkReleaseSwapchainImagesEXT: image %u is not acquired", index); // invalid usage: nothing changes
      return VK_ERROR_VALIDATION_FAILED_EXT;
    }
  std::lock_guard lock(mutex_);
  for (uint32_t index : indices) {
    Image &image = *images_[index];
    image.state = ImageState::free;
    // What its acquire loaded for the take-back is dropped; released_to_foreign stays: the next acquire takes it back.
    image.lazy = false;
    image.reads_pending = false;
    image.reads = kernel::SyncFile();
  }
  return VK_SUCCESS;
}

bool Swapchain::needs_take_back(uint32_t index) const noexcept {
  std::lock_guard lock(mutex_);
  if (index >= images_.size()) return false;
  const Image &image = *images_[index];
  return image.released_to_foreign || image.lazy || image.reads_pending || !image.reads.empty();
}

bool Swapchain::is_lazy(uint32_t index) const noexcept {
  std::lock_guard lock(mutex_);
  return index < images_.size() && images_[index]->lazy;
}

VkResult Swapchain::prepare_take_back(uint32_t index, uint32_t family, bool record_commands, TakeBack *out) noexcept {
  kernel::SyncFile reads;
  {
    std::lock_guard lock(mutex_);
    if (index >= images_.size()) return VK_ERROR_OUT_OF_DATE_KHR;
    Image &image = *images_[index];
    if (image.released_to_foreign && record_commands) {
      VkResult result = barrier_cmd(family, false, index, &out->cmd);
      if (result != VK_SUCCESS) return result;
    }
    out->transfer_skipped = image.released_to_foreign && !record_commands;
    out->reads = image.reads_pending ? image.reads_semaphore : VK_NULL_HANDLE;
    if (!image.reads.empty()) {
      auto dup = image.reads.dup();
      if (!dup) return VK_ERROR_OUT_OF_HOST_MEMORY;
      reads = std::move(*dup);
    }
  }
  if (!reads.empty()) {
    // The CPU wait the driver cannot do for us (no semaphore import), with no lock held; bounded: a stuck
    // compositor must not hang the app.
    counters_.cpu_waits.fetch_add(1, std::memory_order_relaxed);
    auto done = reads.wait(std::chrono::nanoseconds(kLayerWorkBoundNs));
    if (!done || !*done) SFW_WARN("take-back: the compositor's reads did not finish in time; rendering anyway");
  }
  return VK_SUCCESS;
}

void Swapchain::commit_take_back(uint32_t index, const TakeBack &take) noexcept {
  std::lock_guard lock(mutex_);
  if (index >= images_.size()) return;
  Image &image = *images_[index];
  if (take.cmd != VK_NULL_HANDLE || take.transfer_skipped) image.released_to_foreign = false;
  if (take.transfer_skipped)
    SFW_LOG_ONCE(LogLevel::warn, "an acquire semaphore is waited on by a queue that cannot record the ownership transfer");
  image.lazy = false;
  image.reads_pending = false;
  image.reads = kernel::SyncFile();
}

// Pre-recorded, simultaneous-use command buffers per (image, queue family): the ownership
// transfer to the compositor (FOREIGN) at present and back before the next rendering.
VkResult Swapchain::barrier_cmd(uint32_t family, bool release, uint32_t index, VkCommandBuffer *out) noexcept {
  Image &image = *images_[index];
  for (const auto &c : image.cmds)
    if (c.family == family) {
      *out = release ? c.release : c.acquire;
      return VK_SUCCESS;
    }
  const SwapchainVk &vk = *params_.vk;
  VkDevice dev = params_.device;
  try { // the room first: nothing is made that could not be kept
    image.cmds.reserve(image.cmds.size() + 1);
    pools_.reserve(pools_.size() + 1);
  } catch (const std::bad_alloc &) {
    SFW_ERROR("swapchain: out of host memory for an ownership-transfer command buffer");
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  VkCommandPool pool = VK_NULL_HANDLE;
  for (const Pool &p : pools_)
    if (p.family == family) pool = p.pool;
  if (pool == VK_NULL_HANDLE) {
    VkCommandPoolCreateInfo info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    info.queueFamilyIndex = family;
    VkResult r = vk.CreateCommandPool(dev, &info, vk_allocator(), &pool);
    if (r != VK_SUCCESS) return r;
    pools_.push_back({family, pool});
  }
  VkCommandBuffer cmds[2];
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = pool;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 2;
  VkResult r = vk.AllocateCommandBuffers(dev, &alloc, cmds);
  if (r != VK_SUCCESS) return r;
  bool concurrent = params_.sharing == VK_SHARING_MODE_CONCURRENT;
  uint32_t own = concurrent ? VK_QUEUE_FAMILY_IGNORED : family;
  for (int i = 0; i < 2; ++i) {
    if (params_.vk->set_device_loader_data) params_.vk->set_device_loader_data(dev, cmds[i]);
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT;
    vk.BeginCommandBuffer(cmds[i], &begin);
    VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    barrier.oldLayout = barrier.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    barrier.srcQueueFamilyIndex = i == 0 ? own : VK_QUEUE_FAMILY_FOREIGN_EXT;
    barrier.dstQueueFamilyIndex = i == 0 ? VK_QUEUE_FAMILY_FOREIGN_EXT : own;
    barrier.image = image.image;
    barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, params_.array_layers};
    barrier.srcAccessMask = i == 0 ? VK_ACCESS_MEMORY_WRITE_BIT : 0;
    barrier.dstAccessMask = i == 0 ? 0 : VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT;
    vk.CmdPipelineBarrier(cmds[i], VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                          i == 0 ? VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 0, nullptr,
                          0, nullptr, 1, &barrier);
    if ((r = vk.EndCommandBuffer(cmds[i])) != VK_SUCCESS) return r;
  }
  image.cmds.push_back({family, cmds[0], cmds[1]});
  *out = release ? cmds[0] : cmds[1];
  return VK_SUCCESS;
}

} // namespace sfw

namespace sfw {

VkResult Swapchain::wait_for_present(uint64_t id, uint64_t timeout_ns) noexcept {
  if (!feedback_) {
    SFW_ERROR("vkWaitForPresentKHR: the device did not enable VK_KHR_present_id and VK_KHR_present_wait");
    return VK_ERROR_OUT_OF_DATE_KHR;
  }
  const auto deadline = wl::deadline_after(std::chrono::nanoseconds(std::min<uint64_t>(timeout_ns, INT64_MAX)));
  for (;;) {
    // Retirement is read between slices: a retired swapchain will never present an id it has not yet.
    if (retired() && id > feedback_->requested() && feedback_->completed() < id) return VK_ERROR_OUT_OF_DATE_KHR;
    wl::Status s = feedback_->wait(id, std::min(deadline, wl::Clock::now() + kPresentWaitSlice));
    if (s == wl::Status::ok) return VK_SUCCESS;
    if (s == wl::Status::lost) return VK_ERROR_SURFACE_LOST_KHR;
    if (wl::Clock::now() >= deadline) return VK_TIMEOUT;
  }
}

} // namespace sfw
