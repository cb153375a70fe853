// Test helper, not product code: a private weston (headless, GL renderer) for one test, in its own
// XDG_RUNTIME_DIR, and a plain Wayland "app" connection to it with a wl_surface on the default queue.
// Shared by tests/e2e (host) and tests/vm (inside the VM, where weston must not see /dev/dri).
#pragma once

#include "wayland_window.hpp" // App's connection and window

#include <wayland-client.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sfw::test {

inline bool weston_installed() { return access("/usr/bin/weston", X_OK) == 0; }

class Weston {
public:
  // `hide_dri`: run weston in a mount namespace with an empty /dev/dri (the VM recipe: its GL renderer
  // crashes on client dma-bufs when it sees vgem's render node).
  explicit Weston(bool hide_dri = false) {
    char dir[] = "/tmp/sfw-weston-XXXXXX";
    if (mkdtemp(dir) == nullptr) return;
    runtime_dir_ = dir;
    socket_ = "sfw-test-" + std::to_string(getpid());
    log_ = runtime_dir_ + "/weston.log";
    const std::string cmd = "exec weston --backend=headless --renderer=gl --socket=" + socket_ +
                            " --idle-time=0 --log=" + log_;
    const std::string shell_cmd = hide_dri ? "exec unshare -m sh -c 'mount -t tmpfs none /dev/dri && " + cmd + "'" : cmd;
    pid_ = fork();
    if (pid_ == 0) {
      setenv("XDG_RUNTIME_DIR", runtime_dir_.c_str(), 1);
      unsetenv("WAYLAND_DISPLAY");
      unsetenv("DISPLAY");
      execl("/bin/sh", "sh", "-c", shell_cmd.c_str(), static_cast<char *>(nullptr));
      _exit(127);
    }
  }
  ~Weston() {
    stop(SIGTERM);
    if (!runtime_dir_.empty()) std::system(("rm -rf '" + runtime_dir_ + "'").c_str());
  }
  Weston(const Weston &) = delete;
  Weston &operator=(const Weston &) = delete;

