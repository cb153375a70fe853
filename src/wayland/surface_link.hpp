// The link between one wl_surface of the app and one swapchain of the layer: a private event queue on
// the app's wl_display, with a wrapper of the display and of the surface and a zwp_linux_dmabuf_v1 bound on
// that queue, so frame callbacks, buffer releases and dma-buf answers come to the layer and never to the
// app. One thread uses a link at a time; links on one display may be used from several threads at once.
#pragma once

#include "host_alloc.hpp"
#include "wayland/display_info.hpp"
#include "wayland/formats.hpp"
#include "wayland/owners.hpp"
#include "wayland/status.hpp"
#include "wayland/syncobj_surface.hpp"

#include <wayland-client-protocol.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

struct zwp_linux_dmabuf_v1;
struct zwp_linux_buffer_params_v1;

namespace sfw::wl {

void destroy_dmabuf(zwp_linux_dmabuf_v1 *dmabuf);

// Damage, in buffer pixels.
struct Rect {
  int32_t x, y, width, height;
};

class SurfaceLink {
public:
  // The display and surface stay the app's; both must outlive the link (Vulkan's rule for a VkSurfaceKHR).
  // `info`: the compositor's globals and formats as already queried, or null to query them now. Fails with
  // `failed` when the compositor offers no zwp_linux_dmabuf_v1. The link and its buffers are allocated
  // through the ScopedHostAllocator active on this thread; throws std::bad_alloc.
  static HostUnique<SurfaceLink> create(wl_display *display, wl_surface *surface,
                                        std::shared_ptr<const DisplayInfo> info, std::chrono::milliseconds timeout,
                                        Status *status);
  ~SurfaceLink();
  SurfaceLink(const SurfaceLink &) = delete;
  SurfaceLink &operator=(const SurfaceLink &) = delete;

  struct Plane {
    int fd;          // borrowed: libwayland sends a dup
    uint32_t offset;
    uint32_t stride;
  };
  using Rect = wl::Rect;

  // One wl_buffer per swapchain image. May outlive the link (it shares the queue); it must not outlive
  // the display.
  class Buffer {
  public:
    ~Buffer();
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    bool busy() const noexcept { return busy_; } // attached and not yet released
    wl_buffer *get() const noexcept { return buffer_; }
    uint32_t width() const noexcept { return width_; }
    uint32_t height() const noexcept { return height_; }
    FormatModifier format() const noexcept { return fm_; }
    bool immediate() const noexcept { return immediate_; } // made with create_immed (a known-good pair)
    static void on_release(void *data, wl_buffer *buffer); // wl_buffer_listener

  private:
    friend class SurfaceLink;
    Buffer(QueueRef queue, wl_buffer *buffer, uint32_t width, uint32_t height, FormatModifier fm);
    void adopt(wl_buffer *buffer) noexcept; // takes ownership; listens for its release
    QueueRef queue_; // first: released after the proxy
    wl_buffer *buffer_ = nullptr;
    uint32_t width_, height_;
    FormatModifier fm_;
    bool busy_ = false;
    bool immediate_ = false;
  };

  // Local checks (refused), then `create` with a bounded wait for created/failed; `create_immed` when the
  // pair already produced `created` on this display. `timeout`: the compositor did not answer in time (the
  // params object is kept until it does, so a late `created` cannot confuse libwayland's object map).
  Status create_buffer(uint32_t width, uint32_t height, FormatModifier fm, std::span<const Plane> planes,
                       HostUnique<Buffer> *out, std::chrono::milliseconds timeout);

  // attach + damage (damage_buffer in buffer pixels when the surface is v4+, else the whole surface;
  // empty `damage` = everything) + optional frame callback + commit + bounded flush. Marks the buffer busy.
  // `refused` if the buffer is still busy (attached and not released). A flush `timeout` leaves the
  // commit queued in libwayland: it goes out with the next flush.
  // `points` (wp_linux_drm_syncobj_v1): the commit carries them, and the buffer's release is its release point,
  // not wl_buffer.release (whose delivery the protocol leaves undefined), so it is not marked busy.
  struct SyncPoints {
    SyncobjSurface *surface;
    const SyncobjSurface::Timeline *timeline;
    uint64_t acquire, release;
    bool sent = false; // out: false when the surface had abandoned explicit sync (the commit went out implicit)
  };
  Status present(Buffer &buffer, std::span<const Rect> damage, bool want_frame_callback,
                 std::chrono::milliseconds flush_timeout, SyncPoints *points = nullptr);
  bool frame_pending() const noexcept { return static_cast<bool>(frame_callback_); }

  // Dispatches this link's queue until done() or the timeout; a zero timeout does one non-blocking read.
  // done() is also asked whenever `wake_fd` (an eventfd, or -1) is written to.
  Status wait_until(const std::function<bool()> &done, std::chrono::nanoseconds timeout, int wake_fd = -1);
  // One non-blocking read and dispatch: ok, or lost.
  Status dispatch_pending();
  // A bounded wl_display.sync on this link's queue.
  Status roundtrip(std::chrono::nanoseconds timeout);

  uint32_t surface_version() const noexcept { return surface_version_; }
  uint32_t dmabuf_version() const noexcept { return dmabuf_version_; }
  wl_display *display() const noexcept { return display_; }
  const DisplayInfo &info() const noexcept { return *info_; }
  static void on_frame_done(void *data, wl_callback *callback, uint32_t time); // wl_callback_listener

private:
  SurfaceLink() = default;
  Status bind_dmabuf(std::chrono::milliseconds timeout);

  wl_display *display_ = nullptr;
  std::shared_ptr<const DisplayInfo> info_;
  QueueRef queue_; // first: released last
  Owned<wl_display, destroy_wrapper<wl_display>> display_wrapper_;
  Owned<wl_surface, destroy_wrapper<wl_surface>> surface_wrapper_;
  Owned<zwp_linux_dmabuf_v1, destroy_dmabuf> dmabuf_;
  Owned<wl_callback, destroy_proxy<wl_callback>> frame_callback_;
  uint32_t surface_version_ = 0;
  uint32_t dmabuf_version_ = 0;
};

} // namespace sfw::wl
