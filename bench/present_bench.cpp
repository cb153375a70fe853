// Issue 5 part 2, acquire + present cost (run inside the VM under weston's GL renderer; see
// bench/present.sh): N frames in MAILBOX, 64x64 images; each frame acquires (semaphore only), submits a
// pre-recorded clear waiting on it, presents, and waits for the submit's fence outside the measured part.
// The layers are whatever VK_LAYER_PATH / VK_INSTANCE_LAYERS name: syncfile-wsi, or none (the driver's
// own WSI).
//
// Under callgrind: --collect-atstart=no --toggle-collect=sfw_bench_acquire --toggle-collect=sfw_bench_present
// counts exactly the vkAcquireNextImageKHR and vkQueuePresentKHR calls of the measured frames (a warm-up
// of W frames runs before, with instrumentation off until then); --toggle-collect=sfw_bench_submit adds
// the frame's vkQueueSubmit (bench/frame_cost.sh: the whole frame in the app's thread).
// Without valgrind it measures, per pair, this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) and wall time
// inside the two calls, and the whole process's CPU time per frame (all threads: lavapipe's queue thread).
//
// Usage: present_bench [-n FRAMES] [-w WARMUP]   Prints one JSON object.
#include "bench.hpp"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define RUNNING_ON_VALGRIND 0
#endif

#include <ctime>
#include <unistd.h>

using sfw::bench::Client;

extern "C" __attribute__((noinline)) uint32_t sfw_bench_acquire(Client *c) {
  uint32_t index = 0;
  BENCH_CHECK_SUBOPTIMAL_OK(
      vkAcquireNextImageKHR(c->device.get(), c->swapchain.get(), sfw::bench::kBound, c->acquired.get(), VK_NULL_HANDLE, &index));
  __asm__ volatile("" ::: "memory");
  return index;
}

extern "C" __attribute__((noinline)) VkResult sfw_bench_submit(Client *c, uint32_t index) {
  VkResult r = c->render(index, c->frame_fence.get());
  __asm__ volatile("" ::: "memory");
  return r;
}

extern "C" __attribute__((noinline)) VkResult sfw_bench_present(Client *c, uint32_t index) {
  VkResult r = c->present(index);
  __asm__ volatile("" ::: "memory");
  return r;
}

namespace {
double now_s(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
} // namespace

int main(int argc, char **argv) {
  int n = 2000, warmup = 50;
  for (int opt; (opt = getopt(argc, argv, "n:w:")) != -1;) {
    if (opt == 'n') n = atoi(optarg);
    else if (opt == 'w') warmup = atoi(optarg);
    else {
      fprintf(stderr, "usage: present_bench [-n FRAMES] [-w WARMUP]\n");
      return 2;
    }
  }
  Client c;
  sfw::bench::init(c, VK_PRESENT_MODE_MAILBOX_KHR, 64, 1);
  double frame_cpu = 0, frame_wall = 0; // acquire + submit + present, this thread
  auto frame = [&](double *thread_cpu, double *wall) {
    wl_display_dispatch_pending(c.wayland.display());
    double c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    uint32_t index = sfw_bench_acquire(&c);
    double c1 = now_s(CLOCK_THREAD_CPUTIME_ID), w1 = now_s(CLOCK_MONOTONIC);
    BENCH_CHECK(sfw_bench_submit(&c, index));
    double c2 = now_s(CLOCK_THREAD_CPUTIME_ID), w2 = now_s(CLOCK_MONOTONIC);
    VkResult r = sfw_bench_present(&c, index);
    double c3 = now_s(CLOCK_THREAD_CPUTIME_ID), w3 = now_s(CLOCK_MONOTONIC);
    BENCH_CHECK_SUBOPTIMAL_OK(r);
    BENCH_CHECK(c.wait_and_reset(c.frame_fence.get()));
    *thread_cpu += (c1 - c0) + (c3 - c2);
    *wall += (w1 - w0) + (w3 - w2);
    frame_cpu += c3 - c0;
    frame_wall += w3 - w0;
  };
  double ignore_cpu = 0, ignore_wall = 0;
  for (int i = 0; i < warmup; ++i) frame(&ignore_cpu, &ignore_wall);
  double thread_cpu = 0, wall = 0;
  frame_cpu = frame_wall = 0;
  const double p0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now_s(CLOCK_MONOTONIC);
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 0; i < n; ++i) frame(&thread_cpu, &wall);
  CALLGRIND_STOP_INSTRUMENTATION;
  const double p1 = now_s(CLOCK_PROCESS_CPUTIME_ID), t1 = now_s(CLOCK_MONOTONIC);
  printf("{\"device\": \"%s\", \"images\": %zu, \"frames\": %d, \"under_valgrind\": %d, "
         "\"pair_thread_cpu_us\": %.2f, \"pair_wall_us\": %.2f, \"frame_thread_cpu_us\": %.2f, \"frame_calls_wall_us\": %.2f, "
         "\"process_cpu_us_per_frame\": %.2f, \"wall_us_per_frame\": %.2f}\n",
         sfw::bench::device_name(c).c_str(), c.swapchain.images.size(), n, RUNNING_ON_VALGRIND ? 1 : 0, thread_cpu / n * 1e6, wall / n * 1e6,
         frame_cpu / n * 1e6, frame_wall / n * 1e6,
         (p1 - p0) / n * 1e6, (t1 - t0) / n * 1e6);
  c.destroy();
  return 0;
}
