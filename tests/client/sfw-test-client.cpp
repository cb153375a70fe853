// sfw-test-client: a purpose-built Vulkan Wayland client for the stress tests (not product code).
// N xdg_toplevel surfaces, each with its own swapchain, spread over M threads that share one VkQueue
// (submits and presents under a mutex: the queue needs external synchronisation). Every VkResult maps
// to an exit code, and every error path cleans up and exits normally. See usage() for the options.
#include "xdg-shell-client-protocol.h"

#include <vulkan/vulkan.h>
#include <wayland-client.h>

#include <dirent.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFramesInFlight = 2;
constexpr int kMaxRecreatesWithoutPresent = 20;

// Exit codes: 0 success, 1 set-up failure, 2 usage, 3 a finite acquire overran its bound, 4 --expect-timeout
// saw no timeout, 5 present mode not offered; a VkResult: 10 OUT_OF_DATE, 11 SURFACE_LOST, 12 DEVICE_LOST,
// 13 TIMEOUT (from an acquire without a timeout), 14 NOT_READY, 15 OUT_OF_HOST_MEMORY, 16 OUT_OF_DEVICE_MEMORY,
// 17 INITIALIZATION_FAILED, 18 any other. The failing call and result name are printed ("FAILED: ...").
constexpr VkResult kCodes[] = {VK_ERROR_OUT_OF_DATE_KHR, VK_ERROR_SURFACE_LOST_KHR, VK_ERROR_DEVICE_LOST, VK_TIMEOUT,
                               VK_NOT_READY, VK_ERROR_OUT_OF_HOST_MEMORY, VK_ERROR_OUT_OF_DEVICE_MEMORY,
                               VK_ERROR_INITIALIZATION_FAILED};
int exit_code(VkResult r) {
  for (size_t i = 0; i < std::size(kCodes); ++i)
    if (kCodes[i] == r) return 10 + static_cast<int>(i);
  return 10 + static_cast<int>(std::size(kCodes)); // 18: any other result
}
const char *result_name(VkResult r) {
  switch (r) {
#define R(x) case x: return #x;
    R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_SUBOPTIMAL_KHR) R(VK_ERROR_OUT_OF_DATE_KHR)
    R(VK_ERROR_SURFACE_LOST_KHR) R(VK_ERROR_DEVICE_LOST) R(VK_ERROR_OUT_OF_HOST_MEMORY)
    R(VK_ERROR_OUT_OF_DEVICE_MEMORY) R(VK_ERROR_INITIALIZATION_FAILED) R(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
    R(VK_ERROR_EXTENSION_NOT_PRESENT) R(VK_ERROR_LAYER_NOT_PRESENT) R(VK_ERROR_INCOMPATIBLE_DRIVER)
#undef R
  default: return "VkResult(other)";
  }
}

struct Options {
  int surfaces = 1, threads = 1, frames = 60, recreate_every = 0, recreate_count = -1, report_every = 0;
  uint32_t width = 64, height = 64;
  VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR;
  uint64_t timeout_ns = UINT64_MAX;
  int64_t slack_ms = 500;
  uint32_t api = VK_API_VERSION_1_1;
  bool clear = false, present_without_render = false, expect_timeout = false, end_with_acquire = false,
       verbose = false, fence_acquire = false;
} opt;

std::atomic<int> g_exit{0};           // first failure's exit code
std::atomic<bool> g_stop{false};      // a thread failed: everyone stops
std::atomic<int> g_threads_left{0};
std::atomic<uint64_t> g_frames{0}, g_acquires{0}, g_presents{0}, g_timeouts{0}, g_recreated{0};
std::atomic<int64_t> g_max_present_ms{0}, g_max_timeout_ms{0};
std::mutex g_queue_mutex, g_print_mutex;

void say(const char *fmt, ...) {
  std::lock_guard lock(g_print_mutex);
  va_list ap;
  va_start(ap, fmt);
  fputs("sfw-test-client: ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
  va_end(ap);
}
int fail(int code, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  say("FAILED: %s (exit %d)", text, code);
  int expected = 0;
  g_exit.compare_exchange_strong(expected, code);
  g_stop = true;
  return code;
}
int vk_fail(const char *call, VkResult r) { return fail(exit_code(r), "%s returned %s (%d)", call, result_name(r), r); }
void atomic_max(std::atomic<int64_t> &a, int64_t v) {
  for (int64_t cur = a.load(); v > cur && !a.compare_exchange_weak(cur, v);) {
  }
}
int open_fds();
long rss_kb() { // VmRSS of /proc/self/status
  FILE *f = fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f) != nullptr)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}
