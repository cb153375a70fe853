// TEST DOUBLE: a minimal Wayland compositor (libwayland-server) that offers wp_linux_drm_syncobj_v1 and
// judges a client's explicit synchronisation; no packaged compositor (weston 14) offers that protocol.
// It shows nothing. It "reads" each committed dma-buf on the CPU (a hash of a few rows) once its acquire
// point is signalled, holds it like a compositor scanning out the latest frame, samples it again just
// before signalling its release point, and prints every ordering mistake as one VIOLATION line on stderr.
// Exit: 0 without violations, 1 with, 2 on bad usage or a failed start. Options: usage() below.
#include "linux-dmabuf-v1-server-protocol.h"
#include "linux-drm-syncobj-v1-server-protocol.h"
#include "xdg-shell-server-protocol.h"
#include "vgem.hpp" // tests/vm
#include <wayland-server.h>

#include <drm.h>
#include <drm_fourcc.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Options {
  const char *socket = nullptr;
  int ready_fd = -1;
  int exit_after_ms = 0;
  int acquire_bound_ms = 10000;
  int release_delay_ms = 0;
  int release_fence_ms = 0; // >0: release points get a pending (vgem) fence that signals this much later, as a GPU's
  int refresh_ms = 16;
  bool no_buffer_release = false;
  bool require_syncobj = false;
  bool exit_on_disconnect = false;
} opt;

struct Stats {
  unsigned long clients = 0, commits = 0, with_buffer = 0, explicit_sync = 0, released = 0, violations = 0;
  unsigned long release_fences = 0; // --release-fence-ms: pending fences put on release points
  unsigned long acquire_pending = 0; // acquire points not yet signalled when their commit arrived
} stats;

wl_display *display;
wl_event_loop *loop;
int drm_fd = -1; // a render node with syncobj timelines; -1: the syncobj manager is not offered
int live_clients = 0;

const uint32_t kFormats[] = {DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_FORMAT_ABGR8888, DRM_FORMAT_XBGR8888};

