// Test helper, not product code: a private weston (headless, GL renderer) for one test, in its own
// XDG_RUNTIME_DIR, and a plain Wayland "app" connection to it with a wl_surface on the default queue.
// Shared by tests/e2e (host) and tests/vm (inside the VM, where weston must not see /dev/dri).
#pragma once

#include "xdg-shell-client-protocol.h"

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
// xdg_toplevel, acknowledged, so weston maps the surface once a buffer arrives.
struct App {
  wl_display *display = nullptr;
  wl_compositor *compositor = nullptr;
  xdg_wm_base *wm_base = nullptr;
  wl_surface *surface = nullptr;
  xdg_surface *xdg = nullptr;
  xdg_toplevel *toplevel = nullptr;
  bool configured = false;

  bool init(wl_display *d, bool with_toplevel = false) {
    display = d;
    wl_registry *registry = wl_display_get_registry(display);
    static const wl_registry_listener listener = {
        [](void *data, wl_registry *r, uint32_t name, const char *iface, uint32_t version) {
          auto *app = static_cast<App *>(data);
          if (strcmp(iface, "wl_compositor") == 0)
            app->compositor = static_cast<wl_compositor *>(
                wl_registry_bind(r, name, &wl_compositor_interface, version < 4 ? version : 4));
          else if (strcmp(iface, "xdg_wm_base") == 0)
            app->wm_base = static_cast<xdg_wm_base *>(wl_registry_bind(r, name, &xdg_wm_base_interface, 1));
        },
        [](void *, wl_registry *, uint32_t) {}};
    wl_registry_add_listener(registry, &listener, this);
    wl_display_roundtrip(display);
    wl_registry_destroy(registry);
    if (compositor == nullptr || wm_base == nullptr) return false;
    static const xdg_wm_base_listener wm_listener = {
        [](void *, xdg_wm_base *base, uint32_t serial) { xdg_wm_base_pong(base, serial); }};
    xdg_wm_base_add_listener(wm_base, &wm_listener, this);
    surface = wl_compositor_create_surface(compositor);
    if (with_toplevel) {
      xdg = xdg_wm_base_get_xdg_surface(wm_base, surface);
      static const xdg_surface_listener xdg_listener = {[](void *data, xdg_surface *s, uint32_t serial) {
        xdg_surface_ack_configure(s, serial);
        static_cast<App *>(data)->configured = true;
      }};
      xdg_surface_add_listener(xdg, &xdg_listener, this);
      toplevel = xdg_surface_get_toplevel(xdg);
      xdg_toplevel_set_title(toplevel, "syncfile-wsi test");
      wl_surface_commit(surface); // no buffer: asks for the first configure
      while (!configured)
        if (wl_display_roundtrip(display) < 0) return false;
    }
    return wl_display_roundtrip(display) >= 0;
  }
  // After the compositor died the proxies are still ours to free (nothing goes out).
  void destroy() {
    if (toplevel) xdg_toplevel_destroy(toplevel);
    if (xdg) xdg_surface_destroy(xdg);
    if (surface) wl_surface_destroy(surface);
    if (wm_base) xdg_wm_base_destroy(wm_base);
    if (compositor) wl_compositor_destroy(compositor);
    if (display) wl_display_disconnect(display);
    *this = App{};
  }
};

// True when no event waits on the app's default queue: the layer stole nothing and leaked nothing there.
inline bool default_queue_empty(wl_display *display) {
  if (wl_display_prepare_read(display) != 0) return false;
  wl_display_cancel_read(display);
  return true;
}

} // namespace sfw::test
