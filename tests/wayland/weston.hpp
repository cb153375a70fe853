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
#include <string>
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