int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// ---- Wayland ----------------------------------------------------------------------------------------
wl_display *g_display;
wl_compositor *g_compositor;
xdg_wm_base *g_wm_base;

void wm_ping(void *, xdg_wm_base *base, uint32_t serial) { xdg_wm_base_pong(base, serial); }
const xdg_wm_base_listener wm_base_listener = {wm_ping};
void global_add(void *, wl_registry *reg, uint32_t name, const char *iface, uint32_t version) {
  if (strcmp(iface, wl_compositor_interface.name) == 0)
    g_compositor = static_cast<wl_compositor *>(wl_registry_bind(reg, name, &wl_compositor_interface, std::min(version, 4u)));
  else if (strcmp(iface, xdg_wm_base_interface.name) == 0) {
    g_wm_base = static_cast<xdg_wm_base *>(wl_registry_bind(reg, name, &xdg_wm_base_interface, 1));
    xdg_wm_base_add_listener(g_wm_base, &wm_base_listener, nullptr);
  }
}
void global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {global_add, global_remove};

// ---- Vulkan -----------------------------------------------------------------------------------------
VkInstance g_instance;
VkPhysicalDevice g_phys;
VkDevice g_device;
VkQueue g_queue;
uint32_t g_family;

struct Surface {
  int id = 0;
  wl_surface *wl = nullptr;
  xdg_surface *xdg = nullptr;
  xdg_toplevel *toplevel = nullptr;
  bool configured = false;
  VkSurfaceKHR vk = VK_NULL_HANDLE;
  VkSwapchainKHR chain = VK_NULL_HANDLE;
  VkExtent2D extent{};
  std::vector<VkImage> images;
  std::vector<VkImageLayout> layouts;
  std::vector<VkSemaphore> render_sem, acquire_sem; // per image; acquire_sem: the last one that image signalled
  std::vector<VkSemaphore> free_sems;               // acquire semaphores with no pending signal or wait
  VkCommandPool pool = VK_NULL_HANDLE;
  VkCommandBuffer cmd[kFramesInFlight]{};
  VkFence fence[kFramesInFlight]{};
  VkFence acquire_fence = VK_NULL_HANDLE; // --fence-acquire
  uint64_t frame = 0, frames_target = 0;
  int recreated = 0, recreates_since_present = 0;
  bool timed_out = false, done = false;
};

void xdg_configure(void *data, xdg_surface *xs, uint32_t serial) {
  xdg_surface_ack_configure(xs, serial);
  static_cast<Surface *>(data)->configured = true;
}
const xdg_surface_listener xdg_surface_listener_ = {xdg_configure};
void top_configure(void *, xdg_toplevel *, int32_t, int32_t, wl_array *) {}
void top_close(void *, xdg_toplevel *) {}
const xdg_toplevel_listener toplevel_listener = {top_configure, top_close};

void destroy_sync_objects(Surface &s) {
  for (auto *v : {&s.render_sem, &s.acquire_sem, &s.free_sems})
    for (VkSemaphore sem : *v)
      if (sem != VK_NULL_HANDLE) vkDestroySemaphore(g_device, sem, nullptr);
  s.render_sem.clear(), s.acquire_sem.clear(), s.free_sems.clear();
}

