// Self-check of the TEST DOUBLE sfw-test-compositor: a raw Wayland client (wl_compositor, zwp_linux_dmabuf_v1,
// wp_linux_drm_syncobj_v1; two buffers from udmabuf, or memfds where there is none) that either behaves
// or breaks one rule, against a fresh compositor per case; the case passes when the compositor's verdict
// (exit status, VIOLATION lines) is the expected one. The explicit cases need a render node with syncobj
// timelines (in the VM: vm-run --gpu) and are skipped without one.
// Usage: syncobj_judge_test COMPOSITOR. Exit 0: all passed, 1: a case failed, 77: every case skipped.
#include "linux-dmabuf-v1-client-protocol.h"
#include "linux-drm-syncobj-v1-client-protocol.h"
#include <wayland-client.h>

#include <drm.h>
#include <drm_fourcc.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint32_t W = 64, H = 64, Stride = W * 4, Size = Stride * H;
int drm_fd = -1; // the client's own render node with syncobj timelines

int open_node() {
  for (int i = 128; i < 192; ++i) {
    int fd = open(("/dev/dri/renderD" + std::to_string(i)).c_str(), O_RDWR | O_CLOEXEC);
    drm_get_cap cap{DRM_CAP_SYNCOBJ_TIMELINE, 0};
    if (fd >= 0 && ioctl(fd, DRM_IOCTL_GET_CAP, &cap) == 0 && cap.value == 1) return fd;
    if (fd >= 0) close(fd);
  }
  return -1;
}

uint32_t syncobj() {
  drm_syncobj_create c{0, 0};
  if (ioctl(drm_fd, DRM_IOCTL_SYNCOBJ_CREATE, &c) != 0) perror("DRM_IOCTL_SYNCOBJ_CREATE"), exit(1);
  return c.handle;
}
void signal_point(uint32_t handle, uint64_t point) {
  drm_syncobj_timeline_array a{uintptr_t(&handle), uintptr_t(&point), 1, 0};
  if (ioctl(drm_fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) != 0) perror("TIMELINE_SIGNAL"), exit(1);
}
// 5 s; available_only: the point has a fence (maybe unsignalled), which is all a client may not wait for.
bool wait_point(uint32_t handle, uint64_t point, bool available_only = false) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  drm_syncobj_timeline_wait w{};
  w.handles = uintptr_t(&handle);
  w.points = uintptr_t(&point);
  w.timeout_nsec = (now.tv_sec + 5) * 1000000000ll + now.tv_nsec;
  w.count_handles = 1;
  w.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | (available_only ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE : 0);
  return ioctl(drm_fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w) == 0;
}

enum class Bad { none, write_held, release_available, reuse_release, no_acquire, never_signal, conflicting, surface_exists };
struct Case {
  const char *name;
  bool explicit_sync;
  Bad bad;
  const char *expect; // a VIOLATION line's text; nullptr: no violation
  std::vector<const char *> args;
};

struct Buf {
  int memfd = -1, dmabuf = -1;
  uint8_t *map = nullptr;
  wl_buffer *buffer = nullptr;
  bool busy = false; // committed, no wl_buffer.release yet
  uint32_t release = 0; // its own release timeline (explicit)
  wp_linux_drm_syncobj_timeline_v1 *release_tl = nullptr;
  uint64_t release_point = 0;
};

struct Client {
  wl_display *display = nullptr;
  wl_compositor *compositor = nullptr;
  zwp_linux_dmabuf_v1 *dmabuf = nullptr;
  wp_linux_drm_syncobj_manager_v1 *manager = nullptr;
};

