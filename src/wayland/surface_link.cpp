#include "wayland/surface_link.hpp"

#include "debug_flags.hpp"
#include "log.hpp"
#include "wayland/buffer_params.hpp"
#include "wayland/dispatch.hpp"
#include "kernel/unique_fd.hpp"

#include "linux-dmabuf-v1-client-protocol.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace sfw::wl {

void destroy_dmabuf(zwp_linux_dmabuf_v1 *dmabuf) { zwp_linux_dmabuf_v1_destroy(dmabuf); }

namespace {

struct GlobalSearch {
  uint32_t name = 0, version = 0;
};
void on_global(void *data, wl_registry *, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, zwp_linux_dmabuf_v1_interface.name) == 0) *static_cast<GlobalSearch *>(data) = {name, version};
}
void on_global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {on_global, on_global_remove};

// The answer to one `create`. When the wait times out, the state becomes an orphan that owns the params
// object and the queue: the late `created` then still finds a live proxy (so libwayland records the new
// wl_buffer's id instead of leaving a hole in its object map), and the orphan destroys both.
struct CreateState {
  wl_buffer *buffer = nullptr;
  bool failed = false;
  bool orphan = false;
  QueueRef queue;
};
void on_created(void *data, zwp_linux_buffer_params_v1 *params, wl_buffer *buffer) {
  auto *st = static_cast<CreateState *>(data);
  st->buffer = buffer;
  if (st->orphan) {
    wl_buffer_destroy(buffer);
    zwp_linux_buffer_params_v1_destroy(params);
    delete st;
  }
}
void on_failed(void *data, zwp_linux_buffer_params_v1 *params) {
  auto *st = static_cast<CreateState *>(data);
  st->failed = true;
  if (st->orphan) {
    zwp_linux_buffer_params_v1_destroy(params);
    delete st;
  }
}
const zwp_linux_buffer_params_v1_listener params_listener = {on_created, on_failed};

const wl_buffer_listener buffer_listener = {SurfaceLink::Buffer::on_release};
const wl_callback_listener frame_listener = {SurfaceLink::on_frame_done};

// libwayland dups every fd it marshals and, when that dup fails, marks the whole display fatal: the app's
// connection dies. So before sending `add`, one dup per plane is tried here (and closed again), and a process
// at its limit gets `no_fds` with its connection intact. Another thread can still take the last slots between
// this check and the send; nothing short of libwayland itself closes that window.
bool have_fd_headroom(std::span<const PlaneParams> planes, char *why, size_t why_size) {
  Vector<kernel::UniqueFd> held;
  held.reserve(planes.size());
  for (const PlaneParams &p : planes) {
    int copy = ::fcntl(p.fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      snprintf(why, why_size, "F_DUPFD_CLOEXEC of plane %u's fd %d: %s", p.index, p.fd, strerror(errno));
      return false;
    }
    held.emplace_back(copy);
  }
  return true;
}

} // namespace

// ---- Buffer ----------------------------------------------------------------------------------------------
SurfaceLink::Buffer::Buffer(QueueRef queue, wl_buffer *buffer, uint32_t width, uint32_t height, FormatModifier fm)
    : queue_(std::move(queue)), width_(width), height_(height), fm_(fm) {
  adopt(buffer);
}

void SurfaceLink::Buffer::adopt(wl_buffer *buffer) noexcept {
  buffer_ = buffer;
  if (buffer_ != nullptr) wl_buffer_add_listener(buffer_, &buffer_listener, this);
}

SurfaceLink::Buffer::~Buffer() {
  if (buffer_ != nullptr) wl_buffer_destroy(buffer_);
}

void SurfaceLink::Buffer::on_release(void *data, wl_buffer *) { static_cast<Buffer *>(data)->busy_ = false; }

// ---- SurfaceLink -----------------------------------------------------------------------------------------
HostUnique<SurfaceLink> SurfaceLink::create(wl_display *display, wl_surface *surface,
                                            std::shared_ptr<const DisplayInfo> info, std::chrono::milliseconds timeout,
                                            Status *status) {
  if (!info) {
    auto queried = std::make_shared<DisplayInfo>();
    *status = query_display(display, timeout, queried.get());
    if (*status != Status::ok) return nullptr;
    info = std::move(queried);
  }
  if (info->dmabuf_version == 0) {
    *status = Status::failed;
    return nullptr;
  }
  HostUnique<SurfaceLink> link = host_new_with<SurfaceLink>([](void *memory) { return new (memory) SurfaceLink; });
  link->display_ = display;
  link->info_ = std::move(info);
  link->queue_ = make_queue(display);
  *status = Status::failed;
  if (!link->queue_) return nullptr;
  link->display_wrapper_ = wrap_on_queue(display, link->queue_.get());
  link->surface_wrapper_ = wrap_on_queue(surface, link->queue_.get());
  if (!link->display_wrapper_ || !link->surface_wrapper_) return nullptr;
  // wl_proxy_get_version says 0 for proxies made by pre-1.10 constructors: treat as version 1.
  link->surface_version_ = std::max<uint32_t>(proxy_version(surface), 1);
  *status = link->bind_dmabuf(timeout);
  if (*status != Status::ok) return nullptr;
  return link;
}