void violation(unsigned surface, unsigned commit, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void violation(unsigned surface, unsigned commit, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  fprintf(stderr, "sfw-test-compositor: VIOLATION: %s (surface %u, commit %u)\n", what, surface, commit);
  ++stats.violations;
}

int drm_ioctl(unsigned long request, void *arg) {
  int r;
  do r = ioctl(drm_fd, request, arg);
  while (r == -1 && (errno == EINTR || errno == EAGAIN));
  return r;
}

uint32_t now_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint32_t(t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

template <typename T> T *data(wl_resource *r) { return static_cast<T *>(wl_resource_get_user_data(r)); }
void destroy_resource(wl_client *, wl_resource *r) { wl_resource_destroy(r); }

// Interfaces whose requests change nothing here (wl_region, xdg_toplevel, xdg_positioner, xdg_popup): one
// dispatcher instead of a no-op per request; only their destructor request does something.
int noop_dispatch(const void *, void *target, uint32_t, const wl_message *msg, wl_argument *) {
  if (strcmp(msg->name, "destroy") == 0) wl_resource_destroy(static_cast<wl_resource *>(target));
  return 0;
}
wl_resource *make_noop(wl_client *c, const wl_interface *iface, int version, uint32_t id) {
  wl_resource *r = wl_resource_create(c, iface, version, id);
  if (r == nullptr) wl_client_post_no_memory(c);
  else wl_resource_set_dispatcher(r, noop_dispatch, nullptr, nullptr, nullptr);
  return r;
}

// Frame callbacks sit in wl_lists through their resource's own link; destroying one unlinks it.
void unlink_resource(wl_resource *r) { wl_list_remove(wl_resource_get_link(r)); }
void send_done(wl_list *callbacks, uint32_t time) {
  wl_resource *cb, *tmp;
  wl_resource_for_each_safe(cb, tmp, callbacks) {
    wl_callback_send_done(cb, time);
    wl_resource_destroy(cb);
  }
}
void orphan_all(wl_list *callbacks) { // their owner goes: the client still destroys them later
  wl_resource *cb, *tmp;
  wl_resource_for_each_safe(cb, tmp, callbacks) wl_list_init(wl_resource_get_link(cb));
  wl_list_init(callbacks);
}
void append_all(wl_list *to, wl_list *from) {
  wl_list_insert_list(to->prev, from);
  wl_list_init(from);
}

// ---- syncobj timelines --------------------------------------------------------------------------------

// A client's timeline imported as a handle on our node. Points keep it alive after its wl_resource goes
// (the protocol: destroying the timeline does not unset points already set).
struct Timeline {
  uint32_t handle;
  explicit Timeline(uint32_t h) : handle(h) {}
  Timeline(const Timeline &) = delete;
  Timeline &operator=(const Timeline &) = delete;
  ~Timeline() {
    drm_syncobj_destroy d{handle, 0};
    drm_ioctl(DRM_IOCTL_SYNCOBJ_DESTROY, &d);
  }
  uint64_t last_signalled() const {
    uint64_t point = 0;
    drm_syncobj_timeline_array q{uintptr_t(&handle), uintptr_t(&point), 1, 0};
    return drm_ioctl(DRM_IOCTL_SYNCOBJ_QUERY, &q) == 0 ? point : 0;
  }
  bool signal(uint64_t value) const {
    drm_syncobj_timeline_array s{uintptr_t(&handle), uintptr_t(&value), 1, 0};
    return drm_ioctl(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &s) == 0;
  }
};
struct Point {
  std::shared_ptr<Timeline> timeline;
  uint64_t value = 0;
  explicit operator bool() const { return timeline != nullptr; }
};

// ---- buffers ------------------------------------------------------------------------------------------

struct Buffer {
  wl_resource *resource = nullptr; // null once the client destroyed it
  int fd = -1;                     // plane 0's dma-buf
  uint32_t offset = 0, stride = 0, width = 0, height = 0;
  int holds = 0; // frames (commits) that the compositor has not released yet
  const uint8_t *map = nullptr;
  size_t map_len = 0;
  bool map_failed = false;
  ~Buffer() {
    if (map != nullptr) munmap(const_cast<uint8_t *>(map), map_len);
    close(fd);
  }
  // The compositor's "read": a hash of five rows, between DMA_BUF_IOCTL_SYNC START and END (cache coherence).
  std::optional<uint64_t> sample() {
    if (map == nullptr && !map_failed) {
      map_len = size_t(offset) + size_t(stride) * height;
      void *p = mmap(nullptr, map_len, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        map_failed = true;
        fprintf(stderr, "sfw-test-compositor: cannot mmap a dma-buf (%s): its writes are not judged\n", strerror(errno));
      } else {
        map = static_cast<const uint8_t *>(p);
      }
    }
    if (map == nullptr) return std::nullopt;
    dma_buf_sync sync{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
    ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
    uint64_t h = 0xcbf29ce484222325u; // FNV-1a
    for (uint32_t row : {0u, height / 4, height / 2, height * 3 / 4, height - 1}) {
      const uint8_t *p = map + offset + size_t(row) * stride;
      for (uint32_t i = 0; i < width * 4; ++i) h = (h ^ p[i]) * 0x100000001b3u;
    }
    sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
    ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
    return h;
  }
};
// A wl_buffer's user data: a heap shared_ptr, so frames keep the Buffer after the client destroys it.
// An inert buffer (a failed create_immed) holds a null one: attaching it attaches nothing.
using BufferRef = std::shared_ptr<Buffer>;

// ---- surfaces and their commits -----------------------------------------------------------------------

struct Surface;
struct Frame { // one commit that attached a buffer (or null): its buffer, sync points and frame callbacks
  Surface *surface = nullptr;
  unsigned commit = 0;
  BufferRef buffer; // null: the commit removed the content
  Point acquire, release;
  wl_list callbacks;
  bool ready = false; // its acquire point (or implicit write fence) signalled and the buffer read
  std::optional<uint64_t> sample;
  wl_event_source *wait = nullptr, *bound = nullptr, *delay = nullptr;
  Frame() { wl_list_init(&callbacks); }
  ~Frame() {
    for (wl_event_source *s : {wait, bound, delay})
      if (s != nullptr) wl_event_source_remove(s);
    orphan_all(&callbacks);
    if (buffer) --buffer->holds;
  }
};
using FramePtr = std::unique_ptr<Frame>;

struct SyncSurface;
struct Surface {
  wl_resource *resource = nullptr;
  unsigned id = 0, commits = 0;
  bool attached = false; // pending state
  BufferRef pending_buffer;
  wl_list pending_callbacks;
  SyncSurface *sync = nullptr;
  std::deque<FramePtr> queue;   // committed, applied in commit order once ready (like a commit queue)
  std::vector<FramePtr> applied; // ready since the last repaint: the newest is shown at the next one
  FramePtr shown;                // on "screen": held until a newer buffer is shown
  std::vector<FramePtr> releasing; // waiting out --release-delay-ms
  wl_list idle_callbacks;          // commits without a new buffer and nothing queued: done at the next repaint
};
std::vector<Surface *> surfaces;
unsigned next_surface_id = 1;

struct SyncSurface {
  wl_resource *resource = nullptr;
  Surface *surface = nullptr; // null once the wl_surface is destroyed
  Point acquire, release;     // pending, applied at commit
};

// ---- --release-fence-ms: a release point with a fence still pending, as a GPU compositor's --------------

// vgem's userspace-signalled fences: the tests' own helper (tests/vm/vgem.hpp), opened for --release-fence-ms.
std::optional<sfw::test::Vgem> vgem;

// One release fence in flight: at its timer the buffer is sampled once more, then the fence signals.
struct PendingRelease {
  BufferRef buffer;
  std::optional<uint64_t> sample;
  unsigned surface, commit;
  uint32_t fence;
  wl_event_source *timer = nullptr;
};
std::vector<std::unique_ptr<PendingRelease>> pending_releases;

int on_release_fence(void *d) {
  auto *r = static_cast<PendingRelease *>(d);
  if (r->sample) { // judged even after the client destroyed the wl_buffer: the memory is the same
    std::optional<uint64_t> again = r->buffer->sample();
    if (again && *again != *r->sample)
      violation(r->surface, r->commit, "buffer written before the release point's fence signalled");
  }
  try {
    vgem->signal(r->fence);
  } catch (const std::exception &e) {
    fprintf(stderr, "sfw-test-compositor: cannot signal a vgem fence: %s\n", e.what());
  }
  wl_event_source_remove(r->timer);
  auto it = std::find_if(pending_releases.begin(), pending_releases.end(), [r](const auto &p) { return p.get() == r; });
  pending_releases.erase(it);
  return 0;
}

// Puts a pending fence on the release point (through a binary syncobj: FD_TO_HANDLE with IMPORT_SYNC_FILE, then
// TRANSFER), signalled --release-fence-ms later. False: the point is to be signalled on the CPU instead.
bool fence_release(Frame &f) {
  sfw::test::PendingSyncFile pending;
  try {
    pending = vgem->unsignalled_sync_file();
  } catch (const std::exception &e) {
    fprintf(stderr, "sfw-test-compositor: no vgem fence for a release point (%s)\n", e.what());
    return false;
  }
  drm_syncobj_create binary{};
  bool ok = drm_ioctl(DRM_IOCTL_SYNCOBJ_CREATE, &binary) == 0;
  drm_syncobj_handle import{};
  import.handle = binary.handle;
  import.flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
  import.fd = pending.sync_file.get();
  ok = ok && drm_ioctl(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &import) == 0;
  drm_syncobj_transfer transfer{};
  transfer.src_handle = binary.handle;
  transfer.dst_handle = f.release.timeline->handle;
  transfer.dst_point = f.release.value;
  ok = ok && drm_ioctl(DRM_IOCTL_SYNCOBJ_TRANSFER, &transfer) == 0;
  if (binary.handle != 0) {
    drm_syncobj_destroy destroy{binary.handle, 0};
    drm_ioctl(DRM_IOCTL_SYNCOBJ_DESTROY, &destroy);
  }
  auto r = std::make_unique<PendingRelease>(PendingRelease{f.buffer, f.sample, f.surface->id, f.commit, pending.fence});
  r->timer = wl_event_loop_add_timer(loop, on_release_fence, r.get());
  wl_event_source_timer_update(r->timer, opt.release_fence_ms);
  pending_releases.push_back(std::move(r)); // signalled even if the transfer failed: vgem must not wait 10 s
  if (ok) ++stats.release_fences;
  return ok;
}

// The compositor is done with f's buffer: sample again (a change means the client wrote it too early),
// then signal the release point and send wl_buffer.release.
void finish_release(Frame &f) {
  Buffer *b = f.buffer.get();
  if (b == nullptr) return;
  if (b->resource != nullptr && f.sample) {
    std::optional<uint64_t> again = b->sample();
    if (again && *again != *f.sample)
      violation(f.surface->id, f.commit, "buffer written while the compositor held it");
  }
  if (f.release && opt.release_fence_ms > 0 && fence_release(f)) {
    ++stats.released;
  } else if (f.release) {
    if (f.release.timeline->signal(f.release.value)) ++stats.released;
    else fprintf(stderr, "sfw-test-compositor: cannot signal a release point: %s\n", strerror(errno));
  }
  if (b->holds == 1 && b->resource != nullptr && !opt.no_buffer_release) wl_buffer_send_release(b->resource);
}

int on_release_delay(void *d) {
  Frame *f = static_cast<Frame *>(d);
  std::vector<FramePtr> &list = f->surface->releasing;
  auto it = std::find_if(list.begin(), list.end(), [f](const FramePtr &p) { return p.get() == f; });
  finish_release(*f);
  list.erase(it);
  return 0;
}

void release_later(Surface &s, FramePtr f) {
  if (opt.release_delay_ms <= 0 || !f->buffer) return finish_release(*f);
  f->delay = wl_event_loop_add_timer(loop, on_release_delay, f.get());
  wl_event_source_timer_update(f->delay, opt.release_delay_ms);
  s.releasing.push_back(std::move(f));
}

// Commits apply in order: a ready commit waits behind an earlier one that is not.
void advance(Surface &s) {
  while (!s.queue.empty() && s.queue.front()->ready) {
    s.applied.push_back(std::move(s.queue.front()));
    s.queue.pop_front();
  }
}

int on_ready(int, uint32_t, void *d) {
  Frame &f = *static_cast<Frame *>(d);
  wl_event_source_remove(f.wait);
  f.wait = nullptr;
  if (f.bound != nullptr) wl_event_source_remove(f.bound);
  f.bound = nullptr;
  f.ready = true;
  f.sample = f.buffer->sample();
  advance(*f.surface);
  return 0;
}

int on_acquire_bound(void *d) {
  Frame &f = *static_cast<Frame *>(d);
  violation(f.surface->id, f.commit, "%s never signalled within %d ms",
            f.acquire ? "acquire point" : "implicit write fence", opt.acquire_bound_ms);
  wl_event_source_remove(f.bound);
  f.bound = nullptr; // and keep waiting, as a real compositor would
  return 0;
}

// Wait, through the event loop, for the acquire point to be signalled (not just available: flags 0), or
// for an implicit-sync buffer's write fences (a dma-buf polls readable once they signalled; a file that
// cannot be polled, a memfd on a host without dma-bufs, has none).
void start_wait(Frame &f) {
  if (f.buffer && f.acquire && f.acquire.timeline->last_signalled() < f.acquire.value) {
    // Not an error: a client hands over rendering still in flight. Tests look for this line (sync proofs).
    fprintf(stderr, "sfw-test-compositor: surface %u commit %u: acquire point %llu not yet signalled\n", f.surface->id,
            f.commit, (unsigned long long)f.acquire.value);
    ++stats.acquire_pending;
  }
  if (f.buffer && f.acquire) {
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    drm_syncobj_eventfd e{};
    e.handle = f.acquire.timeline->handle;
    e.point = f.acquire.value;
    e.fd = efd;
    if (efd >= 0 && drm_ioctl(DRM_IOCTL_SYNCOBJ_EVENTFD, &e) == 0)
      f.wait = wl_event_loop_add_fd(loop, efd, WL_EVENT_READABLE, on_ready, &f);
    else
      fprintf(stderr, "sfw-test-compositor: cannot wait for an acquire point (%s): reading at once\n", strerror(errno));
    if (efd >= 0) close(efd); // the loop keeps its own duplicate; the kernel keeps its reference
  } else if (f.buffer) {
    f.wait = wl_event_loop_add_fd(loop, f.buffer->fd, WL_EVENT_READABLE, on_ready, &f);
  }
  if (f.wait == nullptr) {
    f.ready = true;
    if (f.buffer) f.sample = f.buffer->sample();
    return;
  }
  f.bound = wl_event_loop_add_timer(loop, on_acquire_bound, &f);
  wl_event_source_timer_update(f.bound, opt.acquire_bound_ms);
}

void surface_commit(wl_client *, wl_resource *res) {
  Surface &s = *data<Surface>(res);
  unsigned m = ++s.commits;
  ++stats.commits;
  BufferRef buffer = s.attached && s.pending_buffer && s.pending_buffer->resource ? s.pending_buffer : nullptr;
  Point acquire, release;
  if (SyncSurface *sync = s.sync) {
    acquire = std::move(sync->acquire);
    release = std::move(sync->release);
    sync->acquire = sync->release = {};
    auto error = [&](uint32_t code, const char *what) {
      violation(s.id, m, "%s", what);
      wl_resource_post_error(sync->resource, code, "%s", what);
    };
    if (buffer && !acquire) return error(WP_LINUX_DRM_SYNCOBJ_SURFACE_V1_ERROR_NO_ACQUIRE_POINT, "a buffer without an acquire point");
    if (buffer && !release) return error(WP_LINUX_DRM_SYNCOBJ_SURFACE_V1_ERROR_NO_RELEASE_POINT, "a buffer without a release point");
    if (!buffer && (acquire || release)) return error(WP_LINUX_DRM_SYNCOBJ_SURFACE_V1_ERROR_NO_BUFFER, "sync points without a buffer");
    if (buffer && acquire.timeline == release.timeline && acquire.value >= release.value)
      return error(WP_LINUX_DRM_SYNCOBJ_SURFACE_V1_ERROR_CONFLICTING_POINTS, "acquire point not below the release point on one timeline");
    if (buffer && release.timeline->last_signalled() >= release.value)
      violation(s.id, m, "release point %llu already signalled at commit (a reused release point)",
                static_cast<unsigned long long>(release.value));
    if (buffer && buffer->holds > 0) violation(s.id, m, "buffer committed again while the compositor still holds it");
  }
  if (s.attached) {
    auto f = std::make_unique<Frame>();
    f->surface = &s;
    f->commit = m;
    if (buffer) {
      f->buffer = buffer;
      ++buffer->holds;
      ++stats.with_buffer;
      if (acquire) ++stats.explicit_sync;
      f->acquire = std::move(acquire);
      f->release = std::move(release);
    }
    append_all(&f->callbacks, &s.pending_callbacks);
    Frame &frame = *f;
    s.queue.push_back(std::move(f));
    start_wait(frame);
    advance(s);
  } else {
    append_all(s.queue.empty() ? &s.idle_callbacks : &s.queue.back()->callbacks, &s.pending_callbacks);
  }
  s.attached = false;
  s.pending_buffer.reset();
}

void surface_attach(wl_client *, wl_resource *res, wl_resource *buffer, int32_t, int32_t) {
  Surface &s = *data<Surface>(res);
  if (buffer != nullptr && wl_shm_buffer_get(buffer) != nullptr) // wl_shm is offered only for Mesa's checks
    return wl_resource_post_error(res, WL_DISPLAY_ERROR_INVALID_OBJECT, "sfw-test-compositor takes only dma-bufs");
  s.attached = true;
  s.pending_buffer = buffer != nullptr ? *data<BufferRef>(buffer) : nullptr;
}

void surface_frame(wl_client *c, wl_resource *res, uint32_t id) {
  wl_resource *cb = wl_resource_create(c, &wl_callback_interface, 1, id);
  if (cb == nullptr) return wl_client_post_no_memory(c);
  wl_resource_set_implementation(cb, nullptr, nullptr, unlink_resource);
  wl_list_insert(data<Surface>(res)->pending_callbacks.prev, wl_resource_get_link(cb));
}

void surface_destroyed(wl_resource *res) {
  Surface *s = data<Surface>(res);
  surfaces.erase(std::find(surfaces.begin(), surfaces.end(), s));
  if (s->sync != nullptr) s->sync->surface = nullptr;
  // The compositor no longer uses its buffers: signal the release points (no events: the client may be going).
  auto drop = [](FramePtr &f) {
    if (f && f->release && f->release.timeline->signal(f->release.value)) ++stats.released;
  };
  for (FramePtr &f : s->queue) drop(f);
  for (FramePtr &f : s->applied) drop(f);
  for (FramePtr &f : s->releasing) drop(f);
  drop(s->shown);
  orphan_all(&s->pending_callbacks);
  orphan_all(&s->idle_callbacks);
  delete s;
}

const struct wl_surface_interface surface_impl = {
    .destroy = destroy_resource,
    .attach = surface_attach,
    .damage = [](wl_client *, wl_resource *, int32_t, int32_t, int32_t, int32_t) {},
    .frame = surface_frame,
    .set_opaque_region = [](wl_client *, wl_resource *, wl_resource *) {},
    .set_input_region = [](wl_client *, wl_resource *, wl_resource *) {},
    .commit = surface_commit,
    .set_buffer_transform = [](wl_client *, wl_resource *, int32_t) {},
    .set_buffer_scale = [](wl_client *, wl_resource *, int32_t) {},
    .damage_buffer = [](wl_client *, wl_resource *, int32_t, int32_t, int32_t, int32_t) {},
    .offset = nullptr, // wl_surface v5: not offered
};

const struct wl_compositor_interface compositor_impl = {
    .create_surface =
        [](wl_client *c, wl_resource *res, uint32_t id) {
          wl_resource *r = wl_resource_create(c, &wl_surface_interface, wl_resource_get_version(res), id);
          if (r == nullptr) return wl_client_post_no_memory(c);
          auto *s = new Surface;
          s->resource = r;
          s->id = next_surface_id++;
          wl_list_init(&s->pending_callbacks);
          wl_list_init(&s->idle_callbacks);
          surfaces.push_back(s);
          wl_resource_set_implementation(r, &surface_impl, s, surface_destroyed);
        },
    .create_region =
        [](wl_client *c, wl_resource *res, uint32_t id) {
          make_noop(c, &wl_region_interface, wl_resource_get_version(res), id);
        },
};

// The repaint: every --refresh-ms, each surface shows its newest applied buffer; what it replaces is released.
wl_event_source *repaint_timer;
int repaint(void *) {
  uint32_t time = now_ms();
  for (Surface *s : surfaces) {
    if (!s->applied.empty()) {
      std::vector<FramePtr> old = std::move(s->applied);
      s->applied.clear();
      FramePtr newest = std::move(old.back());
      old.pop_back();
      for (FramePtr &f : old) send_done(&f->callbacks, time);
      send_done(&newest->callbacks, time);
      if (s->shown) old.push_back(std::move(s->shown));
      if (newest->buffer) s->shown = std::move(newest); // a null attach shows nothing
      for (FramePtr &f : old) release_later(*s, std::move(f));
    }
    send_done(&s->idle_callbacks, time);
  }
  wl_event_source_timer_update(repaint_timer, opt.refresh_ms);
  return 0;
}

// ---- xdg_wm_base --------------------------------------------------------------------------------------

uint32_t next_serial = 1;

const struct xdg_surface_interface xdg_surface_impl = {
    .destroy = destroy_resource,
    .get_toplevel =
        [](wl_client *c, wl_resource *res, uint32_t id) {
          wl_resource *top = make_noop(c, &xdg_toplevel_interface, wl_resource_get_version(res), id);
          if (top == nullptr) return;
          wl_array states;
          wl_array_init(&states);
          xdg_toplevel_send_configure(top, 0, 0, &states); // 0×0: the client picks its size
          xdg_surface_send_configure(res, next_serial++);
        },
    .get_popup = [](wl_client *c, wl_resource *res, uint32_t id, wl_resource *, wl_resource *) {
      make_noop(c, &xdg_popup_interface, wl_resource_get_version(res), id);
    },
    .set_window_geometry = [](wl_client *, wl_resource *, int32_t, int32_t, int32_t, int32_t) {},
    .ack_configure = [](wl_client *, wl_resource *, uint32_t) {},
};

const struct xdg_wm_base_interface wm_base_impl = {
    .destroy = destroy_resource,
    .create_positioner = [](wl_client *c, wl_resource *res,
                            uint32_t id) { make_noop(c, &xdg_positioner_interface, wl_resource_get_version(res), id); },
    .get_xdg_surface =
        [](wl_client *c, wl_resource *res, uint32_t id, wl_resource *) {
          wl_resource *r = wl_resource_create(c, &xdg_surface_interface, wl_resource_get_version(res), id);
          if (r == nullptr) return wl_client_post_no_memory(c);
          wl_resource_set_implementation(r, &xdg_surface_impl, nullptr, nullptr);
        },
    .pong = [](wl_client *, wl_resource *, uint32_t) {},
};

// ---- zwp_linux_dmabuf_v1 ------------------------------------------------------------------------------

struct Params {
  int fd = -1;
  uint32_t offset = 0, stride = 0;
  uint64_t modifier = 0;
  bool plane0 = false, other_planes = false, used = false;
  ~Params() {
    if (fd >= 0) close(fd);
  }
};

const struct wl_buffer_interface buffer_impl = {.destroy = destroy_resource};
void buffer_destroyed(wl_resource *r) {
  BufferRef *ref = data<BufferRef>(r);
  if (*ref) (*ref)->resource = nullptr;
  delete ref;
}

// Makes the wl_buffer (id 0: a new one for create; else create_immed's id). On a failure that is not a
// protocol error it sends `failed` (create_immed then gets an inert wl_buffer).
void params_create(wl_client *c, wl_resource *res, uint32_t id, int32_t w, int32_t h, uint32_t format, uint32_t) {
  Params &p = *data<Params>(res);
  if (p.used) return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_ALREADY_USED, "params already used");
  p.used = true;
  if (!p.plane0) return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE, "no plane 0");
  if (w <= 0 || h <= 0) return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_DIMENSIONS, "bad size");
  off_t size = lseek(p.fd, 0, SEEK_END);
  if (p.stride < uint32_t(w) * 4 || (size >= 0 && uint64_t(p.offset) + uint64_t(p.stride) * uint32_t(h) > uint64_t(size)))
    return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_OUT_OF_BOUNDS, "plane 0 out of bounds");
  bool supported = std::find(std::begin(kFormats), std::end(kFormats), format) != std::end(kFormats) &&
                   p.modifier == DRM_FORMAT_MOD_LINEAR && !p.other_planes;
  BufferRef buffer;
  if (supported) {
    buffer = std::make_shared<Buffer>();
    buffer->fd = p.fd;
    p.fd = -1;
    buffer->offset = p.offset;
    buffer->stride = p.stride;
    buffer->width = uint32_t(w);
    buffer->height = uint32_t(h);
  } else {
    fprintf(stderr, "sfw-test-compositor: refused a dma-buf: format 0x%08x, modifier 0x%016llx%s\n", format,
            static_cast<unsigned long long>(p.modifier), p.other_planes ? ", more than one plane" : "");
    zwp_linux_buffer_params_v1_send_failed(res);
    if (id == 0) return;
  }
  wl_resource *r = wl_resource_create(c, &wl_buffer_interface, 1, id);
  if (r == nullptr) return wl_client_post_no_memory(c);
  if (buffer) buffer->resource = r;
  wl_resource_set_implementation(r, &buffer_impl, new BufferRef(std::move(buffer)), buffer_destroyed);
  if (id == 0) zwp_linux_buffer_params_v1_send_created(res, r);
}