// Creates s.chain (retiring `old`, which the caller destroys) and its per-image objects.
VkResult create_swapchain(Surface &s, VkSwapchainKHR old) {
  VkSurfaceCapabilitiesKHR caps;
  VkResult r = vkGetPhysicalDeviceSurfaceCapabilitiesKHR(g_phys, s.vk, &caps);
  if (r != VK_SUCCESS) return vk_fail("vkGetPhysicalDeviceSurfaceCapabilitiesKHR", r), r;
  uint32_t n = 0;
  vkGetPhysicalDeviceSurfaceFormatsKHR(g_phys, s.vk, &n, nullptr);
  std::vector<VkSurfaceFormatKHR> formats(n);
  r = vkGetPhysicalDeviceSurfaceFormatsKHR(g_phys, s.vk, &n, formats.data());
  if (r != VK_SUCCESS || n == 0) return vk_fail("vkGetPhysicalDeviceSurfaceFormatsKHR", r), r == VK_SUCCESS ? VK_ERROR_INITIALIZATION_FAILED : r;
  VkSurfaceFormatKHR format = formats[0];
  for (auto f : formats)
    if (f.format == VK_FORMAT_B8G8R8A8_UNORM) format = f;
  vkGetPhysicalDeviceSurfacePresentModesKHR(g_phys, s.vk, &n, nullptr);
  std::vector<VkPresentModeKHR> modes(n);
  vkGetPhysicalDeviceSurfacePresentModesKHR(g_phys, s.vk, &n, modes.data());
  if (std::find(modes.begin(), modes.end(), opt.mode) == modes.end())
    return fail(5, "present mode %d is not offered", opt.mode), VK_ERROR_INITIALIZATION_FAILED;
  if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_DST_BIT))
    return fail(1, "swapchain images do not support TRANSFER_DST"), VK_ERROR_INITIALIZATION_FAILED;
  s.extent = caps.currentExtent;
  if (s.extent.width == 0xFFFFFFFFu)
    s.extent = {std::clamp(opt.width, caps.minImageExtent.width, caps.maxImageExtent.width),
                std::clamp(opt.height, caps.minImageExtent.height, caps.maxImageExtent.height)};
  VkSwapchainCreateInfoKHR info{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
  info.surface = s.vk;
  info.minImageCount = caps.minImageCount;
  info.imageFormat = format.format;
  info.imageColorSpace = format.colorSpace;
  info.imageExtent = s.extent;
  info.imageArrayLayers = 1;
  info.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
  info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  info.preTransform = VK_SURFACE_TRANSFORM_IDENTITY_BIT_KHR;
  info.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                            ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                            : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha & -caps.supportedCompositeAlpha);
  info.presentMode = opt.mode;
  info.clipped = VK_TRUE;
  info.oldSwapchain = old;
  s.chain = VK_NULL_HANDLE;
  if ((r = vkCreateSwapchainKHR(g_device, &info, nullptr, &s.chain)) != VK_SUCCESS)
    return s.chain = VK_NULL_HANDLE, vk_fail("vkCreateSwapchainKHR", r), r;
  vkGetSwapchainImagesKHR(g_device, s.chain, &n, nullptr);
  s.images.resize(n);
  vkGetSwapchainImagesKHR(g_device, s.chain, &n, s.images.data());
  s.layouts.assign(n, VK_IMAGE_LAYOUT_UNDEFINED);
  s.acquire_sem.assign(n, VK_NULL_HANDLE);
  s.render_sem.assign(n, VK_NULL_HANDLE);
  VkSemaphoreCreateInfo sem_info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  for (auto &sem : s.render_sem)
    if ((r = vkCreateSemaphore(g_device, &sem_info, nullptr, &sem)) != VK_SUCCESS) return vk_fail("vkCreateSemaphore", r), r;
  if (opt.verbose) say("surface %d: swapchain %ux%u, %u images", s.id, s.extent.width, s.extent.height, n);
  return VK_SUCCESS;
}

// Waits until nothing of ours is in flight on the shared queue (all semaphore waits have executed).
VkResult idle_queue() {
  std::lock_guard lock(g_queue_mutex);
  return vkQueueWaitIdle(g_queue);
}

VkResult recreate(Surface &s) {
  if (++s.recreates_since_present > kMaxRecreatesWithoutPresent)
    return vk_fail("recreating again and again without a present", VK_ERROR_OUT_OF_DATE_KHR), VK_ERROR_OUT_OF_DATE_KHR;
  VkResult r = idle_queue();
  if (r != VK_SUCCESS) return vk_fail("vkQueueWaitIdle", r), r;
  destroy_sync_objects(s);
  VkSwapchainKHR old = s.chain;
  r = create_swapchain(s, old);
  vkDestroySwapchainKHR(g_device, old, nullptr);
  if (r == VK_SUCCESS) ++s.recreated, ++g_recreated;
  return r;
}

