// The layer's own swapchain for a Wayland surface: an image ring on exportable dma-buf memory,
// shared with the compositor as zwp_linux_dmabuf_v1 buffers, synchronised per image with
// sync_files (syncfile mode) or CPU waits (cpu-wait mode).
//
// Image life: free -> acquired (app renders) -> presented (compositor may read) -> free again when
// the compositor releases its wl_buffer. "Free" means no new reads will start; reads already on
// the GPU are what the acquire's export waits for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "host_alloc.hpp"
#include "kernel/unique_fd.hpp"
#include "swapchain/mode.hpp"
#include "swapchain/pending_acquires.hpp"
#include "swapchain/surface_chains.hpp"
#include "swapchain/vk_functions.hpp"
#include "wayland/present_feedback.hpp"
#include "wayland/surface_link.hpp"

struct wl_display;
struct wl_surface;

namespace sfw::kernel {
class RenderNode;
}

namespace sfw {

// The bound on waits for the layer's own GPU work (its present submits, a lazy take-back's reads).
inline constexpr uint64_t kLayerWorkBoundNs = 5'000'000'000;
// A hidden window never hangs the app: FIFO's wait for the frame callback, and a present id's wait for its
// feedback, end after this long (the compositor shows nothing of a hidden surface, so it may never answer).
inline constexpr auto kHiddenWindowBound = std::chrono::milliseconds(1000);

// Image counts, the one rule for the surface's capabilities and the swapchain's creation. A compositor
// may hold one buffer on screen and one pending: MAILBOX needs 4 never to block.
constexpr uint32_t min_image_count(VkPresentModeKHR mode) noexcept { return mode == VK_PRESENT_MODE_MAILBOX_KHR ? 4 : 3; }
inline constexpr uint32_t kMinImagesAnyMode = 4;
inline constexpr uint32_t kMaxImages = 16;

struct SwapchainCounters {
  std::atomic<uint64_t> acquires{0}, exports{0}, imports{0}, empty_exports{0}, cpu_waits{0}, presents{0},
      degradations{0};
  // Exports answered by a poll: the dma-buf was idle, so the snapshot is "nothing to wait for" (no sync_file).
  std::atomic<uint64_t> idle_exports{0};
  // Acquires that found no free image and waited for the compositor's release, and how long in all: where
  // throughput is bound by the compositor's releases rather than by the frame's work.
  std::atomic<uint64_t> release_waits{0}, release_wait_us{0};
};

// Made inside the ScopedHostAllocator of the swapchain: its containers keep those callbacks.
struct SwapchainParams {
  VkDevice device = VK_NULL_HANDLE;
  const SwapchainVk *vk = nullptr;
  // The app's pAllocator of vkCreateSwapchainKHR (copied: the app need not keep it), passed down with
  // every Vulkan object the swapchain makes, as the driver's own swapchain would.
  std::optional<VkAllocationCallbacks> vk_allocator;
  VkPhysicalDeviceMemoryProperties memory{};
  Mode mode = Mode::syncfile;
  wl_display *display = nullptr;
  wl_surface *surface = nullptr;
  SurfaceChains *chains = nullptr;         // the surface's (retirement); outlives the swapchain
  wl::SyncobjSurface *syncobj = nullptr;   // drm-syncobj: the surface's explicit sync object; outlives the swapchain
  uint32_t drm_format = 0;                 // DRM fourcc for the VkFormat and alpha mode
  std::shared_ptr<const wl::DisplayInfo> compositor; // what the surface decision saw; null: query again
  Vector<uint64_t> modifiers;              // compositor ∩ driver, in preference order
  struct ModifierPlanes {
    uint64_t modifier;
    uint32_t planes;
  };
  Vector<ModifierPlanes> modifier_planes; // drmFormatModifierPlaneCount of each
  bool use_drm_modifier_tiling = false;    // VK_EXT_image_drm_format_modifier enabled
  bool wait_for_frame_callback = false;    // FIFO
  bool semaphore_import = true;            // false: SYNCFILE_WSI_DEBUG=no-semaphore-import (the lazy path)
  bool ownership_transfers = true;         // needs_ownership_transfers(): false, present releases nothing
  bool present_ids = false;                // the app enabled VK_KHR_present_id or VK_KHR_present_wait
  uint32_t image_count = 0;
  // From VkSwapchainCreateInfoKHR
  VkFormat format = VK_FORMAT_UNDEFINED;
  VkExtent2D extent{};
  uint32_t array_layers = 1;
  VkImageUsageFlags usage = 0;
  VkImageCreateFlags image_flags = 0;
  VkSharingMode sharing = VK_SHARING_MODE_EXCLUSIVE;
  Vector<uint32_t> queue_families;
  Vector<VkFormat> view_formats;     // VkImageFormatListCreateInfo for MUTABLE_FORMAT
};

// Locking (item: no wait while a lock another swapchain needs is held):
//  - frame_mutex_ orders this swapchain's acquires and presents; it is held through their waits on the
//    compositor (a free buffer, the FIFO frame callback) and the GPU (cpu-wait), which only this
//    swapchain's own acquires and presents wait behind;
//  - mutex_ guards what the submit path touches (each image's take-back fields, the ownership-transfer
//    command buffers and their pools); it is never held across a wait. Order: frame_mutex_, then mutex_.
// No device-wide lock is held while any of these are called.
class Swapchain final : public TakeBackSource {
public:
  // Creates images, exports their dma-bufs and makes one wl_buffer each. The swapchain and everything it
  // keeps are allocated through the ScopedHostAllocator active on this thread. Throws std::bad_alloc.
  static VkResult create(const SwapchainParams &params, HostUnique<Swapchain> *out);
  ~Swapchain();
  Swapchain(const Swapchain &) = delete;
  Swapchain &operator=(const Swapchain &) = delete;