const struct zwp_linux_buffer_params_v1_interface params_impl = {
    .destroy = destroy_resource,
    .add =
        [](wl_client *, wl_resource *res, int32_t fd, uint32_t plane, uint32_t offset, uint32_t stride, uint32_t mod_hi,
           uint32_t mod_lo) {
          Params &p = *data<Params>(res);
          if (plane >= 4) {
            close(fd);
            return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_IDX, "plane %u", plane);
          }
          if (plane != 0) { // no format offered here has more planes: create refuses these params
            close(fd);
            p.other_planes = true;
            return;
          }
          if (p.plane0) {
            close(fd);
            return wl_resource_post_error(res, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_SET, "plane 0 set twice");
          }
          p.plane0 = true;
          p.fd = fd;
          p.offset = offset;
          p.stride = stride;
          p.modifier = uint64_t(mod_hi) << 32 | mod_lo;
        },
    .create = [](wl_client *c, wl_resource *res, int32_t w, int32_t h, uint32_t format,
                 uint32_t flags) { params_create(c, res, 0, w, h, format, flags); },
    .create_immed = params_create,
};

const struct zwp_linux_dmabuf_v1_interface dmabuf_impl = {
    .destroy = destroy_resource,
    .create_params =
        [](wl_client *c, wl_resource *res, uint32_t id) {
          wl_resource *r = wl_resource_create(c, &zwp_linux_buffer_params_v1_interface, wl_resource_get_version(res), id);
          if (r == nullptr) return wl_client_post_no_memory(c);
          wl_resource_set_implementation(r, &params_impl, new Params, [](wl_resource *p) { delete data<Params>(p); });
        },
    .get_default_feedback = nullptr, // v4: not offered
    .get_surface_feedback = nullptr,
};

