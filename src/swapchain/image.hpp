// One swapchain image and what the layer keeps for it (private to the swapchain's .cpp files).
#pragma once

#include "kernel/drm_syncobj.hpp"
#include "kernel/sync_file.hpp"

#include <optional>

#include "swapchain/swapchain.hpp"

namespace sfw {

enum class ImageState { free, acquired, presented };

struct Swapchain::Image {
  ~Image() = default; // Vulkan objects are freed by Swapchain::destroy_images()
  VkImage image = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint32_t memory_type = 0;
  VkDeviceSize memory_size = 0;
  kernel::UniqueFd dmabuf;
  HostUnique<wl::SurfaceLink::Buffer> buffer;
  wl::SurfaceLink::Plane planes[4]{};
  ImageState state = ImageState::free; // under frame_mutex_
  // drm-syncobj (under frame_mutex_): the image's timeline, here and as the compositor imported it. Each commit
  // takes the next two points: the acquire point (the frame's rendering) and the release point (the compositor's).
  std::optional<kernel::Timeline> timeline;
  HostUnique<wl::SyncobjSurface::Timeline> wl_timeline;
  uint64_t last_point = 0;
  uint64_t release_point = 0;    // of the last commit that carried points
  bool explicit_release = false; // that commit was the last: the image is free once its release point is available
  // The take-back's fields, under mutex_:
  bool released_to_foreign = false; // the last present handed it to the compositor's queue family
  bool lazy = false;                // acquired without loading the app's semaphore
  bool reads_pending = false;       // a fence-only acquire loaded reads_semaphore: the take-back waits on it
  kernel::SyncFile reads;           // the compositor's reads, for the take-back's CPU wait (no semaphore import)
  VkSemaphore present_done = VK_NULL_HANDLE;   // exportable SYNC_FD
  VkSemaphore reads_semaphore = VK_NULL_HANDLE; // the layer's own, for fence-only acquires
  struct Cmds {
    uint32_t family;
    VkCommandBuffer release, acquire;
  };
  Vector<Cmds> cmds;
};

} // namespace sfw
