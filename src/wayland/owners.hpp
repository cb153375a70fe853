// Move-only owners for everything the layer creates on the app's wl_display. A raw proxy never outlives
// its owner, and every owner of a proxy on a private queue also holds that queue (declared first, so it is
// released last): libwayland requires a queue to outlive every proxy on it.
#pragma once

#include <wayland-client-core.h>

#include <memory>

#include "host_alloc.hpp"
#include <utility>

namespace sfw::wl {

// The private queue, shared by the link and the buffers made on it, so they may die in any order.
using QueueRef = std::shared_ptr<wl_event_queue>;

inline QueueRef make_queue(wl_display *display) {
  wl_event_queue *queue = wl_display_create_queue(display);
  if (queue == nullptr) return nullptr;
  // On std::bad_alloc, shared_ptr itself runs the deleter.
  return QueueRef(queue, [](wl_event_queue *q) { wl_event_queue_destroy(q); }, HostStl<wl_event_queue>());
}

template <typename T> void destroy_wrapper(T *proxy) { wl_proxy_wrapper_destroy(proxy); }
// For objects whose interface has no destroy request (wl_registry, wl_callback, old wl_shm).
template <typename T> void destroy_proxy(T *proxy) { wl_proxy_destroy(reinterpret_cast<wl_proxy *>(proxy)); }

// One proxy, destroyed with `Destroy` (the protocol's destroy request, wl_proxy_destroy, or
// wl_proxy_wrapper_destroy for wrappers).
template <typename T, void (*Destroy)(T *)> class Owned {
public:
  Owned() noexcept = default;
  explicit Owned(T *proxy) noexcept : p_(proxy) {}
  Owned(Owned &&other) noexcept : p_(other.release()) {}
  Owned &operator=(Owned &&other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Owned(const Owned &) = delete;
  Owned &operator=(const Owned &) = delete;
  ~Owned() { reset(); }

  T *get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  [[nodiscard]] T *release() noexcept { return std::exchange(p_, nullptr); }
  void reset(T *proxy = nullptr) noexcept {
    if (p_ != nullptr && p_ != proxy) Destroy(p_);
    p_ = proxy;
  }

private:
  T *p_ = nullptr;
};

// A wrapper of `proxy` whose requests put their new objects on `queue`: the app's proxy keeps its own
// queue, so none of the layer's events ever reach the app's default queue.
template <typename T> Owned<T, destroy_wrapper<T>> wrap_on_queue(T *proxy, wl_event_queue *queue) {
  auto *wrapper = static_cast<T *>(wl_proxy_create_wrapper(proxy));
  if (wrapper != nullptr) wl_proxy_set_queue(reinterpret_cast<wl_proxy *>(wrapper), queue);
  return Owned<T, destroy_wrapper<T>>(wrapper);
}

template <typename T> uint32_t proxy_version(T *proxy) {
  return wl_proxy_get_version(reinterpret_cast<wl_proxy *>(proxy));
}

} // namespace sfw::wl