// Binds zwp_linux_dmabuf_v1 through a registry on the private queue, so it and every params/buffer made
// from it live there. A fresh registry and a roundtrip, never a cached global name: binding a name that
// has gone away would be a fatal error.
Status SurfaceLink::bind_dmabuf(std::chrono::milliseconds timeout) {
  GlobalSearch found;
  Owned<wl_registry, destroy_proxy<wl_registry>> registry(wl_display_get_registry(display_wrapper_.get()));
  if (!registry) return Status::failed;
  wl_registry_add_listener(registry.get(), &registry_listener, &found);
  Status s = wl::roundtrip(display_, display_wrapper_.get(), queue_.get(), deadline_after(timeout));
  if (s != Status::ok) return s;
  if (found.name == 0) return Status::failed;
  dmabuf_version_ = std::min<uint32_t>(found.version, 4); // v4+: no format events to skip
  dmabuf_.reset(static_cast<zwp_linux_dmabuf_v1 *>(
      wl_registry_bind(registry.get(), found.name, &zwp_linux_dmabuf_v1_interface, dmabuf_version_)));
  return dmabuf_ ? Status::ok : Status::failed;
}

SurfaceLink::~SurfaceLink() = default; // members go in reverse order: proxies first, the queue last

Status SurfaceLink::create_buffer(uint32_t width, uint32_t height, FormatModifier fm, std::span<const Plane> planes,
                                  HostUnique<Buffer> *out, std::chrono::milliseconds timeout) {
  out->reset();
  auto new_buffer = [&](wl_buffer *buffer) {
    return host_new_with<Buffer>([&](void *memory) { return new (memory) Buffer(queue_, buffer, width, height, fm); });
  };
  Vector<PlaneParams> params_list;
  params_list.reserve(planes.size());
  for (size_t i = 0; i < planes.size(); ++i)
    params_list.push_back({static_cast<uint32_t>(i), planes[i].fd, planes[i].offset, planes[i].stride});
  if (debug_flags().corrupt_stride && !params_list.empty()) params_list[0].stride += 1u << 24;
  char why[192];
  // The debug modifier is checked as the LINEAR memory it really is, then sent as announced.
  bool debug_unoffered = debug_flags().unoffered_modifier_first && fm.modifier == kDebugUnofferedModifier;
  FormatModifier checked = debug_unoffered ? FormatModifier{fm.format, kModifierLinear} : fm;
  ParamsCheck check = check_buffer_params(width, height, checked, params_list, info_->dmabuf, why, sizeof why);
  if (check != ParamsCheck::ok) {
    SFW_WARN("wayland: not creating a %ux%u dma-buf wl_buffer: it would raise %s (%s)", width, height,
             to_string(check), why);
    return Status::refused;
  }
  if (display_status(display_) != Status::ok) return Status::lost;
  if (!have_fd_headroom(params_list, why, sizeof why)) {
    SFW_WARN("wayland: not sending a %ux%u dma-buf to the compositor: %s", width, height, why);
    return Status::no_fds;
  }

  Owned<zwp_linux_buffer_params_v1, zwp_linux_buffer_params_v1_destroy> params(
      zwp_linux_dmabuf_v1_create_params(dmabuf_.get()));
  if (!params) return Status::failed;
  for (const PlaneParams &p : params_list)
    zwp_linux_buffer_params_v1_add(params.get(), p.fd, p.index, p.offset, p.stride,
                                   static_cast<uint32_t>(fm.modifier >> 32), static_cast<uint32_t>(fm.modifier));
  const auto w = static_cast<int32_t>(width), h = static_cast<int32_t>(height);

  // create_immed failing is fatal in weston: only for pairs this display has already accepted.
  if (dmabuf_version_ >= ZWP_LINUX_BUFFER_PARAMS_V1_CREATE_IMMED_SINCE_VERSION && !debug_flags().no_immed &&
      is_known_good(display_, fm)) {
    HostUnique<Buffer> room = new_buffer(nullptr); // allocated first: a made wl_buffer always gets its owner
    wl_buffer *buffer = zwp_linux_buffer_params_v1_create_immed(params.get(), w, h, fm.format, 0);
    if (buffer == nullptr) return Status::failed;
    room->adopt(buffer);
    *out = std::move(room);
    (*out)->immediate_ = true;
    Status s = flush(display_, deadline_after(timeout));
    if (s == Status::lost) out->reset();
    return s == Status::timeout ? Status::ok : s; // still queued in libwayland; the next flush sends it
  }

  HostUnique<Buffer> room = new_buffer(nullptr);
  auto state = std::make_unique<CreateState>(); // std::allocator: an orphan may outlive the swapchain
  zwp_linux_buffer_params_v1_add_listener(params.get(), &params_listener, state.get());
  zwp_linux_buffer_params_v1_create(params.get(), w, h, fm.format, 0);
  CreateState *st = state.get();
  Status s = dispatch_until(display_, queue_.get(), [st] { return st->buffer != nullptr || st->failed; },
                            deadline_after(timeout));
  if (s == Status::timeout) {
    SFW_WARN("wayland: no answer to zwp_linux_buffer_params_v1.create; keeping the params until one comes");
    state->orphan = true;
    state->queue = queue_;
    (void)state.release(); // the listener owns it now
    (void)params.release();
    return Status::timeout;
  }
  if (s != Status::ok) {
    if (st->buffer != nullptr) wl_buffer_destroy(st->buffer);
    return s;
  }
  if (st->failed) {
    SFW_WARN("wayland: the compositor could not import a %ux%u dma-buf (format 0x%08x, modifier 0x%016llx)", width,
             height, fm.format, static_cast<unsigned long long>(fm.modifier));
    return Status::failed;
  }
  mark_known_good(display_, fm);
  room->adopt(st->buffer);
  *out = std::move(room);
  return Status::ok;
}

