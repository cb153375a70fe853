// Test helper, not product code: the Vulkan side of a Wayland test client, from the instance to the
// swapchain, for tests/client/sfw-test-client, tests/vm/sync_test and bench/. Whatever layers
// VK_LAYER_PATH / VK_INSTANCE_LAYERS name are loaded by the loader as usual.
//  - Free functions and owners, one per set-up step, for clients that arrange the steps themselves.
//  - WsiClient: one window, one swapchain, a pre-recorded clear per image and one frame in flight, in
//    pieces (acquire, render, present) that a test can interleave its own checks with.
// Set-up steps return a Status, which says what failed; the caller reports it its own way.
#pragma once

#include "wayland_window.hpp"

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sfw::test {

constexpr uint64_t kWaitBound = 5'000'000'000; // 5 s: WsiClient never waits without a bound

const char *result_name(VkResult result);

// How a set-up step ended.
struct Status {
  enum class Problem {
    none,
    vulkan_call,              // `call` returned `result`
    wayland_globals_missing,  // no wl_compositor or xdg_wm_base (or no connection)
    window_not_configured,    // the compositor never configured the xdg_toplevel
    no_presenting_device,     // no device has a graphics queue family that presents to the surface
    no_surface_format,        // the surface offers no format at all
    present_mode_not_offered, // SwapchainOptions::present_mode
    usage_not_supported,      // SwapchainOptions::usage
  };
  Problem problem = Problem::none;
  const char *call = "";
  VkResult result = VK_SUCCESS;

  static Status failed(const char *call, VkResult result) { return {Problem::vulkan_call, call, result}; }
  explicit operator bool() const { return problem == Problem::none; }
  std::string describe() const;
};

// Owns one Vulkan object: destroys it once, with the allocator it was made with. `Parent` is the
// instance or device that made it (std::nullptr_t for an instance or a device itself).
template <class Handle, auto Destroy, class Parent = std::nullptr_t> class VkOwner {
public:
  VkOwner() = default;
  VkOwner(Parent parent, Handle handle, const VkAllocationCallbacks *allocator = nullptr)
      : parent_(parent), handle_(handle), allocator_(allocator) {}
  VkOwner(VkOwner &&other) noexcept { *this = std::move(other); }
  VkOwner &operator=(VkOwner &&other) noexcept {
    if (this != &other) {
      reset();
      parent_ = other.parent_;
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
      allocator_ = other.allocator_;
    }
    return *this;
  }
  ~VkOwner() { reset(); }

  Handle get() const { return handle_; }
  // Gives up ownership (a second client borrowing another's device): the object is not destroyed here.
  Handle release() { return std::exchange(handle_, VK_NULL_HANDLE); }
  void reset() {
    if (handle_ == VK_NULL_HANDLE) return;
    if constexpr (std::is_same_v<Parent, std::nullptr_t>)
      Destroy(handle_, allocator_);
    else
      Destroy(parent_, handle_, allocator_);
    handle_ = VK_NULL_HANDLE;
  }

private:
  Parent parent_{};
  Handle handle_ = VK_NULL_HANDLE;
  const VkAllocationCallbacks *allocator_ = nullptr;
};

// An extension command: found through the instance when it is destroyed.
void destroy_debug_messenger(VkInstance instance, VkDebugUtilsMessengerEXT messenger, const VkAllocationCallbacks *allocator);

using UniqueInstance = VkOwner<VkInstance, vkDestroyInstance>;
using UniqueDebugMessenger = VkOwner<VkDebugUtilsMessengerEXT, destroy_debug_messenger, VkInstance>;
using UniqueSurface = VkOwner<VkSurfaceKHR, vkDestroySurfaceKHR, VkInstance>;
using UniqueDevice = VkOwner<VkDevice, vkDestroyDevice>;
using UniqueSwapchain = VkOwner<VkSwapchainKHR, vkDestroySwapchainKHR, VkDevice>;
using UniqueCommandPool = VkOwner<VkCommandPool, vkDestroyCommandPool, VkDevice>;
using UniqueSemaphore = VkOwner<VkSemaphore, vkDestroySemaphore, VkDevice>;
using UniqueFence = VkOwner<VkFence, vkDestroyFence, VkDevice>;

// ---- instance and surface ---------------------------------------------------------------------------

struct InstanceOptions {
  const char *app_name = "syncfile-wsi test client";
  uint32_t api_version = VK_API_VERSION_1_1;
  std::vector<const char *> layers;     // besides those VK_INSTANCE_LAYERS names
  std::vector<const char *> extensions; // besides VK_KHR_surface and VK_KHR_wayland_surface
  // Set: VK_EXT_debug_utils is enabled, this is chained to vkCreateInstance (so that instance creation
  // and destruction report too) and a messenger is made with it for the instance's life.
  const VkDebugUtilsMessengerCreateInfoEXT *debug_messenger = nullptr;
};

// A VkInstance and, where one was asked for, its debug messenger (declared second: destroyed first).
// Not assignable: member-wise assignment would destroy the instance before its messenger.
struct Instance {
  UniqueInstance handle;
  UniqueDebugMessenger messenger;
  Instance &operator=(Instance &&) = delete;
  VkInstance get() const { return handle.get(); }
  void reset() {
    messenger.reset();
    handle.reset();
  }
};

Status create_instance(const InstanceOptions &options, Instance &out);
Status create_wayland_surface(VkInstance instance, wl_display *display, wl_surface *surface, UniqueSurface &out);

// ---- device -----------------------------------------------------------------------------------------

// Where frames render and present: a physical device and one of its queue families.
struct PresentingQueue {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  uint32_t family = 0;
};

// The first device and queue family, in the loader's order, that renders (graphics) and presents to
// `surface` on `display`. Status::Problem::no_presenting_device where none does.
Status find_presenting_queue(VkInstance instance, wl_display *display, VkSurfaceKHR surface, PresentingQueue &out);

struct DeviceOptions {
  std::vector<const char *> extensions; // besides VK_KHR_swapchain
  const void *next = nullptr;           // VkDeviceCreateInfo::pNext (features)
  const VkAllocationCallbacks *allocator = nullptr;
};

// A VkDevice with one queue of the presenting family.
struct Device {
  UniqueDevice handle;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkQueue queue = VK_NULL_HANDLE;
  VkDevice get() const { return handle.get(); }
};

Status create_device(const PresentingQueue &where, const DeviceOptions &options, Device &out);

// ---- swapchain --------------------------------------------------------------------------------------

struct SwapchainOptions {
  VkPresentModeKHR present_mode = VK_PRESENT_MODE_FIFO_KHR; // Problem::present_mode_not_offered otherwise
  VkFormat format = VK_FORMAT_B8G8R8A8_UNORM;               // where offered; else the surface's first format
  VkExtent2D extent = {64, 64}; // where the surface leaves the size to the swapchain (Wayland does), clamped
  uint32_t extra_images = 0;    // beyond the surface's minImageCount, up to its maxImageCount
  VkImageUsageFlags usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
  VkSwapchainKHR old_swapchain = VK_NULL_HANDLE; // retired, not destroyed: that is the caller's
  const VkAllocationCallbacks *allocator = nullptr;
  const void *next = nullptr; // VkSwapchainCreateInfoKHR::pNext
};

struct Swapchain {
  UniqueSwapchain handle;
  VkSurfaceFormatKHR format{};
  VkExtent2D extent{};
  std::vector<VkImage> images;
  VkSwapchainKHR get() const { return handle.get(); }
};

// Checks the surface's capabilities against `options`, then creates the swapchain and gets its images.
// `out` is left empty on failure.
Status create_swapchain(VkPhysicalDevice physical, VkDevice device, VkSurfaceKHR surface, const SwapchainOptions &options,
                        Swapchain &out);

// ---- a whole client ---------------------------------------------------------------------------------

// One xdg_toplevel with one swapchain and what one frame in flight needs: a pre-recorded command buffer
// per image (clear to a colour of its own, then to PRESENT_SRC), a render-done semaphore per image, one
// acquire semaphore and two fences (acquire, frame). Members are declared in creation order, so that
// they are destroyed in the reverse one.
class WsiClient {
public:
  struct Options {
    InstanceOptions instance;
    DeviceOptions device;
    SwapchainOptions swapchain;
  };

  WsiClient() = default;
  WsiClient(const WsiClient &) = delete;
  WsiClient &operator=(const WsiClient &) = delete;
  ~WsiClient() { destroy(); }

  // The set-up, one step at a time, each after the ones before; init() takes them all in turn.
  Status connect(wl_display *display);                      // owns `display` from here on
  Status create_instance(const InstanceOptions &options);   // and the VkSurfaceKHR of the window
  Status create_device(const DeviceOptions &options);       // on the first presenting queue
  Status create_swapchain(const SwapchainOptions &options); // and the frame objects
  Status init(wl_display *display, const Options &options);
  // Waits for the device to go idle, then destroys the frame objects and the swapchain: create_swapchain()
  // may follow.
  void destroy_swapchain();
  // destroy_swapchain(), then everything else, the Wayland connection last.
  void destroy();

  // The pieces of one frame. acquire() dispatches the default queue first (pings, configures), as an
  // app's loop would, and signals `acquired` and `fence`; render() waits on `acquired`.
  VkResult acquire(VkFence fence, uint32_t *index, uint64_t timeout = kWaitBound);
  VkResult wait_and_reset(VkFence fence);
  VkResult render(uint32_t index, VkFence fence);
  VkResult present(uint32_t index);
  // An ordinary frame: acquire (waiting for its fence), render (waiting for its fence), present. The first
  // error, else VK_SUBOPTIMAL_KHR where the acquire or the present said so, else VK_SUCCESS.
  VkResult frame(uint32_t *index);

  WaylandConnection wayland;
  Window window;
  Instance instance;
  UniqueSurface surface;
  Device device;
  Swapchain swapchain;
  UniqueCommandPool pool;
  std::vector<VkCommandBuffer> cmds;     // per image, from `pool`
  std::vector<UniqueSemaphore> render_done; // per image: its present waits on it
  UniqueSemaphore acquired;
  UniqueFence acquire_fence, frame_fence;
};

} // namespace sfw::test