void global(void *d, wl_registry *r, uint32_t name, const char *iface, uint32_t) {
  Client &c = *static_cast<Client *>(d);
  if (strcmp(iface, wl_compositor_interface.name) == 0)
    c.compositor = static_cast<wl_compositor *>(wl_registry_bind(r, name, &wl_compositor_interface, 4));
  else if (strcmp(iface, zwp_linux_dmabuf_v1_interface.name) == 0)
    c.dmabuf = static_cast<zwp_linux_dmabuf_v1 *>(wl_registry_bind(r, name, &zwp_linux_dmabuf_v1_interface, 3));
  else if (strcmp(iface, wp_linux_drm_syncobj_manager_v1_interface.name) == 0)
    c.manager = static_cast<wp_linux_drm_syncobj_manager_v1 *>(
        wl_registry_bind(r, name, &wp_linux_drm_syncobj_manager_v1_interface, 1));
}
const wl_registry_listener registry_listener = {global, [](void *, wl_registry *, uint32_t) {}};
const wl_buffer_listener buffer_listener = {[](void *d, wl_buffer *) { static_cast<Buf *>(d)->busy = false; }};
const wl_callback_listener frame_listener = {[](void *d, wl_callback *cb, uint32_t) {
  *static_cast<bool *>(d) = true;
  wl_callback_destroy(cb);
}};

// A dma-buf over a memfd (udmabuf wants it sealed against shrinking); the memfd itself where there is no
// udmabuf (the host): the compositor only mmaps and polls it.
void make_memory(Buf &b) {
  b.memfd = memfd_create("sfw-judge", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (b.memfd < 0 || ftruncate(b.memfd, Size) != 0) perror("memfd"), exit(1);
  fcntl(b.memfd, F_ADD_SEALS, F_SEAL_SHRINK);
  b.map = static_cast<uint8_t *>(mmap(nullptr, Size, PROT_READ | PROT_WRITE, MAP_SHARED, b.memfd, 0));
  b.dmabuf = b.memfd;
  int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    udmabuf_create create{};
    create.memfd = uint32_t(b.memfd);
    create.flags = UDMABUF_FLAGS_CLOEXEC;
    create.size = Size;
    int fd = ioctl(dev, UDMABUF_CREATE, &create);
    if (fd >= 0) b.dmabuf = fd;
    close(dev);
  }
}

