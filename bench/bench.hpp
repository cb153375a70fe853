// Bench helper, not product code: what bench/present_bench and bench/oversync_bench share. Their client
// is tests/common's WsiClient on $WAYLAND_DISPLAY (weston, started by the calling script); a failure ends
// the bench with a message.
#pragma once

#include "wsi_client.hpp" // tests/common

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace sfw::bench {

[[noreturn]] inline void failed(const char *file, int line, const char *what, VkResult r) {
  fprintf(stderr, "%s:%d: %s = %d\n", file, line, what, static_cast<int>(r));
  exit(1);
}

} // namespace sfw::bench

#define BENCH_CHECK(x)                                                                           \
  do {                                                                                           \
    VkResult r_ = (x);                                                                           \
    if (r_ != VK_SUCCESS) sfw::bench::failed(__FILE__, __LINE__, #x, r_);                        \
  } while (0)
// Acquire and present: VK_SUBOPTIMAL_KHR still gives or shows the image.
#define BENCH_CHECK_SUBOPTIMAL_OK(x)                                                             \
  do {                                                                                           \
    VkResult r_ = (x);                                                                           \
    if (r_ != VK_SUCCESS && r_ != VK_SUBOPTIMAL_KHR) sfw::bench::failed(__FILE__, __LINE__, #x, r_); \
  } while (0)

namespace sfw::bench {

using Client = sfw::test::WsiClient;
using Clock = std::chrono::steady_clock;
constexpr uint64_t kBound = sfw::test::kWaitBound;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Connects and sets `client` up: `mode`, `size` x `size` B8G8R8A8 images, `extra_images` more than the
// surface's minimum.
inline void init(Client &client, VkPresentModeKHR mode, uint32_t size, uint32_t extra_images,
                 std::vector<const char *> device_extensions = {}) {
  wl_display *display = wl_display_connect(nullptr);
  if (display == nullptr) {
    fprintf(stderr, "bench: cannot connect to WAYLAND_DISPLAY\n");
    exit(1);
  }
  Client::Options options;
  options.instance.app_name = "syncfile-wsi bench";
  options.swapchain.present_mode = mode;
  options.swapchain.extent = {size, size};
  options.swapchain.extra_images = extra_images;
  options.device.extensions = std::move(device_extensions);
  if (sfw::test::Status status = client.init(display, options); !status) {
    fprintf(stderr, "bench: %s\n", status.describe().c_str());
    exit(1);
  }
}

// A whole ordinary frame; returns the presented index.
inline uint32_t frame(Client &client) {
  uint32_t index = 0;
  BENCH_CHECK_SUBOPTIMAL_OK(client.frame(&index));
  return index;
}

inline std::string device_name(const Client &client) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(client.device.physical, &props);
  return props.deviceName;
}

} // namespace sfw::bench