void bind_dmabuf(wl_client *c, void *, uint32_t version, uint32_t id) {
  wl_resource *r = wl_resource_create(c, &zwp_linux_dmabuf_v1_interface, int(version), id);
  if (r == nullptr) return wl_client_post_no_memory(c);
  wl_resource_set_implementation(r, &dmabuf_impl, nullptr, nullptr);
  for (uint32_t format : kFormats) {
    zwp_linux_dmabuf_v1_send_format(r, format);
    if (version >= ZWP_LINUX_DMABUF_V1_MODIFIER_SINCE_VERSION)
      zwp_linux_dmabuf_v1_send_modifier(r, format, uint32_t(DRM_FORMAT_MOD_LINEAR >> 32), uint32_t(DRM_FORMAT_MOD_LINEAR));
  }
}

// ---- wp_linux_drm_syncobj_v1 --------------------------------------------------------------------------

using TimelineRef = std::shared_ptr<Timeline>;

void set_point(wl_resource *res, wl_resource *timeline, uint32_t hi, uint32_t lo, bool acquire) {
  SyncSurface &s = *data<SyncSurface>(res);
  if (s.surface == nullptr)
    return wl_resource_post_error(res, WP_LINUX_DRM_SYNCOBJ_SURFACE_V1_ERROR_NO_SURFACE, "the wl_surface is gone");
  (acquire ? s.acquire : s.release) = Point{*data<TimelineRef>(timeline), uint64_t(hi) << 32 | lo};
}