VkResult record(Surface &s, VkCommandBuffer cmd, uint32_t idx) {
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VkResult r = vkBeginCommandBuffer(cmd, &begin);
  if (r != VK_SUCCESS) return r;
  VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  b.oldLayout = s.layouts[idx]; // UNDEFINED or PRESENT_SRC_KHR
  b.newLayout = opt.clear ? VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL : VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.image = s.images[idx];
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  b.dstAccessMask = opt.clear ? VK_ACCESS_TRANSFER_WRITE_BIT : 0;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       opt.clear ? VK_PIPELINE_STAGE_TRANSFER_BIT : VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0,
                       nullptr, 1, &b);
  if (opt.clear) {
    float t = static_cast<float>(s.frame % 60) / 60.0f;
    VkClearColorValue colour{{t, 1.0f - t, static_cast<float>(s.id % 4) / 3.0f, 1.0f}};
    vkCmdClearColorImage(cmd, s.images[idx], VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &colour, 1, &b.subresourceRange);
    b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask = 0;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0,
                         nullptr, 1, &b);
  }
  return vkEndCommandBuffer(cmd);
}

// One frame of surface s. Returns false when this surface is finished (done or failed).
bool frame(Surface &s) {
  if (s.free_sems.empty()) {
    VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore sem;
    if (VkResult r = vkCreateSemaphore(g_device, &info, nullptr, &sem); r != VK_SUCCESS) return vk_fail("vkCreateSemaphore", r), false;
    s.free_sems.push_back(sem);
  }
  VkSemaphore sem = s.free_sems.back();
  s.free_sems.pop_back();
  uint32_t idx = 0;
  auto t0 = Clock::now();
  VkResult r = opt.fence_acquire ? vkAcquireNextImageKHR(g_device, s.chain, opt.timeout_ns, VK_NULL_HANDLE, s.acquire_fence, &idx)
                                 : vkAcquireNextImageKHR(g_device, s.chain, opt.timeout_ns, sem, VK_NULL_HANDLE, &idx);
  int64_t took = ms_since(t0);
  if (opt.verbose) say("surface %d: acquire -> %s, image %u, %" PRId64 " ms", s.id, result_name(r), idx, took);
  if (r == VK_TIMEOUT || r == VK_NOT_READY) {
    s.free_sems.push_back(sem); // no signal operation was queued
    ++g_timeouts;
    atomic_max(g_max_timeout_ms, took);
    if (opt.timeout_ns == UINT64_MAX) return vk_fail("vkAcquireNextImageKHR (no timeout given)", r), false;
    int64_t bound = static_cast<int64_t>(opt.timeout_ns / 1000000) + opt.slack_ms;
    if (took > bound) return fail(3, "acquire returned %s after %" PRId64 " ms, bound %" PRId64 " ms", result_name(r), took, bound), false;
    if (opt.expect_timeout && !s.timed_out) {
      s.timed_out = true;
      s.frames_target = s.frame + static_cast<uint64_t>(opt.frames); // --frames more after the first timeout
      say("surface %d: acquire timed out (%s after %" PRId64 " ms)", s.id, result_name(r), took);
    }
    return true;
  }
  if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    s.free_sems.push_back(sem);
    if (wl_display_get_error(g_display) != 0) return vk_fail("vkAcquireNextImageKHR (connection lost)", r), false;
    return recreate(s) == VK_SUCCESS;
  }
  if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) {
    s.free_sems.push_back(sem);
    return vk_fail("vkAcquireNextImageKHR", r), false;
  }
  ++g_acquires;
  bool suboptimal = r == VK_SUBOPTIMAL_KHR;
  if (opt.fence_acquire) { // the image is ours once the fence signals; nothing for the GPU to wait on
    if ((r = vkWaitForFences(g_device, 1, &s.acquire_fence, VK_TRUE, 30'000'000'000ull)) != VK_SUCCESS)
      return vk_fail("vkWaitForFences (acquire fence)", r), false;
    vkResetFences(g_device, 1, &s.acquire_fence);
    s.free_sems.push_back(sem);
    sem = VK_NULL_HANDLE;
  }
  // The previous semaphore of this image was waited on by a submit or present that has run by now.
  if (s.acquire_sem[idx] != VK_NULL_HANDLE) s.free_sems.push_back(s.acquire_sem[idx]);
  s.acquire_sem[idx] = sem;

  VkSemaphore present_wait = sem;
  bool direct = opt.present_without_render && s.frame % 2 == 1 && s.layouts[idx] == VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  if (!direct) {
    int f = static_cast<int>(s.frame % kFramesInFlight);
    if ((r = vkWaitForFences(g_device, 1, &s.fence[f], VK_TRUE, 30'000'000'000ull)) != VK_SUCCESS)
      return vk_fail("vkWaitForFences", r), false;
    vkResetFences(g_device, 1, &s.fence[f]);
    if ((r = record(s, s.cmd[f], idx)) != VK_SUCCESS) return vk_fail("recording", r), false;
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = sem != VK_NULL_HANDLE ? 1 : 0;
    submit.pWaitSemaphores = &sem;
    submit.pWaitDstStageMask = &stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &s.cmd[f];
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &s.render_sem[idx];
    {
      std::lock_guard lock(g_queue_mutex);
      r = vkQueueSubmit(g_queue, 1, &submit, s.fence[f]);
    }
    if (r != VK_SUCCESS) return vk_fail("vkQueueSubmit", r), false;
    s.layouts[idx] = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    present_wait = s.render_sem[idx];
  }
  VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  present.waitSemaphoreCount = present_wait != VK_NULL_HANDLE ? 1 : 0;
  present.pWaitSemaphores = &present_wait;
  present.swapchainCount = 1;
  present.pSwapchains = &s.chain;
  present.pImageIndices = &idx;
  t0 = Clock::now();
  {
    std::lock_guard lock(g_queue_mutex);
    r = vkQueuePresentKHR(g_queue, &present);
  }
  took = ms_since(t0);
  atomic_max(g_max_present_ms, took);
  if (opt.verbose) say("surface %d: present%s image %u -> %s, %" PRId64 " ms", s.id, direct ? " (no render)" : "", idx, result_name(r), took);
  if (r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR) {
    if (s.frame == 0) say("surface %d presenting", s.id);
    ++s.frame, ++g_presents;
    const uint64_t done = ++g_frames;
    if (opt.report_every > 0 && done % static_cast<uint64_t>(opt.report_every) == 0)
      say("report frames=%" PRIu64 " fds=%d rss_kb=%ld acquires=%" PRIu64 " presents=%" PRIu64, done, open_fds(), rss_kb(),
          g_acquires.load(), g_presents.load());
    s.recreates_since_present = 0;
    suboptimal |= r == VK_SUBOPTIMAL_KHR;
  } else if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    if (wl_display_get_error(g_display) != 0) return vk_fail("vkQueuePresentKHR (connection lost)", r), false;
    suboptimal = true;
  } else {
    return vk_fail("vkQueuePresentKHR", r), false;
  }
  bool scheduled = opt.recreate_every > 0 && s.frame % static_cast<uint64_t>(opt.recreate_every) == 0 &&
                   (opt.recreate_count < 0 || s.recreated < opt.recreate_count) && r != VK_ERROR_OUT_OF_DATE_KHR;
  if ((suboptimal || scheduled) && recreate(s) != VK_SUCCESS) return false;
  if (opt.expect_timeout ? (s.timed_out && s.frame >= s.frames_target) : s.frame >= s.frames_target) {
    if (opt.end_with_acquire) { // leave one image acquired, unpresented, at destroy
      VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
      VkSemaphore last;
      if ((r = vkCreateSemaphore(g_device, &info, nullptr, &last)) != VK_SUCCESS) return vk_fail("vkCreateSemaphore", r), false;
      s.render_sem.push_back(last); // destroyed with the rest
      uint32_t i;
      r = vkAcquireNextImageKHR(g_device, s.chain, 1'000'000'000, last, VK_NULL_HANDLE, &i);
      if (opt.verbose) say("surface %d: final acquire -> %s", s.id, result_name(r));
    }
    return false;
  }
  return true;
}

void worker(std::vector<Surface *> mine) {
  bool any = true;
  while (any && !g_stop) {
    any = false;
    for (Surface *s : mine)
      if (!s->done && !g_stop) s->done = !frame(*s), any |= !s->done;
  }
  --g_threads_left;
}

// The app's own queue: dispatch it (pings, configures) while the workers present, until they finish.
void dispatch_until_workers_done() {
  int fd = wl_display_get_fd(g_display);
  while (g_threads_left > 0) {
    while (wl_display_prepare_read(g_display) != 0)
      if (wl_display_dispatch_pending(g_display) < 0) return;
    wl_display_flush(g_display);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      if (wl_display_read_events(g_display) < 0) return;
    } else {
      wl_display_cancel_read(g_display);
    }
    if (wl_display_dispatch_pending(g_display) < 0) return;
  }
}

int open_fds() { // entries of /proc/self/fd, less the directory's own
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3; // ".", ".." and the DIR's fd
}

int usage() {
  fprintf(stderr,
          "usage: sfw-test-client [OPTION]...\n"
          "  --surfaces N           N xdg_toplevel surfaces, each with its own swapchain (1)\n"
          "  --threads N            spread the surfaces over N presenting threads; one shared VkQueue (1)\n"
          "  --present-mode M       fifo, mailbox or immediate (fifo)\n"
          "  --frames N             frames per surface; with --expect-timeout, frames after the first timeout (60)\n"
          "  --width W --height H   image size (64x64)\n"
          "  --acquire-timeout-ns T acquire timeout (UINT64_MAX); a TIMEOUT/NOT_READY later than T plus the\n"
          "                         slack fails (exit 3); otherwise the client retries\n"
          "  --timeout-slack-ms MS  that slack (500)\n"
          "  --recreate N           recreate the swapchain with oldSwapchain every N frames\n"
          "  --recreate-count K     at most K such recreations per surface\n"
          "  --clear                clear each image to a colour that changes per frame (else: layout transitions)\n"
          "  --present-without-render  every other frame, present straight on the acquire semaphore (images\n"
          "                         already in PRESENT_SRC_KHR)\n"
          "  --fence-acquire        acquire with a fence only (no semaphore), wait for it, then render\n"
          "  --expect-timeout       succeed only once an acquire has timed out (exit 4 otherwise)\n"
          "  --end-with-acquire     acquire one more image at the end and destroy the swapchain holding it\n"
          "  --vulkan-1.0           ask for a Vulkan 1.0 instance (1.1)\n"
          "  --verbose              one line per acquire and present, with its duration\n"
          "  --report-every N       every N frames, one line: frames, open fds, VmRSS (kB), acquires, presents\n");
  return 2;
}

bool parse(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto num = [&](auto &out, long long lo) {
      if (i + 1 >= argc) return false;
      char *end;
      errno = 0;
      unsigned long long v = strtoull(argv[++i], &end, 0);
      if (*end != '\0' || errno != 0 || argv[i][0] == '-' || static_cast<long long>(v) < lo) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
      return true;
    };
    bool ok = true;
    if (a == "--surfaces") ok = num(opt.surfaces, 1) && opt.surfaces <= 64;
    else if (a == "--threads") ok = num(opt.threads, 1) && opt.threads <= 64;
    else if (a == "--frames") ok = num(opt.frames, 1);
    else if (a == "--width") ok = num(opt.width, 1);
    else if (a == "--height") ok = num(opt.height, 1);
    else if (a == "--recreate") ok = num(opt.recreate_every, 1);
    else if (a == "--recreate-count") ok = num(opt.recreate_count, 0);
    else if (a == "--acquire-timeout-ns" && i + 1 < argc) {
      char *end;
      errno = 0;
      opt.timeout_ns = strtoull(argv[++i], &end, 0);
      ok = *end == '\0' && errno == 0 && argv[i][0] != '-' && argv[i][0] != '\0';
    }
    else if (a == "--timeout-slack-ms") ok = num(opt.slack_ms, 0);
    else if (a == "--clear") opt.clear = true;
    else if (a == "--present-without-render") opt.present_without_render = true;
    else if (a == "--fence-acquire") opt.fence_acquire = true;
    else if (a == "--expect-timeout") opt.expect_timeout = true;
    else if (a == "--end-with-acquire") opt.end_with_acquire = true;
    else if (a == "--verbose") opt.verbose = true;
    else if (a == "--report-every") ok = num(opt.report_every, 1);
    else if (a == "--vulkan-1.0") opt.api = VK_API_VERSION_1_0;
    else if (a == "--present-mode" && i + 1 < argc) {
      std::string m = argv[++i];
      if (m == "fifo") opt.mode = VK_PRESENT_MODE_FIFO_KHR;
      else if (m == "mailbox") opt.mode = VK_PRESENT_MODE_MAILBOX_KHR;
      else if (m == "immediate") opt.mode = VK_PRESENT_MODE_IMMEDIATE_KHR;
      else ok = false;
    } else ok = false;
    if (!ok) return fprintf(stderr, "sfw-test-client: bad option or value: %s\n", a.c_str()), false;
  }
  if (opt.expect_timeout && opt.timeout_ns == UINT64_MAX) return fprintf(stderr, "--expect-timeout needs --acquire-timeout-ns\n"), false;
  if (opt.threads > opt.surfaces) opt.threads = opt.surfaces;
  return true;
}

int setup_vulkan(std::vector<Surface> &surfaces) {
  const char *inst_ext[] = {VK_KHR_SURFACE_EXTENSION_NAME, VK_KHR_WAYLAND_SURFACE_EXTENSION_NAME};
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "sfw-test-client";
  app.apiVersion = opt.api;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledExtensionCount = 2;
  ici.ppEnabledExtensionNames = inst_ext;
  VkResult r = vkCreateInstance(&ici, nullptr, &g_instance);
  if (r != VK_SUCCESS) return g_instance = VK_NULL_HANDLE, vk_fail("vkCreateInstance", r);
  for (Surface &s : surfaces) {
    VkWaylandSurfaceCreateInfoKHR info{VK_STRUCTURE_TYPE_WAYLAND_SURFACE_CREATE_INFO_KHR};
    info.display = g_display;
    info.surface = s.wl;
    if ((r = vkCreateWaylandSurfaceKHR(g_instance, &info, nullptr, &s.vk)) != VK_SUCCESS)
      return s.vk = VK_NULL_HANDLE, vk_fail("vkCreateWaylandSurfaceKHR", r);
  }
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(g_instance, &n, nullptr);
  std::vector<VkPhysicalDevice> devs(n);
  vkEnumeratePhysicalDevices(g_instance, &n, devs.data());
  for (VkPhysicalDevice d : devs) {
    uint32_t qn = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(d, &qn, nullptr);
    std::vector<VkQueueFamilyProperties> qs(qn);
    vkGetPhysicalDeviceQueueFamilyProperties(d, &qn, qs.data());
    for (uint32_t q = 0; q < qn && g_phys == VK_NULL_HANDLE; ++q) {
      VkBool32 ok = VK_FALSE;
      if ((qs[q].queueFlags & VK_QUEUE_GRAPHICS_BIT) && vkGetPhysicalDeviceWaylandPresentationSupportKHR(d, q, g_display) &&
          vkGetPhysicalDeviceSurfaceSupportKHR(d, q, surfaces[0].vk, &ok) == VK_SUCCESS && ok)
        g_phys = d, g_family = q;
    }
  }
  if (g_phys == VK_NULL_HANDLE) return fail(1, "no device can present to the surface");
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = g_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  const char *dev_ext[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = 1;
  dci.ppEnabledExtensionNames = dev_ext;
  if ((r = vkCreateDevice(g_phys, &dci, nullptr, &g_device)) != VK_SUCCESS) return g_device = VK_NULL_HANDLE, vk_fail("vkCreateDevice", r);
  vkGetDeviceQueue(g_device, g_family, 0, &g_queue);
  for (Surface &s : surfaces) {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = g_family;
    if ((r = vkCreateCommandPool(g_device, &pci, nullptr, &s.pool)) != VK_SUCCESS) return vk_fail("vkCreateCommandPool", r);
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = s.pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = kFramesInFlight;
    if ((r = vkAllocateCommandBuffers(g_device, &cai, s.cmd)) != VK_SUCCESS) return vk_fail("vkAllocateCommandBuffers", r);
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fci.flags = VK_FENCE_CREATE_SIGNALED_BIT;
    for (VkFence &f : s.fence)
      if ((r = vkCreateFence(g_device, &fci, nullptr, &f)) != VK_SUCCESS) return vk_fail("vkCreateFence", r);
    VkFenceCreateInfo unsignalled{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = vkCreateFence(g_device, &unsignalled, nullptr, &s.acquire_fence)) != VK_SUCCESS) return vk_fail("vkCreateFence", r);
    if (create_swapchain(s, VK_NULL_HANDLE) != VK_SUCCESS) return g_exit.load();
    s.frames_target = static_cast<uint64_t>(opt.frames);
  }
  return 0;
}

void cleanup(std::vector<Surface> &surfaces) {
  if (g_device != VK_NULL_HANDLE) {
    if (VkResult r = vkDeviceWaitIdle(g_device); r != VK_SUCCESS) say("vkDeviceWaitIdle returned %s", result_name(r));
    for (Surface &s : surfaces) {
      destroy_sync_objects(s);
      for (VkFence f : s.fence)
        if (f != VK_NULL_HANDLE) vkDestroyFence(g_device, f, nullptr);
      if (s.acquire_fence != VK_NULL_HANDLE) vkDestroyFence(g_device, s.acquire_fence, nullptr);
      if (s.pool != VK_NULL_HANDLE) vkDestroyCommandPool(g_device, s.pool, nullptr);
      if (s.chain != VK_NULL_HANDLE) vkDestroySwapchainKHR(g_device, s.chain, nullptr);
    }
    vkDestroyDevice(g_device, nullptr);
  }
  for (Surface &s : surfaces)
    if (s.vk != VK_NULL_HANDLE) vkDestroySurfaceKHR(g_instance, s.vk, nullptr);
  if (g_instance != VK_NULL_HANDLE) vkDestroyInstance(g_instance, nullptr);
  for (Surface &s : surfaces) {
    if (s.toplevel) xdg_toplevel_destroy(s.toplevel);
    if (s.xdg) xdg_surface_destroy(s.xdg);
    if (s.wl) wl_surface_destroy(s.wl);
  }
}

} // namespace

int main(int argc, char **argv) {
  if (!parse(argc, argv)) return usage();
  auto start = Clock::now();
  const int fds_at_start = open_fds();
  g_display = wl_display_connect(nullptr);
  if (g_display == nullptr) return fprintf(stderr, "sfw-test-client: cannot connect to the Wayland display\n"), 1;
  wl_registry *registry = wl_display_get_registry(g_display);
  wl_registry_add_listener(registry, &registry_listener, nullptr);
  std::vector<Surface> surfaces(static_cast<size_t>(opt.surfaces));
  int rc = 0;
  if (wl_display_roundtrip(g_display) < 0 || g_compositor == nullptr || g_wm_base == nullptr) {
    rc = fail(1, "no wl_compositor or xdg_wm_base");
  } else {
    for (int i = 0; i < opt.surfaces; ++i) {
      Surface &s = surfaces[static_cast<size_t>(i)];
      s.id = i;
      s.wl = wl_compositor_create_surface(g_compositor);
      s.xdg = xdg_wm_base_get_xdg_surface(g_wm_base, s.wl);
      xdg_surface_add_listener(s.xdg, &xdg_surface_listener_, &s);
      s.toplevel = xdg_surface_get_toplevel(s.xdg);
      xdg_toplevel_add_listener(s.toplevel, &toplevel_listener, &s);
      xdg_toplevel_set_title(s.toplevel, ("sfw-test-client " + std::to_string(i)).c_str());
      wl_surface_commit(s.wl);
    }
    for (int tries = 0; tries < 50 && !std::all_of(surfaces.begin(), surfaces.end(), [](auto &s) { return s.configured; }); ++tries)
      if (wl_display_roundtrip(g_display) < 0) break;
    if (!std::all_of(surfaces.begin(), surfaces.end(), [](auto &s) { return s.configured; }))
      rc = fail(1, "the compositor did not configure every surface");
  }
  if (rc == 0) rc = setup_vulkan(surfaces);
  if (rc == 0) {
    std::vector<std::vector<Surface *>> per_thread(static_cast<size_t>(opt.threads));
    for (Surface &s : surfaces) per_thread[static_cast<size_t>(s.id % opt.threads)].push_back(&s);
    g_threads_left = opt.threads;
    std::vector<std::thread> threads;
    for (auto &mine : per_thread) threads.emplace_back(worker, mine);
    dispatch_until_workers_done();
    for (auto &t : threads) t.join();
    rc = g_exit.load();
    if (rc == 0 && opt.expect_timeout && g_timeouts == 0) rc = fail(4, "no acquire timed out");
  }
  cleanup(surfaces);
  if (g_wm_base) xdg_wm_base_destroy(g_wm_base);
  if (g_compositor) wl_compositor_destroy(g_compositor);
  wl_registry_destroy(registry);
  wl_display_disconnect(g_display);
  // What outlived every destroy call (dma-bufs, sync_files, wl connection): fds_leaked.
  printf("fds_leaked=%d frames=%" PRIu64 " acquires=%" PRIu64 " presents=%" PRIu64 " timeouts=%" PRIu64 " recreated=%" PRIu64
         " elapsed_ms=%" PRId64 " max_present_ms=%" PRId64 " max_timeout_ms=%" PRId64 " exit=%d\n",
         open_fds() - fds_at_start, g_frames.load(), g_acquires.load(), g_presents.load(), g_timeouts.load(), g_recreated.load(), ms_since(start),
         g_max_present_ms.load(), g_max_timeout_ms.load(), rc);
  return rc;
}