  // Under TCG weston stalls for seconds while its desktop shell starts (measured under load: 23.6 s
  // without a repaint, "computed repaint delay ... abnormal: -8004 msec"), longer than the tests' bounds
  // on frame callbacks and releases. So before any test connects: on a connection of its own, show a 1x1
  // shm toplevel and wait until one frame callback arrives within 500 ms of its commit, at most `bound`
  // in all. Never fails: a weston still slow after it is logged, and the test's own bounds judge.
  // The shell suites call it through tests/wayland/sfw-weston-warm-up (tests/e2e/lib.sh).
  static bool warm_up(const std::string &path, std::chrono::seconds bound) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now(), end = t0 + bound;
    WaylandConnection connection;
    if (!connection.adopt(wl_display_connect(path.c_str()))) return false;
    wl_display *d = connection.display();
    wl_shm *shm = nullptr;
    wl_registry *registry = wl_display_get_registry(d);
    static const wl_registry_listener registry_listener{
        [](void *data, wl_registry *r, uint32_t name, const char *interface, uint32_t) {
          if (strcmp(interface, wl_shm_interface.name) == 0)
            *static_cast<wl_shm **>(data) = static_cast<wl_shm *>(wl_registry_bind(r, name, &wl_shm_interface, 1));
        },
        [](void *, wl_registry *, uint32_t) {}};
    wl_registry_add_listener(registry, &registry_listener, &shm);
    wl_display_roundtrip(d);
    wl_registry_destroy(registry);
    Window window;
    window.create(connection, "syncfile-wsi warm-up");
    const int fd = memfd_create("sfw-warm-up", MFD_CLOEXEC);
    wl_buffer *buffer = nullptr;
    if (shm != nullptr && fd >= 0 && ftruncate(fd, 4) == 0 && wait_configured(d, {&window, 1})) {
      wl_shm_pool *pool = wl_shm_create_pool(shm, fd, 4);
      buffer = wl_shm_pool_create_buffer(pool, 0, 1, 1, 4, WL_SHM_FORMAT_ARGB8888);
      wl_shm_pool_destroy(pool);
    }
    int frames = 0;
    bool kept_pace = false;
    while (buffer != nullptr && !kept_pace && clock::now() < end) {
      bool done = false;
      wl_callback *callback = wl_surface_frame(window.surface());
      static const wl_callback_listener callback_listener{
          [](void *data, wl_callback *, uint32_t) { *static_cast<bool *>(data) = true; }};
      wl_callback_add_listener(callback, &callback_listener, &done);
      wl_surface_attach(window.surface(), buffer, 0, 0);
      wl_surface_damage(window.surface(), 0, 0, 1, 1);
      wl_surface_commit(window.surface());
      const auto committed = clock::now();
      while (!done && clock::now() < end) {
        while (wl_display_prepare_read(d) != 0) wl_display_dispatch_pending(d);
        wl_display_flush(d);
        pollfd p{wl_display_get_fd(d), POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
          if (wl_display_read_events(d) != 0) break;
        } else {
          wl_display_cancel_read(d);
        }
        if (wl_display_dispatch_pending(d) < 0) break;
      }
      wl_callback_destroy(callback);
      if (!done) break;
      ++frames;
      kept_pace = clock::now() - committed < std::chrono::milliseconds(500);
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0).count();
    fprintf(stderr, "[weston %s after %lld ms, %d frames]\n", kept_pace ? "keeps pace" : "still slow",
            static_cast<long long>(ms), frames);
    if (buffer != nullptr) wl_buffer_destroy(buffer);
    if (fd >= 0) close(fd);
    window.reset();
    if (shm != nullptr) wl_shm_destroy(shm);
    wl_display_roundtrip(d);
    connection.reset();
    return kept_pace;
  }


  pid_t pid() const { return pid_; }
  const std::string &log_path() const { return log_; }

  // Connects once the socket appears (bounded); null on failure.
  wl_display *connect(std::chrono::seconds bound = std::chrono::seconds(30)) {
    if (pid_ <= 0) return nullptr;
    const std::string path = runtime_dir_ + "/" + socket_;
    const auto end = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < end) {
      struct stat st;
      if (stat(path.c_str(), &st) == 0) {
        if (!warmed_up_) {
          warm_up(path, std::chrono::seconds(120));
          warmed_up_ = true;
        }
        wl_display *d = wl_display_connect(path.c_str()); // absolute path: XDG_RUNTIME_DIR not needed
        if (d != nullptr) return d;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) { // died during start-up
        pid_ = -1;
        dump_log();
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    dump_log();
    return nullptr;
  }

  // Sends `sig`; for TERM/KILL also reaps (SIGKILL after 5 s of ignoring SIGTERM).
  void stop(int sig) {
    if (pid_ <= 0) return;
    if (sig == SIGTERM) kill(pid_, SIGCONT);
    kill(pid_, sig);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, nullptr, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > end) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }
  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }

  void dump_log() const {
    if (FILE *f = fopen(log_.c_str(), "r")) {
      char line[512];
      while (fgets(line, sizeof line, f)) fputs(line, stderr);
      fclose(f);
    }
  }

private:
  std::string runtime_dir_, socket_, log_;
  pid_t pid_ = -1;
  bool warmed_up_ = false;
};

// What an app would hold, on the default queue: wl_compositor, one wl_surface, and (with `toplevel`) an
// xdg_toplevel, acknowledged, so weston maps the surface once a buffer arrives. `display` and `surface`
// are the tests' view of what `connection_` and `window_` own.
struct App {
  wl_display *display = nullptr;
  wl_surface *surface = nullptr;

  bool init(wl_display *d, bool with_toplevel = false) {
    display = d;
    if (!connection_.adopt(d)) return false;
    window_.create(connection_, with_toplevel ? "syncfile-wsi test" : nullptr);
    surface = window_.surface();
    if (!wait_configured(display, {&window_, 1})) return false;
    return wl_display_roundtrip(display) >= 0;
  }
  // After the compositor died the proxies are still ours to free (nothing goes out).
  void destroy() {
    window_.reset();
    connection_.reset();
    display = nullptr;
    surface = nullptr;
  }

private:
  WaylandConnection connection_;
  Window window_;
};

// True when no event waits on the app's default queue: the layer stole nothing and leaked nothing there.
inline bool default_queue_empty(wl_display *display) {
  if (wl_display_prepare_read(display) != 0) return false;
  wl_display_cancel_read(display);
  return true;
}

} // namespace sfw::test