const struct wp_linux_drm_syncobj_surface_v1_interface sync_surface_impl = {
    .destroy = destroy_resource,
    .set_acquire_point = [](wl_client *, wl_resource *res, wl_resource *t, uint32_t hi,
                            uint32_t lo) { set_point(res, t, hi, lo, true); },
    .set_release_point = [](wl_client *, wl_resource *res, wl_resource *t, uint32_t hi,
                            uint32_t lo) { set_point(res, t, hi, lo, false); },
};

const struct wp_linux_drm_syncobj_timeline_v1_interface timeline_impl = {.destroy = destroy_resource};

const struct wp_linux_drm_syncobj_manager_v1_interface syncobj_manager_impl = {
    .destroy = destroy_resource,
    .get_surface =
        [](wl_client *c, wl_resource *res, uint32_t id, wl_resource *surface) {
          Surface *s = data<Surface>(surface);
          if (s->sync != nullptr) {
            violation(s->id, s->commits, "a second wp_linux_drm_syncobj_surface_v1 for one wl_surface");
            return wl_resource_post_error(res, WP_LINUX_DRM_SYNCOBJ_MANAGER_V1_ERROR_SURFACE_EXISTS, "surface exists");
          }
          wl_resource *r = wl_resource_create(c, &wp_linux_drm_syncobj_surface_v1_interface, 1, id);
          if (r == nullptr) return wl_client_post_no_memory(c);
          auto *sync = new SyncSurface{r, s, {}, {}};
          s->sync = sync;
          wl_resource_set_implementation(r, &sync_surface_impl, sync, [](wl_resource *x) {
            SyncSurface *y = data<SyncSurface>(x);
            if (y->surface != nullptr) y->surface->sync = nullptr; // later commits are implicit sync again
            delete y;
          });
        },
    .import_timeline =
        [](wl_client *c, wl_resource *res, uint32_t id, int32_t fd) {
          drm_syncobj_handle h{};
          h.fd = fd;
          int r = drm_ioctl(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &h);
          close(fd);
          if (r != 0) {
            violation(0, 0, "import_timeline of an fd that is no syncobj (%s)", strerror(errno));
            return wl_resource_post_error(res, WP_LINUX_DRM_SYNCOBJ_MANAGER_V1_ERROR_INVALID_TIMELINE, "cannot import");
          }
          auto *ref = new TimelineRef(std::make_shared<Timeline>(h.handle));
          wl_resource *t = wl_resource_create(c, &wp_linux_drm_syncobj_timeline_v1_interface, 1, id);
          if (t == nullptr) {
            delete ref;
            return wl_client_post_no_memory(c);
          }
          wl_resource_set_implementation(t, &timeline_impl, ref, [](wl_resource *x) { delete data<TimelineRef>(x); });
        },
};

