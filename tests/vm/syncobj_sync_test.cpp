// Issue 18: sync_test's two proofs on the drm-syncobj path, inside `vm-run --gpu`, against the TEST DOUBLE
// compositor (tests/compositor/sfw-test-compositor, which offers wp_linux_drm_syncobj_v1 and judges it) with the
// TEST DOUBLE layer below syncfile-wsi (tests/layer_double: a GPU that finishes a designated submit only when the
// test opens its gate) and the validation layer below both (what reaches the driver).
//  - AcquireWaitsForReleasePoint: the compositor signals each release point through a fence that is still
//    pending for 3 s (a GPU read in flight); the next acquire of that image returns (the point is available)
//    but its fence waits for the compositor's fence, and no longer.
//  - PresentHandsOverAnUnsignalledAcquirePoint: a present whose rendering is gated returns without a CPU wait,
//    and the compositor receives the commit while its acquire point is not yet signalled; it shows the frame
//    only once the gate opens (its own rule; it reports a violation otherwise).
// lavapipe's own sync_files are always signalled, which is why the doubles are needed.
#include "double_api.hpp"
#include "validation_log.hpp"
#include "vm_test.hpp"
#include "wsi_client.hpp"

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>
#include <wayland-client.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sfw::test::ValidationLog;

namespace {

bool ok(VkResult r) { return r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR; }

bool render_node_with_timelines() {
  for (int i = 128; i < 192; ++i)
    if (access(("/dev/dri/renderD" + std::to_string(i)).c_str(), R_OK | W_OK) == 0) return true;
  return false;
}

// The TEST DOUBLE compositor as a child process; its stdout and stderr go to a file the test reads.
class TestCompositor {
public:
  bool start(const std::vector<std::string> &args) {
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime == nullptr) {
      static char dir[] = "/tmp/sfw-syncobj-sync-XXXXXX";
      if (mkdtemp(dir) == nullptr) return false;
      setenv("XDG_RUNTIME_DIR", dir, 1);
      runtime = dir;
    }
    socket_ = "sfw-syncobj-sync-" + std::to_string(getpid());
    log_ = std::string(runtime) + "/" + socket_ + ".log";
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return false;
    std::vector<std::string> all = {SFW_TEST_COMPOSITOR, "--socket", socket_, "--require-syncobj", "--ready-fd",
                                    std::to_string(ready[1])};
    all.insert(all.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 1);
      dup2(log, 2);
      fcntl(ready[1], F_SETFD, 0); // the one fd the child keeps across exec
      std::vector<char *> argv;
      for (std::string &a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(ready[1]);
    pollfd p{ready[0], POLLIN, 0};
    char line[8] = {};
    bool started = pid_ > 0 && poll(&p, 1, 20000) == 1 && read(ready[0], line, sizeof line - 1) > 0;
    close(ready[0]);
    return started;
  }
  const std::string &socket() const { return socket_; }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Polls the log (every 10 ms, up to `bound`) for `text`.
  bool wait_for_line(const std::string &text, std::chrono::milliseconds bound) const {
    for (auto end = Clock::now() + bound; Clock::now() < end; std::this_thread::sleep_for(10ms))
      if (log().find(text) != std::string::npos) return true;
    return false;
  }
  // SIGTERM, then its exit status (0: no violation); -1 if it did not exit within 10 s.
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    for (auto end = Clock::now() + 10s; Clock::now() < end; std::this_thread::sleep_for(10ms))
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
      }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return -1;
  }
  ~TestCompositor() {
    if (pid_ > 0) stop();
    if (!log_.empty()) unlink(log_.c_str());
  }

private:
  pid_t pid_ = 0;
  std::string socket_, log_;
};

