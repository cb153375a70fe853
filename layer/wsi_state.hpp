// The layer's view of surfaces and swapchains: which (physical device, surface) pairs it owns,
// and which swapchain handles are its own.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "swapchain/driver_facts.hpp"
#include "swapchain/mode.hpp"
#include "swapchain/swapchain.hpp"
#include "wayland/display_info.hpp"
#include "wayland/syncobj_surface.hpp"
#include "wayland/tearing_control.hpp"

struct wl_display;
struct wl_surface;

namespace sfw::layer {

struct InstanceState;

struct SurfaceState {
  VkSurfaceKHR surface = VK_NULL_HANDLE; // the driver's surface, kept for passthrough
  wl_display *display = nullptr;
  wl_surface *wl = nullptr;

  struct PerDevice {
    VkPhysicalDevice physical_device;
    ModeDecision decision;
    std::shared_ptr<const DriverFacts> driver;
    std::shared_ptr<const wl::DisplayInfo> compositor;
  };
  std::mutex mutex;
  // wp_tearing_control_v1 is surface state that outlives swapchains: made once (for the first
  // IMMEDIATE swapchain), set to vsync again for other modes, destroyed with the surface.
  std::unique_ptr<wl::TearingControl> tearing;
  // wp_linux_drm_syncobj_surface_v1, the same kind of surface state: made for the first drm-syncobj swapchain,
  // kept across recreation, abandoned for good by a degradation or a swapchain in another mode (syncobj_surface.hpp).
  std::unique_ptr<wl::SyncobjSurface> syncobj;
  bool syncobj_tried = false;
  std::deque<PerDevice> decisions; // one per physical device (stable addresses), kept for the surface's life
  SurfaceChains chains;            // which of the layer's swapchains holds the surface (retirement)
};

// The decision for (physical device, surface), made at the first query and logged once.
const SurfaceState::PerDevice &surface_decision(InstanceState &instance, VkPhysicalDevice phys, SurfaceState &surface);
// A swapchain degraded (or its kernel probe said no): later swapchains of the surface start there.
void record_degradation(SurfaceState &surface, VkPhysicalDevice phys, Mode mode);
Mode current_mode(SurfaceState &surface, const SurfaceState::PerDevice &decision);
std::shared_ptr<SurfaceState> find_surface(InstanceState &instance, VkSurfaceKHR surface);
std::shared_ptr<const DriverFacts> driver_facts(InstanceState &instance, VkPhysicalDevice phys);

// A swapchain the layer owns, as the app's handle points to it. Made, with everything it keeps, through
// the swapchain's allocation callbacks (vkCreateSwapchainKHR's pAllocator, or the device's).
struct LayerSwapchain {
  std::shared_ptr<SurfaceState> surface; // before the engine: it outlives it (the engine uses its chains)
  HostUnique<Swapchain> engine;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t image_count = 0;
  std::shared_ptr<const wl::DisplayInfo> compositor; // what the surface decision saw (the tearing hint needs it)
  VkPresentModeKHR present_mode = VK_PRESENT_MODE_FIFO_KHR; // the last one asked for; under the app's present sync
  // Guarded by the device's swapchains_mutex.
  HostString name;                                           // debug utils / marker name
  HostMap<VkPrivateDataSlot, uint64_t> private_data;
};

// IMMEDIATE may tear: say so with wp_tearing_control_v1 where the compositor has it; any other mode sets vsync
// again before its next commit (at creation, and where VK_EXT_swapchain_maintenance1 switches modes at present).
void set_tearing_hint(SurfaceState &surface, const wl::DisplayInfo &compositor, bool async);
// The surface's explicit sync object for a swapchain in `mode`: made once for drm-syncobj (null if that fails: the
// swapchain uses syncfile), abandoned for any other mode (its commits carry no points). Null outside drm-syncobj.
wl::SyncobjSurface *syncobj_surface_for(SurfaceState &surface, Mode mode);

inline VkSwapchainKHR to_handle(LayerSwapchain *sc) noexcept { return reinterpret_cast<VkSwapchainKHR>(sc); }

} // namespace sfw::layer