// The first render node whose driver has syncobj timelines and the eventfd wait (Linux 6.6+).
std::string open_render_node() {
  std::string why = "no /dev/dri/renderD128..191";
  for (int i = 128; i < 192; ++i) {
    std::string path = "/dev/dri/renderD" + std::to_string(i);
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    drm_get_cap cap{DRM_CAP_SYNCOBJ_TIMELINE, 0};
    if (ioctl(fd, DRM_IOCTL_GET_CAP, &cap) != 0 || cap.value != 1) {
      why = path + " has no DRM_CAP_SYNCOBJ_TIMELINE";
      close(fd);
      continue;
    }
    drm_fd = fd;
    drm_syncobj_create create{0, 0};
    int efd = eventfd(0, EFD_CLOEXEC);
    drm_syncobj_eventfd e{};
    bool ok = drm_ioctl(DRM_IOCTL_SYNCOBJ_CREATE, &create) == 0;
    if (ok) {
      e.handle = create.handle;
      e.point = 1;
      e.fd = efd;
      ok = drm_ioctl(DRM_IOCTL_SYNCOBJ_EVENTFD, &e) == 0;
      Timeline destroys_it(create.handle);
    }
    close(efd);
    if (ok) return path;
    why = path + " has no DRM_IOCTL_SYNCOBJ_EVENTFD (Linux 6.6+)";
    close(fd);
    drm_fd = -1;
  }
  return why;
}