Status SurfaceLink::present(Buffer &buffer, std::span<const Rect> damage, bool want_frame_callback,
                            std::chrono::milliseconds flush_timeout, SyncPoints *points) {
  if (buffer.busy_) {
    SFW_DEBUG("wayland: present of a buffer the compositor still holds");
    return Status::refused;
  }
  if (display_status(display_) != Status::ok) return Status::lost;
  wl_surface *surface = surface_wrapper_.get();
  wl_surface_attach(surface, buffer.buffer_, 0, 0);
  if (surface_version_ >= WL_SURFACE_DAMAGE_BUFFER_SINCE_VERSION) {
    bool any = false;
    for (const Rect &r : damage) {
      if (r.width <= 0 || r.height <= 0) continue;
      wl_surface_damage_buffer(surface, r.x, r.y, r.width, r.height);
      any = true;
    }
    if (!any) wl_surface_damage_buffer(surface, 0, 0, INT32_MAX, INT32_MAX);
  } else {
    wl_surface_damage(surface, 0, 0, INT32_MAX, INT32_MAX); // surface coordinates: only "everything" is safe
  }
  if (want_frame_callback) {
    // A newer request supersedes one still pending; the old proxy's late `done` is simply discarded.
    frame_callback_.reset(wl_surface_frame(surface));
    if (frame_callback_) wl_callback_add_listener(frame_callback_.get(), &frame_listener, this);
  }
  const bool explicit_sync = points != nullptr && points->surface->set_points(*points->timeline, points->acquire, points->release);
  wl_surface_commit(surface);
  buffer.busy_ = !explicit_sync;
  if (points != nullptr) points->sent = explicit_sync;
  return flush(display_, deadline_after(flush_timeout));
}

void SurfaceLink::on_frame_done(void *data, wl_callback *callback, uint32_t) {
  auto *link = static_cast<SurfaceLink *>(data);
  if (link->frame_callback_.get() == callback) link->frame_callback_.reset();
}

Status SurfaceLink::wait_until(const std::function<bool()> &done, std::chrono::nanoseconds timeout, int wake_fd) {
  return dispatch_until(display_, queue_.get(), [&done] { return done(); }, deadline_after(timeout), wake_fd);
}

Status SurfaceLink::dispatch_pending() {
  Status s = dispatch_until(display_, queue_.get(), [] { return false; }, Clock::now());
  return s == Status::lost ? Status::lost : Status::ok;
}

Status SurfaceLink::roundtrip(std::chrono::nanoseconds timeout) {
  return wl::roundtrip(display_, display_wrapper_.get(), queue_.get(), deadline_after(timeout));
}

} // namespace sfw::wl