  VkResult get_images(uint32_t *count, VkImage *images) const noexcept;
  VkResult acquire(uint64_t timeout_ns, VkSemaphore semaphore, VkFence fence, uint32_t *index) noexcept;

  // Present is split around the layer's one submit, which may serve several swapchains: the
  // submit runs `release` (ownership to the compositor) and signals `done`.
  struct PresentPart {
    VkCommandBuffer release = VK_NULL_HANDLE; // null without ownership transfers (a CPU device)
    VkSemaphore done = VK_NULL_HANDLE; // null where nothing consumes it (cpu-wait): never signalled twice
    VkFence fence = VK_NULL_HANDLE; // tracks the layer's own work on this image
  };
  VkResult prepare_present(uint32_t index, uint32_t queue_family, PresentPart *part) noexcept;
  // After the submit: fence the dma-buf with the frame's rendering, then attach and commit.
  // What the app's present asks of this swapchain besides its image.
  struct PresentRequest {
    std::span<const wl::Rect> damage;                  // VkPresentRegionsKHR; empty: everything
    uint64_t present_id = 0;                           // VkPresentIdKHR; 0: none
    VkPresentModeKHR mode = VK_PRESENT_MODE_MAX_ENUM_KHR; // VkSwapchainPresentModeInfoEXT; MAX_ENUM: as before
  };
  VkResult finish_present(uint32_t index, const PresentPart &part, const PresentRequest &request) noexcept;
  // vkReleaseSwapchainImagesEXT: acquired images the app will not present go back to the swapchain, as if never
  // acquired (an image the compositor had stays to be taken back at its next acquire). VK_ERROR_VALIDATION_FAILED_EXT
  // (nothing changed) if one of them is not acquired (invalid usage).
  VkResult release_images(std::span<const uint32_t> indices) noexcept;
  // vkWaitForPresentKHR: until an id >= `id` was shown or discarded by the compositor (VK_SUCCESS),
  // `timeout_ns` passes (VK_TIMEOUT), the swapchain is retired before `id` was presented
  // (VK_ERROR_OUT_OF_DATE_KHR), or the compositor is gone (VK_ERROR_SURFACE_LOST_KHR). Takes neither of
  // the swapchain's locks, so it runs beside the app's acquires and presents on other threads.
  VkResult wait_for_present(uint64_t id, uint64_t timeout_ns) noexcept;
  // The submit failed or never ran: the image stays acquired, as it was; the unused fence is kept for the next present.
  void cancel_present(uint32_t index, const PresentPart &part) noexcept;

  // After an acquire: must the first submit (or present) that uses the image take it back first
  // (PendingAcquires), and was the app's semaphore left unloaded (the lazy path: no SYNC_FD semaphore
  // import; the take-back waits on the CPU for the compositor's reads and signals the semaphore itself)?
  bool needs_take_back(uint32_t index) const noexcept;
  bool is_lazy(uint32_t index) const noexcept;
  VkResult prepare_take_back(uint32_t index, uint32_t family, bool record_commands, TakeBack *out) noexcept override;
  void commit_take_back(uint32_t index, const TakeBack &take) noexcept override;

