// One swapchain image and what the layer keeps for it (private to the swapchain's .cpp files).
#pragma once

#include "kernel/sync_file.hpp"

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
  ImageState state = ImageState::free;
  bool released_to_foreign = false;  // the last present handed it to the compositor's queue family
  bool lazy = false;                 // acquired without loading the semaphore: `reads` waits for the submit
  kernel::SyncFile reads;            // the compositor's reads, for the lazy path
  VkSemaphore present_done = VK_NULL_HANDLE;  // exportable SYNC_FD
  VkSemaphore acquired_back = VK_NULL_HANDLE; // signalled by the acquire-back batch
  struct Cmds {
    uint32_t family;
    VkCommandBuffer release, acquire;
  };
  Vector<Cmds> cmds;
};

} // namespace sfw
