// Issue 5 part 4, the oversynchronisation the layer removes (run inside the VM, under weston; see
// bench/oversync.sh). syncfile-wsi owns the swapchain, with the TEST DOUBLE VK_LAYER_SYNCFILE_test_double
// (tests/layer_double) below it only to hand this program each swapchain image's dma-buf.
//
// Each round: image A (the one on screen) gets a compositor READ fence that is still pending: an
// unsignalled vgem fence imported into A's dma-buf as a reader, which a thread signals T ms later. Then:
//  - policy "syncfile-wsi": the next frames go on as usual. Measured, from the start of
//    vkAcquireNextImageKHR: the acquire (its fence signalled) and the rendering (clear + submit waiting on
//    the acquire semaphore, its fence signalled) of image B, the next image acquired (expected: as an
//    ordinary frame); and of image A when it comes back (expected: the rest of T).
//  - policy "model: wait for every swapchain image's fences before each frame": a MODEL of an
//    over-synchronising WSI, not any real driver: before the frame, this program itself polls (POLLOUT:
//    readers and writers done) every swapchain image's dma-buf, then does the same frame. Measured for B.
// A baseline (an ordinary frame, no fence pending) is measured each round too.
//
// Usage: oversync_bench [-t T_MS] [-r ROUNDS]   (WAYLAND_DISPLAY must name a running compositor)
// Prints one JSON object per line per measurement, then a summary line ("summary": true) with medians.
#include "bench.hpp"
#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "kernel/unique_fd.hpp"
#include "test_double.h"
#include "vgem.hpp"

#include <dlfcn.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using sfw::bench::Client;
using sfw::bench::Clock;
using sfw::bench::ms_between;
using sfw::kernel::Access;
using sfw::kernel::SyncFile;
using sfw::kernel::UniqueFd;

namespace {

struct Timed {
  uint32_t index;
  double acquire_ms; // from the start of vkAcquireNextImageKHR (or of the model's poll) to the acquire fence
  double frame_ms;   // ... to the rendering's fence
};

// One frame, timed; `before` runs first and is inside the measured time (the model's wait).
template <class F> Timed timed_frame(Client &c, F before) {
  const auto t0 = Clock::now();
  before();
  uint32_t index = 0;
  BENCH_CHECK_SUBOPTIMAL_OK(c.acquire(c.acquire_fence.get(), &index));
  BENCH_CHECK(c.wait_and_reset(c.acquire_fence.get()));
  const auto t1 = Clock::now();
  BENCH_CHECK(c.render(index, c.frame_fence.get()));
  BENCH_CHECK(c.wait_and_reset(c.frame_fence.get()));
  const auto t2 = Clock::now();
  BENCH_CHECK_SUBOPTIMAL_OK(c.present(index));
  return {index, ms_between(t0, t1), ms_between(t0, t2)};
}

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A pending compositor read on `dmabuf`, signalled by a thread `t_ms` after this returns.
struct PendingRead {
  std::thread thread;
  Clock::time_point fenced_at;
  void start(sfw::test::Vgem &vgem, int dmabuf, int t_ms) {
    sfw::test::PendingSyncFile read = vgem.unsignalled_sync_file();
    SyncFile fence(std::move(read.sync_file));
    auto imported = sfw::kernel::import_sync_file(dmabuf, fence, Access::read);
    if (!imported) {
      fprintf(stderr, "oversync: import_sync_file(read): %s\n", sfw::kernel::to_string(imported.error()).c_str());
      exit(1);
    }
    fenced_at = Clock::now();
    uint32_t id = read.fence;
    thread = std::thread([&vgem, id, t_ms, at = fenced_at] {
      std::this_thread::sleep_until(at + std::chrono::milliseconds(t_ms));
      vgem.signal(id);
    });
  }
  void join() {
    if (thread.joinable()) thread.join();
  }
};

} // namespace