// One run of the client; false when the compositor ended the connection (the protocol-error cases).
bool run_client(const Case &k, const char *socket) {
  Client c;
  c.display = wl_display_connect(socket);
  if (c.display == nullptr) return fprintf(stderr, "  cannot connect to %s\n", socket), false;
  wl_registry *registry = wl_display_get_registry(c.display);
  wl_registry_add_listener(registry, &registry_listener, &c);
  wl_display_roundtrip(c.display);
  if (c.compositor == nullptr || c.dmabuf == nullptr || (k.explicit_sync && c.manager == nullptr))
    return fprintf(stderr, "  globals missing\n"), false;
  wl_surface *surface = wl_compositor_create_surface(c.compositor);
  wp_linux_drm_syncobj_surface_v1 *sync = nullptr;
  wp_linux_drm_syncobj_timeline_v1 *acquire_tl = nullptr;
  uint32_t acquire = 0;
  uint64_t acquire_point = 0;
  auto import = [&](uint32_t handle) {
    drm_syncobj_handle h{handle, 0, -1, 0};
    if (ioctl(drm_fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h) != 0) perror("HANDLE_TO_FD"), exit(1);
    wp_linux_drm_syncobj_timeline_v1 *t = wp_linux_drm_syncobj_manager_v1_import_timeline(c.manager, h.fd);
    close(h.fd); // the marshalling dups it
    return t;
  };
  if (k.explicit_sync) {
    sync = wp_linux_drm_syncobj_manager_v1_get_surface(c.manager, surface);
    if (k.bad == Bad::surface_exists) wp_linux_drm_syncobj_manager_v1_get_surface(c.manager, surface);
    acquire = syncobj();
    acquire_tl = import(acquire);
  }
  Buf bufs[2];
  for (Buf &b : bufs) {
    make_memory(b);
    zwp_linux_buffer_params_v1 *p = zwp_linux_dmabuf_v1_create_params(c.dmabuf);
    zwp_linux_buffer_params_v1_add(p, b.dmabuf, 0, 0, Stride, 0, 0); // LINEAR
    b.buffer = zwp_linux_buffer_params_v1_create_immed(p, W, H, DRM_FORMAT_XRGB8888, 0);
    zwp_linux_buffer_params_v1_destroy(p);
    wl_buffer_add_listener(b.buffer, &buffer_listener, &b);
    if (k.explicit_sync) {
      b.release = syncobj();
      b.release_tl = import(b.release);
    }
  }
  bool alive = true;
  const int frames = k.bad == Bad::never_signal ? 1 : 12;
  for (int i = 0; i < frames && alive; ++i) {
    Buf &b = bufs[i % 2];
    bool held_write = k.bad == Bad::write_held && i >= 2;
    if (k.explicit_sync && b.release_point > 0 && !held_write &&
        !wait_point(b.release, b.release_point, k.bad == Bad::release_available))
      return fprintf(stderr, "  release point %llu never signalled\n", (unsigned long long)b.release_point), false;
    while (!k.explicit_sync && b.busy && !held_write && alive) alive = wl_display_dispatch(c.display) >= 0;
    auto paint = [&] { memset(b.map, 0x11 * (i + 1), Size); }; // a different colour each frame (12 < 15)
    if (!k.explicit_sync) paint();
    wl_surface_attach(surface, b.buffer, 0, 0);
    wl_surface_damage_buffer(surface, 0, 0, W, H);
    if (k.explicit_sync) {
      ++acquire_point;
      if (k.bad != Bad::reuse_release || b.release_point == 0) ++b.release_point;
      if (k.bad != Bad::no_acquire)
        wp_linux_drm_syncobj_surface_v1_set_acquire_point(sync, acquire_tl, uint32_t(acquire_point >> 32), uint32_t(acquire_point));
      if (k.bad == Bad::conflicting)
        wp_linux_drm_syncobj_surface_v1_set_release_point(sync, acquire_tl, 0, uint32_t(acquire_point));
      else
        wp_linux_drm_syncobj_surface_v1_set_release_point(sync, b.release_tl, uint32_t(b.release_point >> 32), uint32_t(b.release_point));
    }
    bool done = false;
    wl_callback_add_listener(wl_surface_frame(surface), &frame_listener, &done);
    wl_surface_commit(surface);
    b.busy = true;
    wl_display_flush(c.display);
    if (k.explicit_sync) { // paint after the commit, then signal: the compositor must wait for the point
      paint();
      if (k.bad != Bad::never_signal) signal_point(acquire, acquire_point);
    }
    while (!done && alive && k.bad != Bad::never_signal) alive = wl_display_dispatch(c.display) >= 0;
  }
  if (alive && k.bad == Bad::never_signal) usleep(800 * 1000); // past --acquire-bound-ms
  if (alive) alive = wl_display_roundtrip(c.display) >= 0;
  wl_display_disconnect(c.display); // the compositor frees the rest
  for (Buf &b : bufs) {
    munmap(b.map, Size);
    if (b.dmabuf != b.memfd) close(b.dmabuf);
    close(b.memfd);
  }
  return alive;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) s.append(buf, size_t(n));
  return s;
}