// ---- globals, clients, main ---------------------------------------------------------------------------

template <const wl_interface *Iface, auto *Impl> void bind_plain(wl_client *c, void *, uint32_t version, uint32_t id) {
  wl_resource *r = wl_resource_create(c, Iface, int(version), id);
  if (r == nullptr) return wl_client_post_no_memory(c);
  wl_resource_set_implementation(r, Impl, nullptr, nullptr);
}

// --exit-on-disconnect: the last client gone and no new one within 500 ms (a process may connect
// several times: Vulkan drivers probe with connections of their own).
wl_event_source *exit_timer;
void client_destroyed(wl_listener *l, void *) {
  wl_list_remove(&l->link);
  delete l;
  if (--live_clients == 0 && opt.exit_on_disconnect) wl_event_source_timer_update(exit_timer, 500);
}

void client_created(wl_listener *, void *data) {
  ++stats.clients;
  ++live_clients;
  if (opt.exit_on_disconnect) wl_event_source_timer_update(exit_timer, 0);
  auto *l = new wl_listener{};
  l->notify = client_destroyed;
  wl_client_add_destroy_listener(static_cast<wl_client *>(data), l);
}
wl_listener client_listener{{}, client_created};

[[noreturn]] void usage(int status) {
  fprintf(status == 0 ? stdout : stderr,
          "usage: sfw-test-compositor --socket NAME [--ready-fd N] [--exit-after-ms N] [--exit-on-disconnect]\n"
          "         [--refresh-ms N (16)] [--release-delay-ms N (0)] [--acquire-bound-ms N (10000)]\n"
          "         [--no-buffer-release] [--require-syncobj] [--release-fence-ms N]\n"
          "--release-fence-ms: each release point gets an unsignalled vgem fence that signals N ms later (a GPU\n"
          "compositor's release); the buffer is sampled once more just before.\n"
          "TEST DOUBLE compositor: wl_compositor, xdg_wm_base, zwp_linux_dmabuf_v1 (LINEAR [AX]RGB/[AX]BGR8888),\n"
          "wp_linux_drm_syncobj_manager_v1 when a render node has syncobj timelines. Judges explicit sync;\n"
          "VIOLATION lines on stderr, a summary on stdout; exit 0: no violations, 1: violations, 2: usage/start.\n");
  exit(status);
}

