// Swapchain images: VkImages on dedicated, exportable dma-buf memory, and their wl_buffers.
#include <cinttypes>
#include <algorithm>
#include <new>

#include <sys/eventfd.h>

#include "log.hpp"
#include "swapchain/image.hpp"
#include "wayland/buffer_params.hpp"

namespace sfw {

namespace {
constexpr auto kBufferTimeout = std::chrono::milliseconds(10000); // see kCreateTimeout

uint32_t pick_memory_type(const VkPhysicalDeviceMemoryProperties &props, uint32_t allowed) {
  // Device-local first: the compositor reads through the dma-buf, the GPU writes every frame.
  for (VkMemoryPropertyFlags want : {VkMemoryPropertyFlags(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT), VkMemoryPropertyFlags(0)})
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
      if ((allowed & (1u << i)) && (props.memoryTypes[i].propertyFlags & want) == want) return i;
  return UINT32_MAX;
}
} // namespace

VkResult Swapchain::create_images(uint64_t modifier) {
  VkResult result = VK_SUCCESS;
  try {
    for (uint32_t i = 0; i < params_.image_count && result == VK_SUCCESS; ++i) {
      images_.push_back(host_new<Image>());
      result = create_image(*images_.back(), modifier);
      if (result == VK_SUCCESS) result = create_buffer(*images_.back());
    }
  } catch (const std::bad_alloc &) {
    SFW_ERROR("swapchain: out of host memory for its images");
    result = VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  if (result != VK_SUCCESS) destroy_images();
  return result;
}

void Swapchain::destroy_images() noexcept {
  const SwapchainVk &vk = *params_.vk;
  VkDevice dev = params_.device;
  for (auto &image : images_) {
    image->buffer.reset();
    if (image->present_done) vk.DestroySemaphore(dev, image->present_done, vk_allocator());
    if (image->reads_semaphore) vk.DestroySemaphore(dev, image->reads_semaphore, vk_allocator());
    if (image->image) vk.DestroyImage(dev, image->image, vk_allocator());
    if (image->memory) vk.FreeMemory(dev, image->memory, vk_allocator());
  }
  images_.clear();
  for (VkDeviceMemory memory : aliases_) vk.FreeMemory(dev, memory, vk_allocator());
  aliases_.clear();
}

VkResult Swapchain::create_image(Image &image, uint64_t modifier) {
  const SwapchainVk &vk = *params_.vk;
  VkDevice dev = params_.device;

  VkExternalMemoryImageCreateInfo external{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO};
  external.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  VkImageDrmFormatModifierListCreateInfoEXT modifier_list{VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_LIST_CREATE_INFO_EXT};
  modifier_list.drmFormatModifierCount = 1;
  modifier_list.pDrmFormatModifiers = &modifier;
  VkImageFormatListCreateInfo format_list{VK_STRUCTURE_TYPE_IMAGE_FORMAT_LIST_CREATE_INFO};
  format_list.viewFormatCount = static_cast<uint32_t>(params_.view_formats.size());
  format_list.pViewFormats = params_.view_formats.data();

  // LINEAR needs no modifier tiling: plain LINEAR images are what every driver (and validation's
  // format-feature tracking) knows best.
  bool debug_unoffered = modifier == wl::kDebugUnofferedModifier; // LINEAR memory, announced otherwise
  bool modifier_tiling = params_.use_drm_modifier_tiling && modifier != 0 && !debug_unoffered;
  const void *chain = &external;
  if (modifier_tiling) {
    modifier_list.pNext = chain;
    chain = &modifier_list;
  } else if (modifier != 0 && !debug_unoffered) {
    return VK_ERROR_FORMAT_NOT_SUPPORTED; // without the extension only LINEAR can be described
  }
  if (!params_.view_formats.empty()) {
    format_list.pNext = chain;
    chain = &format_list;
  }
  VkImageCreateInfo info{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  info.pNext = chain;
  info.flags = params_.image_flags;
  info.imageType = VK_IMAGE_TYPE_2D;
  info.format = params_.format;
  info.extent = {params_.extent.width, params_.extent.height, 1};
  info.mipLevels = 1;
  info.arrayLayers = params_.array_layers;
  info.samples = VK_SAMPLE_COUNT_1_BIT;
  info.tiling = modifier_tiling ? VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT : VK_IMAGE_TILING_LINEAR;
  info.usage = params_.usage;
  info.sharingMode = params_.sharing;
  info.queueFamilyIndexCount = static_cast<uint32_t>(params_.queue_families.size());
  info.pQueueFamilyIndices = params_.queue_families.data();
  info.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  VkResult result = vk.CreateImage(dev, &info, vk_allocator(), &image.image);
  if (result != VK_SUCCESS) {
    SFW_WARN("swapchain: vkCreateImage with modifier 0x%" PRIx64 " failed: %d", modifier, result);
    return result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY ? result
                                                                                             : VK_ERROR_FORMAT_NOT_SUPPORTED;
  }

  VkMemoryRequirements reqs;
  vk.GetImageMemoryRequirements(dev, image.image, &reqs);
  VkMemoryDedicatedAllocateInfo dedicated{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO};
  dedicated.image = image.image;
  VkExportMemoryAllocateInfo export_info{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO};
  export_info.pNext = &dedicated;
  export_info.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.pNext = &export_info;
  alloc.allocationSize = reqs.size;
  alloc.memoryTypeIndex = pick_memory_type(params_.memory, reqs.memoryTypeBits);
  if (alloc.memoryTypeIndex == UINT32_MAX) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  if ((result = vk.AllocateMemory(dev, &alloc, vk_allocator(), &image.memory)) != VK_SUCCESS) return result;
  image.memory_type = alloc.memoryTypeIndex;
  image.memory_size = alloc.allocationSize;
  if ((result = vk.BindImageMemory(dev, image.image, image.memory, 0)) != VK_SUCCESS) return result;

  VkMemoryGetFdInfoKHR fd_info{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR};
  fd_info.memory = image.memory;
  fd_info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  int fd = -1;
  if ((result = vk.GetMemoryFdKHR(dev, &fd_info, &fd)) != VK_SUCCESS) {
    SFW_ERROR("swapchain: vkGetMemoryFdKHR failed: %d", result);
    return result == VK_ERROR_TOO_MANY_OBJECTS ? VK_ERROR_OUT_OF_HOST_MEMORY : result;
  }
  image.dmabuf.reset(fd);

  // The real planes: MEMORY_PLANE_i for modifier tiling, COLOR for LINEAR.
  if (modifier_tiling) {
    VkImageDrmFormatModifierPropertiesEXT props{VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_PROPERTIES_EXT};
    if (vk.GetImageDrmFormatModifierPropertiesEXT(dev, image.image, &props) == VK_SUCCESS) modifier_ = props.drmFormatModifier;
    plane_count_ = 1;
    for (const auto &mp : params_.modifier_planes)
      if (mp.modifier == modifier_) plane_count_ = std::max(1u, std::min(mp.planes, 4u));
  } else {
    modifier_ = debug_unoffered ? wl::kDebugUnofferedModifier : 0;
    plane_count_ = 1;
  }
  static constexpr VkImageAspectFlagBits plane_aspects[] = {
      VK_IMAGE_ASPECT_MEMORY_PLANE_0_BIT_EXT, VK_IMAGE_ASPECT_MEMORY_PLANE_1_BIT_EXT,
      VK_IMAGE_ASPECT_MEMORY_PLANE_2_BIT_EXT, VK_IMAGE_ASPECT_MEMORY_PLANE_3_BIT_EXT};
  for (uint32_t p = 0; p < plane_count_; ++p) {
    VkImageAspectFlags aspect = modifier_tiling ? VkImageAspectFlags(plane_aspects[p]) : VkImageAspectFlags(VK_IMAGE_ASPECT_COLOR_BIT);
    VkImageSubresource sub{aspect, 0, 0};
    VkSubresourceLayout layout{};
    vk.GetImageSubresourceLayout(dev, image.image, &sub, &layout);
    if (layout.offset > UINT32_MAX || layout.rowPitch > UINT32_MAX) return VK_ERROR_FORMAT_NOT_SUPPORTED;
    image.planes[p] = {image.dmabuf.get(), static_cast<uint32_t>(layout.offset), static_cast<uint32_t>(layout.rowPitch)};
  }
  return VK_SUCCESS;
}

VkResult Swapchain::alias_memory(uint32_t index, VkImage app_image, VkDeviceMemory *out) noexcept {
  const SwapchainVk &vk = *params_.vk;
  VkDevice dev = params_.device;
  if (index >= images_.size()) {
    SFW_ERROR("vkBindImageMemory2: imageIndex %u of a swapchain with %zu images", index, images_.size());
    return VK_ERROR_VALIDATION_FAILED_EXT;
  }
  const Image &image = *images_[index];
  VkMemoryRequirements reqs;
  vk.GetImageMemoryRequirements(dev, app_image, &reqs);
  if (reqs.size > image.memory_size) {
    SFW_ERROR("vkBindImageMemory2: the image needs %" PRIu64 " bytes, swapchain image %u has %" PRIu64,
              static_cast<uint64_t>(reqs.size), index, static_cast<uint64_t>(image.memory_size));
    return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  }
  auto fd = image.dmabuf.dup();
  if (!fd) {
    char why[160];
    SFW_WARN("vkBindImageMemory2: %s", kernel::format_error(fd.error(), why, sizeof why));
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  VkMemoryFdPropertiesKHR fd_props{VK_STRUCTURE_TYPE_MEMORY_FD_PROPERTIES_KHR};
  VkResult result = vk.GetMemoryFdPropertiesKHR(dev, VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT, fd->get(), &fd_props);
  if (result != VK_SUCCESS) {
    SFW_ERROR("vkBindImageMemory2: vkGetMemoryFdPropertiesKHR on swapchain image %u failed: %d", index, result);
    return result == VK_ERROR_INVALID_EXTERNAL_HANDLE ? VK_ERROR_OUT_OF_DEVICE_MEMORY : result;
  }
  uint32_t allowed = fd_props.memoryTypeBits & reqs.memoryTypeBits;
  uint32_t type = (allowed >> image.memory_type) & 1u ? image.memory_type : pick_memory_type(params_.memory, allowed);
  if (type == UINT32_MAX) {
    SFW_ERROR("vkBindImageMemory2: no memory type fits both the image and swapchain image %u", index);
    return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  }
  try {
    std::lock_guard lock(mutex_);
    aliases_.reserve(aliases_.size() + 1); // before the import: nothing to undo after it
    VkMemoryDedicatedAllocateInfo dedicated{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO};
    dedicated.image = app_image;
    VkImportMemoryFdInfoKHR import{VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR};
    import.pNext = &dedicated;
    import.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
    import.fd = fd->get();
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.pNext = &import;
    alloc.allocationSize = reqs.size;
    alloc.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    if ((result = vk.AllocateMemory(dev, &alloc, vk_allocator(), &memory)) != VK_SUCCESS) {
      SFW_ERROR("vkBindImageMemory2: importing swapchain image %u's dma-buf failed: %d", index, result);
      return result == VK_ERROR_INVALID_EXTERNAL_HANDLE ? VK_ERROR_OUT_OF_DEVICE_MEMORY : result;
    }
    (void)fd->release(); // the driver owns it now
    aliases_.push_back(memory);
    *out = memory;
    return VK_SUCCESS;
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
}

VkResult Swapchain::create_buffer(Image &image) {
  wl::FormatModifier fm{params_.drm_format, modifier_};
  wl::Status status = link_->create_buffer(params_.extent.width, params_.extent.height, fm,
                                           std::span<const wl::SurfaceLink::Plane>(image.planes, plane_count_),
                                           &image.buffer, kBufferTimeout);
  switch (status) {
  case wl::Status::ok: return VK_SUCCESS;
  case wl::Status::failed:
  case wl::Status::refused: return VK_ERROR_FORMAT_NOT_SUPPORTED; // try the next modifier
  case wl::Status::lost: return VK_ERROR_SURFACE_LOST_KHR;
  case wl::Status::no_fds: return VK_ERROR_OUT_OF_HOST_MEMORY;
  case wl::Status::timeout: break;
  }
  SFW_ERROR("swapchain: the compositor did not answer buffer creation in time");
  return VK_ERROR_INITIALIZATION_FAILED;
}

VkResult Swapchain::create_timelines() noexcept {
  render_node_ = kernel::RenderNode::shared();
  if (render_node_ == nullptr || params_.syncobj == nullptr || !params_.syncobj->active()) {
    SFW_WARN("swapchain: no drm-syncobj (%s): the dma-buf sync_file path instead",
             render_node_ == nullptr ? kernel::RenderNode::shared_reason() : "the surface gave up explicit sync");
    return VK_ERROR_INITIALIZATION_FAILED;
  }
  char why[160];
  auto failed = [&](const kernel::Error &e) {
    SFW_WARN("swapchain: no drm-syncobj (%s): the dma-buf sync_file path instead", kernel::format_error(e, why, sizeof why));
    return VK_ERROR_INITIALIZATION_FAILED;
  };
  release_wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!release_wake_) return failed(kernel::Error::from_errno("eventfd", -1, errno));
  try {
    for (auto &image : images_) {
      auto timeline = kernel::Timeline::create(*render_node_);
      if (!timeline) return failed(timeline.error());
      auto fd = timeline->export_fd();
      if (!fd) return failed(fd.error());
      image->timeline.emplace(std::move(*timeline));
      image->wl_timeline = params_.syncobj->import_timeline(fd->get()); // libwayland sends a dup
      if (!image->wl_timeline) return failed(kernel::Error::from_errno("import_timeline", fd->get(), ENOMEM));
    }
  } catch (const std::bad_alloc &) {
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  return VK_SUCCESS;
}

} // namespace sfw