  // For images the app binds to swapchain memory (VkImageSwapchainCreateInfoKHR and
  // VkBindImageMemorySwapchainInfoKHR): how the images are laid out, and memory for `app_image` that
  // is image `index`'s dma-buf imported again, dedicated to `app_image` (the layer's own memory is
  // dedicated to the layer's image, so it cannot be bound to another: VUID-VkBindImageMemoryInfo-memory-01509).
  // The import lives until the swapchain is destroyed (freeing memory an image is bound to is allowed;
  // the image must then not be used, as with any swapchain-bound image after vkDestroySwapchainKHR).
  bool modifier_tiling() const noexcept { return params_.use_drm_modifier_tiling && modifier_ != 0; }
  uint64_t modifier() const noexcept { return modifier_; }
  VkResult alias_memory(uint32_t index, VkImage app_image, VkDeviceMemory *out) noexcept;

  // A newer swapchain of the surface was created (surface_chains.hpp).
  bool retired() const noexcept { return params_.chains != nullptr && params_.chains->retired(this); }
  Mode mode() const noexcept { return mode_; }
  const SwapchainCounters &counters() const noexcept { return counters_; }
  std::string describe() const;

private:
  struct Image;
  explicit Swapchain(const SwapchainParams &params);
  VkResult create_images(uint64_t modifier);   // all or nothing
  VkResult create_image(Image &image, uint64_t modifier);
  VkResult create_buffer(Image &image);
  void destroy_images() noexcept;
  VkResult barrier_cmd(uint32_t family, bool release, uint32_t index, VkCommandBuffer *out) noexcept;
  VkResult degrade(const char *why) noexcept; // `why`: a static string
  const VkAllocationCallbacks *vk_allocator() const noexcept {
    return params_.vk_allocator ? &*params_.vk_allocator : nullptr;
  }
  wl::Status wait_for_free_image(std::chrono::steady_clock::time_point deadline, bool blocking, uint32_t *index);
  VkResult create_timelines() noexcept;        // drm-syncobj: one per image, imported by the compositor
  bool release_available(Image &image) noexcept; // the compositor's release point has a fence (or is signalled)
  bool uses_sync_files() const noexcept { return mode_ == Mode::drm_syncobj || mode_ == Mode::syncfile; }
  VkResult import_acquire(Image &image, VkSemaphore semaphore, VkFence fence, std::chrono::steady_clock::time_point deadline,
                          bool blocking) noexcept;

  SwapchainParams params_;
  Mode mode_;
  std::shared_ptr<const kernel::RenderNode> render_node_; // drm-syncobj: open while a swapchain has timelines on it
  bool suboptimal_once_ = false;
  bool fifo_ = false; // FIFO pacing (the frame callback) for the next present; under frame_mutex_
  const char *degrade_reason_ = ""; // a static string
  HostUnique<wl::SurfaceLink> link_;
  HostUnique<wl::PresentFeedback> feedback_; // with params_.present_ids
  Vector<HostUnique<Image>> images_;
  Vector<VkDeviceMemory> aliases_; // alias_memory()'s imports; under mutex_
  struct Pool {
    uint32_t family;
    VkCommandPool pool;
  };
  Vector<Pool> pools_;
  // Fences of the layer's own present submits: reused once signalled, never waited on in
  // present (syncfile mode must not wait for the GPU); destroy waits for them. A cancelled present's
  // fence was never submitted: it is the spare, used next and never waited on.
  Vector<VkFence> fences_;
  VkFence spare_fence_ = VK_NULL_HANDLE;
  VkResult take_fence(VkFence *fence) noexcept;
  uint64_t modifier_ = 0;
  uint32_t plane_count_ = 1;
  uint64_t generation_ = 0; // the surface's count of swapchains when this one was admitted
  kernel::UniqueFd release_wake_; // drm-syncobj: an eventfd that release points write to (DRM_IOCTL_SYNCOBJ_EVENTFD)
  std::mutex frame_mutex_; // see the locking rule above the class
  mutable std::mutex mutex_;
  SwapchainCounters counters_;
};

} // namespace sfw