class SyncobjSyncTest : public ::testing::Test {
protected:
  void start(const std::vector<std::string> &compositor_args) {
    if (!sfw::test::in_vm()) GTEST_SKIP() << "needs the VM (run inside tests/vm/vm-run --gpu)";
    if (!render_node_with_timelines()) GTEST_FAIL() << "no render node: boot the VM with vm-run --gpu";
    if (access(SFW_VALIDATION_DIR "/VkLayer_khronos_validation.json", R_OK) != 0)
      GTEST_FAIL() << "vulkan-validationlayers is not installed";
    sfw::test::use_layer_over_double_validation_below();
    started_ = true;
    ASSERT_TRUE(compositor_.start(compositor_args)) << "the test compositor did not start:\n" << compositor_.log();
    wl_display *display = wl_display_connect(compositor_.socket().c_str());
    ASSERT_NE(display, nullptr) << "cannot connect to the test compositor";
    sfw::test::WsiClient::Options options;
    options.instance.app_name = "syncfile-wsi syncobj_sync_test";
    messenger_ = validation_.messenger();
    options.instance.debug_messenger = &messenger_;
    options.swapchain.extent = {32, 32};
    options.swapchain.present_mode = VK_PRESENT_MODE_MAILBOX_KHR;
    sfw::test::Status status = client_.init(display, options);
    ASSERT_TRUE(status) << status.describe();
    ASSERT_TRUE(double_.find()) << "the test double is not loaded in this process";
  }
  void TearDown() override {
    if (!started_) return; // skipped, or failed before the compositor ran
    if (double_.handle) double_.open_gate();
    client_.destroy();
    double_.release();
    const int code = compositor_.stop();
    const std::string log = compositor_.log(); // with its summary line
    EXPECT_EQ(code, 0) << "the test compositor judged (exit " << code << "):\n" << log;
    EXPECT_GT(summary_number(log, " with explicit sync"), 0) << "no commit with explicit sync: not drm-syncobj mode?\n" << log;
    for (const std::string &e : validation_.take()) ADD_FAILURE() << "validation below the layer: " << e;
  }
  uint32_t image_count() const { return static_cast<uint32_t>(client_.swapchain.images.size()); }
  void frames(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t index = 0;
      VkResult r = client_.frame(&index);
      ASSERT_TRUE(ok(r)) << "frame " << i << ": " << sfw::test::result_name(r);
    }
  }

  // The number before `what` in the compositor's summary line; -1 if absent.
  static long summary_number(const std::string &log, const std::string &what) {
    size_t at = log.rfind(what);
    if (at == std::string::npos) return -1;
    size_t begin = log.rfind(' ', at - 1);
    return begin == std::string::npos ? -1 : std::strtol(log.c_str() + begin + 1, nullptr, 10);
  }

  bool started_ = false;
  TestCompositor compositor_;
  ValidationLog validation_;
  VkDebugUtilsMessengerCreateInfoEXT messenger_{};
  sfw::test::WsiClient client_;
  sfw::test::DoubleApi double_;
};

TEST_F(SyncobjSyncTest, AcquireWaitsForReleasePoint) {
  ASSERT_NO_FATAL_FAILURE(start({"--release-fence-ms", "3000"}));
  // Every image once: all but the one on screen are released, each point's fence pending for 3 s from then.
  ASSERT_NO_FATAL_FAILURE(frames(image_count()));
  const auto released_by = Clock::now();
  uint32_t index = 0;
  const VkFence fence = client_.acquire_fence.get();
  const VkDevice device = client_.device.get();
  ASSERT_TRUE(ok(client_.acquire(fence, &index)));
  EXPECT_EQ(vkGetFenceStatus(device, fence), VK_NOT_READY) << "the acquire fence did not wait for the release point";
  EXPECT_EQ(vkWaitForFences(device, 1, &fence, VK_TRUE, 300'000'000), VK_TIMEOUT);
  ASSERT_LT(Clock::now() - released_by, 2500ms) << "too slow to tell: the release fences signal 3 s after release";
  // The compositor's fence signals: then the acquire fence does (vgem would signal by itself only after 10 s).
  ASSERT_EQ(vkWaitForFences(device, 1, &fence, VK_TRUE, 8'000'000'000), VK_SUCCESS);
  std::printf("the acquire fence signalled %.2f s after the release points' fences were put (they signal after 3 s)\n",
              std::chrono::duration<double>(Clock::now() - released_by).count());
  ASSERT_EQ(vkResetFences(device, 1, &fence), VK_SUCCESS);
  ASSERT_EQ(client_.render(index, client_.frame_fence.get()), VK_SUCCESS);
  ASSERT_TRUE(ok(client_.present(index)));
  ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(frames(2));
}

TEST_F(SyncobjSyncTest, PresentHandsOverAnUnsignalledAcquirePoint) {
  ASSERT_NO_FATAL_FAILURE(start({}));
  ASSERT_NO_FATAL_FAILURE(frames(image_count()));
  EXPECT_EQ(compositor_.log().find("not yet signalled"), std::string::npos)
      << "lavapipe's acquire points are signalled before their commit: nothing to prove against";
  const sfw_test_double_stats before = double_.stats();
  uint32_t index = 0;
  ASSERT_TRUE(ok(client_.acquire(client_.acquire_fence.get(), &index)));
  ASSERT_EQ(client_.wait_and_reset(client_.acquire_fence.get()), VK_SUCCESS);
  ASSERT_EQ(client_.render(index, client_.frame_fence.get()), VK_SUCCESS);
  double_.arm_gate(1); // the present's submit "renders" until the gate opens
  double_.window(1);
  const VkResult presented = client_.present(index);
  double_.window(0);
  const sfw_test_double_stats during = double_.stats();
  // The commit reaches the compositor while the gate is closed (vgem would signal by itself after 10 s).
  const bool pending_at_commit = compositor_.wait_for_line("not yet signalled", 5s);
  double_.open_gate();
  ASSERT_TRUE(ok(presented)) << sfw::test::result_name(presented);
  EXPECT_TRUE(pending_at_commit) << "the compositor got no commit with an unsignalled acquire point:\n" << compositor_.log();
  EXPECT_EQ(sfw::test::gated_present_problems(before, during), "");
  ASSERT_EQ(client_.wait_and_reset(client_.frame_fence.get()), VK_SUCCESS);
  ASSERT_NO_FATAL_FAILURE(frames(2 * image_count())); // the image and the swapchain go on
  EXPECT_EQ(double_.stats().errors, 0u) << double_.stats().last_error;
}

} // namespace