int int_arg(const char *name, const char *value) {
  char *end = nullptr;
  long v = value != nullptr ? strtol(value, &end, 10) : -1;
  if (value == nullptr || *value == '\0' || *end != '\0' || v < 0 || v > 1 << 30) {
    fprintf(stderr, "sfw-test-compositor: %s wants a number\n", name);
    usage(2);
  }
  return int(v);
}

} // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") usage(0);
    else if (a == "--no-buffer-release") opt.no_buffer_release = true;
    else if (a == "--require-syncobj") opt.require_syncobj = true;
    else if (a == "--exit-on-disconnect") opt.exit_on_disconnect = true;
    else if (a == "--socket" && v != nullptr) opt.socket = argv[++i];
    else if (a == "--ready-fd") opt.ready_fd = int_arg(argv[i], v), ++i;
    else if (a == "--exit-after-ms") opt.exit_after_ms = int_arg(argv[i], v), ++i;
    else if (a == "--refresh-ms") opt.refresh_ms = std::max(1, int_arg(argv[i], v)), ++i;
    else if (a == "--release-delay-ms") opt.release_delay_ms = int_arg(argv[i], v), ++i;
    else if (a == "--release-fence-ms") opt.release_fence_ms = int_arg(argv[i], v), ++i;
    else if (a == "--acquire-bound-ms") opt.acquire_bound_ms = std::max(1, int_arg(argv[i], v)), ++i;
    else usage(2);
  }
  if (opt.socket == nullptr) usage(2);
  signal(SIGPIPE, SIG_IGN);

  std::string node = open_render_node();
  if (drm_fd < 0) {
    fprintf(stderr, "sfw-test-compositor: %s: wp_linux_drm_syncobj_manager_v1 is not offered\n", node.c_str());
    if (opt.require_syncobj) return 2;
  }
  if (opt.release_fence_ms > 0) {
    try {
      vgem.emplace();
    } catch (const std::exception &e) {
      fprintf(stderr, "sfw-test-compositor: --release-fence-ms needs vgem (modprobe vgem): %s\n", e.what());
      return 2;
    }
  }
  display = wl_display_create();
  loop = wl_display_get_event_loop(display);
  wl_global_create(display, &wl_compositor_interface, 4, nullptr, bind_plain<&wl_compositor_interface, &compositor_impl>);
  wl_global_create(display, &xdg_wm_base_interface, 3, nullptr, bind_plain<&xdg_wm_base_interface, &wm_base_impl>);
  wl_global_create(display, &zwp_linux_dmabuf_v1_interface, 3, nullptr, bind_dmabuf);
  if (drm_fd >= 0)
    wl_global_create(display, &wp_linux_drm_syncobj_manager_v1_interface, 1, nullptr,
                     bind_plain<&wp_linux_drm_syncobj_manager_v1_interface, &syncobj_manager_impl>);
  wl_display_init_shm(display); // Mesa's vkGetPhysicalDeviceWaylandPresentationSupportKHR on lavapipe wants it
  wl_display_add_client_created_listener(display, &client_listener);
  if (wl_display_add_socket(display, opt.socket) != 0) {
    fprintf(stderr, "sfw-test-compositor: cannot listen on %s in $XDG_RUNTIME_DIR: %s\n", opt.socket, strerror(errno));
    return 2;
  }
  auto terminate = [](int, void *) { return wl_display_terminate(display), 0; };
  wl_event_loop_add_signal(loop, SIGTERM, terminate, nullptr);
  wl_event_loop_add_signal(loop, SIGINT, terminate, nullptr);
  exit_timer = wl_event_loop_add_timer(loop, [](void *) { return wl_display_terminate(display), 0; }, nullptr);
  if (opt.exit_after_ms > 0) wl_event_source_timer_update(exit_timer, opt.exit_after_ms);
  repaint_timer = wl_event_loop_add_timer(loop, repaint, nullptr);
  wl_event_source_timer_update(repaint_timer, opt.refresh_ms);
  fprintf(stderr, "sfw-test-compositor: listening on %s%s%s\n", opt.socket, drm_fd >= 0 ? ", syncobj timelines on " : "",
          drm_fd >= 0 ? node.c_str() : "");
  if (opt.ready_fd >= 0) {
    if (write(opt.ready_fd, "ready\n", 6) != 6) fprintf(stderr, "sfw-test-compositor: cannot write the ready fd\n");
    close(opt.ready_fd);
  }

  wl_display_run(display);
  for (auto &r : pending_releases) { // nobody waits for them now; a vgem fence left alone signals only after 10 s
    try {
      vgem->signal(r->fence);
    } catch (const std::exception &) {
      // signalled itself already (10 s): nothing left to do
    }
  }
  wl_display_destroy_clients(display); // frees every surface, frame and buffer through the destroy hooks
  printf("sfw-test-compositor: %lu clients, %lu commits, %lu with a buffer, %lu with explicit sync, "
         "%lu acquire points pending at commit, %lu release points signalled (%lu through a pending fence), "
         "%lu violations\n",
         stats.clients, stats.commits, stats.with_buffer, stats.explicit_sync, stats.acquire_pending, stats.released,
         stats.release_fences, stats.violations);
  fflush(stdout);
  wl_display_destroy(display);
  if (drm_fd >= 0) close(drm_fd);
  vgem.reset();
  return stats.violations == 0 ? 0 : 1;
}