// Runs the compositor with the case's options (and --exit-on-disconnect), the client against it, and judges.
bool run_case(const char *compositor, const Case &k) {
  std::string socket = "sfw-judge-" + std::to_string(getpid()) + "-" + k.name;
  int ready[2];
  int log = memfd_create("sfw-judge-log", MFD_CLOEXEC);
  if (pipe(ready) != 0 || log < 0) return perror("pipe"), false;
  std::string ready_fd = std::to_string(ready[1]);
  std::vector<const char *> argv = {compositor, "--socket", socket.c_str(), "--ready-fd", ready_fd.c_str(),
                                    "--exit-on-disconnect", "--exit-after-ms", "20000"}; // a hung case fails alone
  argv.insert(argv.end(), k.args.begin(), k.args.end());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(log, 1);
    dup2(log, 2);
    close(ready[0]);
    execv(compositor, const_cast<char **>(argv.data()));
    _exit(127);
  }
  close(ready[1]);
  char line[8] = {};
  pollfd p{ready[0], POLLIN, 0};
  bool started = poll(&p, 1, 20000) == 1 && read(ready[0], line, sizeof line - 1) > 0;
  close(ready[0]);
  bool connected = started && run_client(k, socket.c_str());
  int status = 0;
  waitpid(pid, &status, 0);
  std::string out = read_all(log);
  close(log);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  bool protocol_error = k.bad == Bad::no_acquire || k.bad == Bad::conflicting || k.bad == Bad::surface_exists;
  bool ok = started && connected != protocol_error &&
            (k.expect == nullptr ? code == 0 && out.find(" 0 violations") != std::string::npos
                                 : code == 1 && out.find(std::string("VIOLATION: ") + k.expect) != std::string::npos);
  printf("%s %s (compositor exit %d)\n", ok ? "PASS" : "FAIL", k.name, code);
  if (!ok) printf("  compositor output:\n%s", out.c_str());
  else if (size_t at = out.find("sfw-test-compositor: 1 clients"); at != std::string::npos)
    printf("  %s", out.substr(at, out.find('\n', at) - at + 1).c_str());
  return ok;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: syncobj_judge_test COMPOSITOR\n"), 64;
  static char dir[] = "/tmp/sfw-judge-XXXXXX";
  bool own_dir = getenv("XDG_RUNTIME_DIR") == nullptr;
  if (own_dir) {
    if (mkdtemp(dir) == nullptr) return perror("mkdtemp"), 1;
    setenv("XDG_RUNTIME_DIR", dir, 1);
  }
  drm_fd = open_node();
  const std::vector<Case> cases = {
      {"implicit-good", false, Bad::none, nullptr, {"--release-delay-ms", "30"}},
      {"implicit-write-held", false, Bad::write_held, "buffer written while the compositor held it", {"--release-delay-ms", "100"}},
      {"explicit-good", true, Bad::none, nullptr, {"--release-delay-ms", "30", "--require-syncobj"}},
      {"explicit-good-no-buffer-release", true, Bad::none, nullptr, {"--no-buffer-release", "--require-syncobj"}},
      {"explicit-write-held", true, Bad::write_held, "buffer written while the compositor held it", {"--release-delay-ms", "100"}},
      {"explicit-release-fence-good", true, Bad::none, nullptr, {"--release-fence-ms", "50", "--require-syncobj"}},
      {"explicit-release-fence-available-only", true, Bad::release_available,
       "buffer written before the release point's fence signalled", {"--release-fence-ms", "200"}},
      {"explicit-reused-release-point", true, Bad::reuse_release, "release point 1 already signalled", {}},
      {"explicit-no-acquire-point", true, Bad::no_acquire, "a buffer without an acquire point", {}},
      {"explicit-conflicting-points", true, Bad::conflicting, "acquire point not below", {}},
      {"explicit-surface-exists", true, Bad::surface_exists, "a second wp_linux_drm_syncobj_surface_v1", {}},
      {"explicit-acquire-never-signalled", true, Bad::never_signal, "acquire point never signalled", {"--acquire-bound-ms", "300"}},
  };
  int failed = 0, ran = 0;
  for (const Case &k : cases) {
    if (k.explicit_sync && drm_fd < 0) {
      printf("SKIP %s (no render node with syncobj timelines)\n", k.name);
      continue;
    }
    ++ran;
    failed += !run_case(argv[1], k);
  }
  printf("%d passed, %d failed, %zu skipped\n", ran - failed, failed, cases.size() - size_t(ran));
  if (own_dir && rmdir(dir) != 0) fprintf(stderr, "syncobj_judge_test: %s left behind: %s\n", dir, strerror(errno));
  return failed != 0 ? 1 : ran == 0 ? 77 : 0;
}
