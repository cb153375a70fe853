// sfw-test-client: a purpose-built Vulkan Wayland client for the stress tests (not product code).
// N xdg_toplevel surfaces, each with its own swapchain, spread over M threads that share one VkQueue
// (submits and presents under a mutex: the queue needs external synchronisation). Every VkResult maps
// to an exit code, and every error path cleans up and exits normally. See usage() for the options.
// The set-up, from the Wayland connection to each swapchain, is tests/common's (wsi_client.hpp).
#include "wsi_client.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>

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

using sfw::test::result_name;
using sfw::test::Status;
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

struct Options {
  int surfaces = 1, threads = 1, frames = 60, recreate_every = 0, recreate_count = -1, report_every = 0;
  uint32_t width = 64, height = 64;
  VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR;
  uint64_t timeout_ns = UINT64_MAX;
  int64_t slack_ms = 500;
  uint32_t api = VK_API_VERSION_1_1;
  bool clear = false, present_without_render = false, expect_timeout = false, end_with_acquire = false,
       verbose = false, fence_acquire = false, unmap_at_end = false, no_huge_pages = false;
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
// A failed set-up step's exit code and message.
int setup_fail(const Status &status) {
  switch (status.problem) {
  case Status::Problem::vulkan_call: return vk_fail(status.call, status.result);
  case Status::Problem::present_mode_not_offered: return fail(5, "present mode %d is not offered", opt.mode);
  case Status::Problem::usage_not_supported: return fail(1, "swapchain images do not support TRANSFER_DST");
  default: return fail(1, "%s", status.describe().c_str());
  }
}
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

// The handles every thread uses; run() owns them.
wl_display *g_display;
VkPhysicalDevice g_phys;
VkDevice g_device;
VkQueue g_queue;
uint32_t g_family;

// One window's Vulkan side (its wl_surface and xdg_toplevel are run()'s `windows`).
struct Surface {
  int id = 0;
  sfw::test::UniqueSurface vk;
  sfw::test::Swapchain chain; // declared after `vk`: destroyed before it
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

void destroy_sync_objects(Surface &s) {
  for (auto *v : {&s.render_sem, &s.acquire_sem, &s.free_sems})
    for (VkSemaphore sem : *v)
      if (sem != VK_NULL_HANDLE) vkDestroySemaphore(g_device, sem, nullptr);
  s.render_sem.clear(), s.acquire_sem.clear(), s.free_sems.clear();
}

// Creates s.chain, retiring `old` (which goes when s.chain is replaced), and its per-image objects; false
// once the failure is reported.
bool create_swapchain(Surface &s, VkSwapchainKHR old) {
  sfw::test::SwapchainOptions options;
  options.present_mode = opt.mode;
  options.extent = {opt.width, opt.height};
  options.old_swapchain = old;
  sfw::test::Swapchain chain;
  if (Status status = sfw::test::create_swapchain(g_phys, g_device, s.vk.get(), options, chain); !status)
    return setup_fail(status), false;
  s.chain = std::move(chain);
  const size_t n = s.chain.images.size();
  s.layouts.assign(n, VK_IMAGE_LAYOUT_UNDEFINED);
  s.acquire_sem.assign(n, VK_NULL_HANDLE);
  s.render_sem.assign(n, VK_NULL_HANDLE);
  VkSemaphoreCreateInfo sem_info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  for (auto &sem : s.render_sem)
    if (VkResult r = vkCreateSemaphore(g_device, &sem_info, nullptr, &sem); r != VK_SUCCESS) return vk_fail("vkCreateSemaphore", r), false;
  if (opt.verbose) say("surface %d: swapchain %ux%u, %zu images", s.id, s.chain.extent.width, s.chain.extent.height, n);
  return true;
}

// Waits until nothing of ours is in flight on the shared queue (all semaphore waits have executed).
VkResult idle_queue() {
  std::lock_guard lock(g_queue_mutex);
  return vkQueueWaitIdle(g_queue);
}

bool recreate(Surface &s) {
  if (++s.recreates_since_present > kMaxRecreatesWithoutPresent)
    return vk_fail("recreating again and again without a present", VK_ERROR_OUT_OF_DATE_KHR), false;
  if (VkResult r = idle_queue(); r != VK_SUCCESS) return vk_fail("vkQueueWaitIdle", r), false;
  destroy_sync_objects(s);
  // The new swapchain retires the old one, which goes when s.chain is replaced, or here where that failed.
  if (!create_swapchain(s, s.chain.get())) return s.chain = {}, false;
  ++s.recreated, ++g_recreated;
  return true;
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
  b.image = s.chain.images[idx];
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  b.dstAccessMask = opt.clear ? VK_ACCESS_TRANSFER_WRITE_BIT : 0;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       opt.clear ? VK_PIPELINE_STAGE_TRANSFER_BIT : VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0,
                       nullptr, 1, &b);
  if (opt.clear) {
    float t = static_cast<float>(s.frame % 60) / 60.0f;
    VkClearColorValue colour{{t, 1.0f - t, static_cast<float>(s.id % 4) / 3.0f, 1.0f}};
    vkCmdClearColorImage(cmd, s.chain.images[idx], VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &colour, 1, &b.subresourceRange);
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
  VkResult r = opt.fence_acquire ? vkAcquireNextImageKHR(g_device, s.chain.get(), opt.timeout_ns, VK_NULL_HANDLE, s.acquire_fence, &idx)
                                 : vkAcquireNextImageKHR(g_device, s.chain.get(), opt.timeout_ns, sem, VK_NULL_HANDLE, &idx);
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
    return recreate(s);
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
  const VkSwapchainKHR chain = s.chain.get();
  present.swapchainCount = 1;
  present.pSwapchains = &chain;
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
  if ((suboptimal || scheduled) && !recreate(s)) return false;
  if (opt.expect_timeout ? (s.timed_out && s.frame >= s.frames_target) : s.frame >= s.frames_target) {
    if (opt.end_with_acquire) { // leave one image acquired, unpresented, at destroy
      VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
      VkSemaphore last;
      if ((r = vkCreateSemaphore(g_device, &info, nullptr, &last)) != VK_SUCCESS) return vk_fail("vkCreateSemaphore", r), false;
      s.render_sem.push_back(last); // destroyed with the rest
      uint32_t i;
      r = vkAcquireNextImageKHR(g_device, s.chain.get(), 1'000'000'000, last, VK_NULL_HANDLE, &i);
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
          "  --no-huge-pages        prctl(PR_SET_THP_DISABLE) first: RSS then counts only pages the process touched\n"
          "  --unmap-at-end         at the end, unmap the windows (attach no buffer, commit), then acquire images\n"
          "                         back until one takes 3 s: one line per surface says how many came back\n"
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
    else if (a == "--unmap-at-end") opt.unmap_at_end = true;
    else if (a == "--no-huge-pages") opt.no_huge_pages = true;
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

// The windows, each with an xdg_toplevel, configured.
int open_windows(sfw::test::WaylandConnection &wayland, wl_display *display, std::vector<sfw::test::Window> &windows) {
  if (!wayland.adopt(display)) return fail(1, "no wl_compositor or xdg_wm_base");
  for (size_t i = 0; i < windows.size(); ++i) windows[i].create(wayland, ("sfw-test-client " + std::to_string(i)).c_str());
  if (!sfw::test::wait_configured(display, windows)) return fail(1, "the compositor did not configure every surface");
  return 0;
}

int setup_vulkan(const std::vector<sfw::test::Window> &windows, sfw::test::Instance &instance, sfw::test::Device &device,
                 std::vector<Surface> &surfaces) {
  sfw::test::InstanceOptions instance_options;
  instance_options.app_name = "sfw-test-client";
  instance_options.api_version = opt.api;
  if (Status status = sfw::test::create_instance(instance_options, instance); !status) return setup_fail(status);
  for (size_t i = 0; i < surfaces.size(); ++i)
    if (Status status = sfw::test::create_wayland_surface(instance.get(), g_display, windows[i].surface(), surfaces[i].vk); !status)
      return setup_fail(status);
  sfw::test::PresentingQueue where;
  if (Status status = sfw::test::find_presenting_queue(instance.get(), g_display, surfaces[0].vk.get(), where); !status)
    return setup_fail(status);
  if (Status status = sfw::test::create_device(where, {}, device); !status) return setup_fail(status);
  g_phys = device.physical, g_device = device.get(), g_queue = device.queue, g_family = device.family;
  VkResult r;
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
    if (!create_swapchain(s, VK_NULL_HANDLE)) return g_exit.load();
    s.frames_target = static_cast<uint64_t>(opt.frames);
  }
  return 0;
}

// Unmapped, a surface's buffers go back to their owner (the swapchain) with wl_buffer.release once the
// compositor has stopped reading them: then those images can be acquired again, each within a bound.
void unmap_and_acquire_all(std::vector<sfw::test::Window> &windows, std::vector<Surface> &surfaces) {
  for (sfw::test::Window &w : windows)
    if (w.surface() != nullptr) wl_surface_attach(w.surface(), nullptr, 0, 0), wl_surface_commit(w.surface());
  if (wl_display_flush(g_display) < 0) say("the flush after unmapping failed");
  VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence = VK_NULL_HANDLE;
  if (vkCreateFence(g_device, &info, nullptr, &fence) != VK_SUCCESS) return (void)fail(1, "vkCreateFence");
  for (Surface &s : surfaces) {
    if (s.chain.get() == VK_NULL_HANDLE) continue;
    const size_t images = s.chain.images.size();
    size_t acquired = 0;
    VkResult r = VK_SUCCESS;
    for (; acquired < images; ++acquired) {
      uint32_t index = 0;
      r = vkAcquireNextImageKHR(g_device, s.chain.get(), 3'000'000'000ull, VK_NULL_HANDLE, fence, &index);
      if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) break;
      if ((r = vkWaitForFences(g_device, 1, &fence, VK_TRUE, 5'000'000'000ull)) != VK_SUCCESS) break;
      vkResetFences(g_device, 1, &fence);
    }
    say("surface %d unmapped: %zu of %zu images acquired back%s%s", s.id, acquired, images, acquired < images ? ", then " : "",
        acquired < images ? result_name(r) : "");
  }
  vkDestroyFence(g_device, fence, nullptr);
}

// What run()'s owners do not destroy themselves, once the device is idle.
void cleanup(std::vector<sfw::test::Window> &windows, std::vector<Surface> &surfaces) {
  if (g_device == VK_NULL_HANDLE) return;
  if (VkResult r = vkDeviceWaitIdle(g_device); r != VK_SUCCESS) say("vkDeviceWaitIdle returned %s", result_name(r));
  if (opt.unmap_at_end) unmap_and_acquire_all(windows, surfaces);
  for (Surface &s : surfaces) {
    destroy_sync_objects(s);
    for (VkFence f : s.fence)
      if (f != VK_NULL_HANDLE) vkDestroyFence(g_device, f, nullptr);
    if (s.acquire_fence != VK_NULL_HANDLE) vkDestroyFence(g_device, s.acquire_fence, nullptr);
    if (s.pool != VK_NULL_HANDLE) vkDestroyCommandPool(g_device, s.pool, nullptr);
    s.chain = {};
  }
}

// Everything between connecting and the summary line. The owners are declared in creation order, so that
// they go in the reverse one: swapchains and VkSurfaceKHRs, device, instance, windows, connection.
int run(wl_display *display) {
  g_display = display;
  sfw::test::WaylandConnection wayland;
  std::vector<sfw::test::Window> windows(static_cast<size_t>(opt.surfaces));
  sfw::test::Instance instance;
  sfw::test::Device device;
  std::vector<Surface> surfaces(static_cast<size_t>(opt.surfaces));
  for (size_t i = 0; i < surfaces.size(); ++i) surfaces[i].id = static_cast<int>(i);
  int rc = open_windows(wayland, display, windows);
  if (rc == 0) rc = setup_vulkan(windows, instance, device, surfaces);
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
  cleanup(windows, surfaces); // --unmap-at-end may still fail here
  return rc != 0 ? rc : g_exit.load();
}

} // namespace

int main(int argc, char **argv) {
  if (!parse(argc, argv)) return usage();
  // With transparent huge pages "always", khugepaged later backs lavapipe's sparse start-up heap (about 30 MB
  // reserved, 10 MB touched) with 2 MB pages: RSS then jumps by ~20 MB at a random moment, with no allocation.
  if (opt.no_huge_pages && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) return fail(1, "PR_SET_THP_DISABLE: %s", strerror(errno));
  auto start = Clock::now();
  const int fds_at_start = open_fds();
  wl_display *display = wl_display_connect(nullptr);
  if (display == nullptr) return fprintf(stderr, "sfw-test-client: cannot connect to the Wayland display\n"), 1;
  const int rc = run(display);
  // What outlived every destroy call (dma-bufs, sync_files, wl connection): fds_leaked.
  printf("fds_leaked=%d frames=%" PRIu64 " acquires=%" PRIu64 " presents=%" PRIu64 " timeouts=%" PRIu64 " recreated=%" PRIu64
         " elapsed_ms=%" PRId64 " max_present_ms=%" PRId64 " max_timeout_ms=%" PRId64 " exit=%d\n",
         open_fds() - fds_at_start, g_frames.load(), g_acquires.load(), g_presents.load(), g_timeouts.load(), g_recreated.load(), ms_since(start),
         g_max_present_ms.load(), g_max_timeout_ms.load(), rc);
  return rc;
}