int main(int argc, char **argv) {
  int t_ms = 300, rounds = 5;
  for (int opt; (opt = getopt(argc, argv, "t:r:")) != -1;) {
    if (opt == 't') t_ms = atoi(optarg);
    else if (opt == 'r') rounds = atoi(optarg);
    else {
      fprintf(stderr, "usage: oversync_bench [-t T_MS] [-r ROUNDS]\n");
      return 2;
    }
  }
  // syncfile-wsi, then the double below it (each manifest in its own directory, in this order).
  setenv("VK_LAYER_PATH", SFW_LAYER_MANIFEST_DIR ":" SFW_TEST_DOUBLE_MANIFEST_DIR, 1);
  setenv("VK_INSTANCE_LAYERS", "VK_LAYER_SYNCFILE_wsi:VK_LAYER_SYNCFILE_test_double", 1);

  sfw::test::Vgem vgem; // throws (and ends the program) without vgem: run inside tests/vm/vm-run
  Client c;
  sfw::bench::init(c, VK_PRESENT_MODE_MAILBOX_KHR, 64, 1);
  void *dbl = dlopen(SFW_TEST_DOUBLE_LIB, RTLD_NOW | RTLD_NOLOAD);
  auto of_image = dbl ? reinterpret_cast<PFN_sfw_test_double_dmabuf_of_image>(dlsym(dbl, "sfw_test_double_dmabuf_of_image"))
                      : nullptr;
  if (of_image == nullptr) {
    fprintf(stderr, "oversync: the test double is not loaded in this process\n");
    return 1;
  }
  std::vector<UniqueFd> dmabufs;
  for (VkImage image : c.swapchain.images) {
    dmabufs.emplace_back(of_image(reinterpret_cast<uint64_t>(image)));
    if (!dmabufs.back() || !sfw::kernel::is_dmabuf(dmabufs.back().get())) {
      fprintf(stderr, "oversync: an image has no dma-buf: does syncfile-wsi own this swapchain?\n");
      return 1;
    }
  }
  const uint32_t n = static_cast<uint32_t>(c.swapchain.images.size());
  auto nothing = [] {};
  // The model's policy: every swapchain image's dma-buf idle (readers and writers) before the frame.
  auto wait_all = [&] {
    for (const UniqueFd &fd : dmabufs) {
      auto idle = sfw::kernel::wait_dmabuf_writable(fd.get(), 5s);
      if (!idle || !*idle) {
        fprintf(stderr, "oversync: model: a dma-buf stayed busy for 5 s\n");
        exit(1);
      }
    }
  };

  uint32_t last = 0;
  for (uint32_t i = 0; i < 3 * n; ++i) last = sfw::bench::frame(c); // warm-up
  std::vector<double> base_f, lay_b_f, lay_b_a, lay_a_f, lay_a_expect, mod_b_f, mod_b_a;
  auto line = [&](int round, const char *policy, const char *image, const Timed &t, double expected) {
    printf("{\"round\": %d, \"policy\": \"%s\", \"image\": \"%s\", \"index\": %u, \"acquire_ms\": %.3f, \"frame_ms\": %.3f, "
           "\"fence_pending_ms\": %.3f, \"t_ms\": %d, \"images\": %u}\n",
           round, policy, image, t.index, t.acquire_ms, t.frame_ms, expected, t_ms, n);
    fflush(stdout);
  };
  for (int round = 1; round <= rounds; ++round) {
    // Baseline: an ordinary frame.
    Timed base = timed_frame(c, nothing);
    last = base.index;
    base_f.push_back(base.frame_ms);
    line(round, "baseline", "any", base, 0);

    // syncfile-wsi: a pending read on A (on screen), then B, then frames until A comes back.
    const uint32_t a = last;
    PendingRead read;
    read.start(vgem, dmabufs[a].get(), t_ms);
    const double pending_b = t_ms - ms_between(read.fenced_at, Clock::now());
    Timed b = timed_frame(c, nothing);
    if (b.index == a) fprintf(stderr, "oversync: B is A (round %d)\n", round);
    lay_b_f.push_back(b.frame_ms);
    lay_b_a.push_back(b.acquire_ms);
    line(round, "syncfile-wsi", "B", b, pending_b);
    bool found = false;
    for (uint32_t i = 0; i < 4 * n && !found; ++i) {
      const double pending = std::max(0.0, t_ms - ms_between(read.fenced_at, Clock::now()));
      Timed t = timed_frame(c, nothing);
      last = t.index;
      if (t.index == a) {
        found = true;
        lay_a_f.push_back(t.frame_ms);
        lay_a_expect.push_back(pending);
        line(round, "syncfile-wsi", "A", t, pending);
      }
    }
    if (!found) fprintf(stderr, "oversync: A never came back (round %d)\n", round);
    read.join();

    // The model: the same pending read on the image on screen; the frame waits for every image first.
    PendingRead read2;
    read2.start(vgem, dmabufs[last].get(), t_ms);
    const double pending = t_ms - ms_between(read2.fenced_at, Clock::now());
    Timed m = timed_frame(c, wait_all);
    mod_b_f.push_back(m.frame_ms);
    mod_b_a.push_back(m.acquire_ms);
    line(round, "model-wait-all", "B", m, pending);
    read2.join();
    for (uint32_t i = 0; i < n; ++i) last = sfw::bench::frame(c);
  }
  printf("{\"summary\": true, \"device\": \"%s\", \"t_ms\": %d, \"rounds\": %d, \"images\": %u, "
         "\"baseline_frame_ms\": %.3f, \"syncfile_B_acquire_ms\": %.3f, \"syncfile_B_frame_ms\": %.3f, "
         "\"syncfile_A_frame_ms\": %.3f, \"syncfile_A_fence_pending_ms\": %.3f, "
         "\"model_B_acquire_ms\": %.3f, \"model_B_frame_ms\": %.3f}\n",
         sfw::bench::device_name(c).c_str(), t_ms, rounds, n, median(base_f), median(lay_b_a), median(lay_b_f), median(lay_a_f),
         median(lay_a_expect), median(mod_b_a), median(mod_b_f));
  c.destroy();
  return 0;
}
