#include "wayland/present_feedback.hpp"

#include "log.hpp"

#include "presentation-time-client-protocol.h"

#include <wayland-client-protocol.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sfw::wl {

void destroy_presentation(wp_presentation *presentation) { wp_presentation_destroy(presentation); }

struct PresentFeedback::Entry {
  PresentFeedback *owner = nullptr;
  uint64_t id = 0;
  wl_proxy *proxy = nullptr; // a wp_presentation_feedback or a wl_callback
  Clock::time_point committed{};
  Entry *prev = nullptr, *next = nullptr;
};

namespace {

void on_sync_output(void *, struct wp_presentation_feedback *, wl_output *) {}
void on_presented(void *data, struct wp_presentation_feedback *, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                  uint32_t) {
  auto *e = static_cast<PresentFeedback::Entry *>(data);
  e->owner->complete(e);
}
// A discarded commit was replaced before it was shown: its id completes all the same (Mesa's rule), or a
// MAILBOX app would wait for ids the compositor never shows.
void on_discarded(void *data, struct wp_presentation_feedback *) {
  auto *e = static_cast<PresentFeedback::Entry *>(data);
  e->owner->complete(e);
}
const wp_presentation_feedback_listener feedback_listener = {on_sync_output, on_presented, on_discarded};

void on_frame_done(void *data, wl_callback *, uint32_t) {
  auto *e = static_cast<PresentFeedback::Entry *>(data);
  e->owner->complete(e);
}
const wl_callback_listener frame_listener = {on_frame_done};

struct GlobalSearch {
  uint32_t name = 0;
};
void on_global(void *data, wl_registry *, uint32_t name, const char *interface, uint32_t) {
  if (strcmp(interface, wp_presentation_interface.name) == 0) static_cast<GlobalSearch *>(data)->name = name;
}
void on_global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {on_global, on_global_remove};

void unlink(PresentFeedback::Entry **list, PresentFeedback::Entry *e) noexcept {
  if (e->prev != nullptr) e->prev->next = e->next;
  else *list = e->next;
  if (e->next != nullptr) e->next->prev = e->prev;
  e->prev = e->next = nullptr;
}
void push(PresentFeedback::Entry **list, PresentFeedback::Entry *e) noexcept {
  e->prev = nullptr;
  e->next = *list;
  if (*list != nullptr) (*list)->prev = e;
  *list = e;
}

} // namespace

HostUnique<PresentFeedback> PresentFeedback::create(wl_display *display, wl_surface *surface, bool use_presentation,
                                                    std::chrono::milliseconds hidden_bound,
                                                    std::chrono::milliseconds timeout, Status *status) {
  HostUnique<PresentFeedback> pf = host_new_with<PresentFeedback>([](void *m) { return new (m) PresentFeedback; });
  pf->display_ = display;
  pf->hidden_bound_ = hidden_bound;
  pf->host_ = HostAllocator::current();
  *status = Status::failed;
  pf->queue_ = make_queue(display);
  if (!pf->queue_) return nullptr;
  pf->surface_wrapper_ = wrap_on_queue(surface, pf->queue_.get());
  if (!pf->surface_wrapper_) return nullptr;
  if (use_presentation) {
    // A fresh registry and a roundtrip on this queue, as for the link's zwp_linux_dmabuf_v1.
    auto display_wrapper = wrap_on_queue(display, pf->queue_.get());
    if (!display_wrapper) return nullptr;
    GlobalSearch found;
    Owned<wl_registry, destroy_proxy<wl_registry>> registry(wl_display_get_registry(display_wrapper.get()));
    if (!registry) return nullptr;
    wl_registry_add_listener(registry.get(), &registry_listener, &found);
    *status = roundtrip(display, display_wrapper.get(), pf->queue_.get(), deadline_after(timeout));
    if (*status != Status::ok) return nullptr;
    if (found.name != 0)
      pf->presentation_.reset(static_cast<wp_presentation *>(
          wl_registry_bind(registry.get(), found.name, &wp_presentation_interface, 1)));
    if (!pf->presentation_) SFW_INFO("wayland: no wp_presentation after all: present ids complete at frame callbacks");
  }
  *status = Status::ok;
  return pf;
}

PresentFeedback::~PresentFeedback() {
  // No thread waits any more (the app destroys a swapchain only when nothing uses it).
  for (Entry **list : {&live_, &free_})
    while (Entry *e = *list) {
      unlink(list, e);
      if (e->proxy != nullptr) wl_proxy_destroy(e->proxy);
      e->~Entry();
      host_.free(e, sizeof(Entry), alignof(Entry));
    }
}

void PresentFeedback::complete(Entry *e) noexcept {
  std::lock_guard lock(mutex_);
  retire_locked(e);
}

void PresentFeedback::retire_locked(Entry *e) noexcept {
  // Ids only grow (VUID-VkPresentIdKHR-presentIds-04999): an id completes every smaller one.
  uint64_t seen = completed_.load(std::memory_order_relaxed);
  while (seen < e->id && !completed_.compare_exchange_weak(seen, e->id, std::memory_order_acq_rel)) {
  }
  // After its event the compositor's side is gone; before it (expired), a late event finds a zombie, which
  // libwayland discards.
  wl_proxy_destroy(e->proxy);
  e->proxy = nullptr;
  unlink(&live_, e);
  push(&free_, e);
}

Clock::time_point PresentFeedback::expire_locked(Clock::time_point now) noexcept {
  Clock::time_point next = Clock::time_point::max();
  for (Entry *e = live_, *after = nullptr; e != nullptr; e = after) {
    after = e->next;
    if (now - e->committed >= hidden_bound_) {
      expired_.fetch_add(1, std::memory_order_relaxed);
      retire_locked(e);
    } else {
      next = std::min(next, e->committed + hidden_bound_);
    }
  }
  return next;
}

Status PresentFeedback::dispatch_pending_locked(std::unique_lock<std::mutex> &lock) noexcept {
  if (dispatching_) return Status::ok; // the dispatching thread will see them
  dispatching_ = true;
  lock.unlock();
  int r = wl_display_dispatch_queue_pending(display_, queue_.get());
  lock.lock();
  dispatching_ = false;
  dispatched_.notify_all();
  return r < 0 ? Status::lost : Status::ok;
}

Status PresentFeedback::request(uint64_t id) noexcept {
  std::unique_lock lock(mutex_);
  // Events another reader already queued here: handled now, so the records are recycled even when no
  // thread ever waits.
  if (dispatch_pending_locked(lock) != Status::ok) return Status::lost;
  Entry *e = free_;
  if (e != nullptr) {
    unlink(&free_, e);
  } else {
    try {
      e = new (host_.allocate(sizeof(Entry), alignof(Entry))) Entry;
    } catch (const std::bad_alloc &) {
      return Status::failed;
    }
  }
  e->owner = this;
  e->id = id;
  e->committed = Clock::now();
  if (presentation_) {
    auto *fb = wp_presentation_feedback(presentation_.get(), surface_wrapper_.get());
    if (fb != nullptr) wp_presentation_feedback_add_listener(fb, &feedback_listener, e);
    e->proxy = reinterpret_cast<wl_proxy *>(fb);
  } else {
    auto *cb = wl_surface_frame(surface_wrapper_.get());
    if (cb != nullptr) wl_callback_add_listener(cb, &frame_listener, e);
    e->proxy = reinterpret_cast<wl_proxy *>(cb);
  }
  if (e->proxy == nullptr) {
    push(&free_, e);
    return Status::failed;
  }
  push(&live_, e);
  uint64_t seen = requested_.load(std::memory_order_relaxed);
  if (id > seen) requested_.store(id, std::memory_order_release);
  return Status::ok;
}

Status PresentFeedback::wait(uint64_t id, Clock::time_point deadline) noexcept {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (completed() >= id) return Status::ok;
    if (wl_display_get_error(display_) != 0) return Status::lost;
    const Clock::time_point until = std::min(deadline, expire_locked(Clock::now()));
    if (completed() >= id) return Status::ok;
    if (dispatching_) { // another waiter reads for us
      if (dispatched_.wait_until(lock, until) == std::cv_status::timeout && completed() < id && until == deadline)
        return Status::timeout;
      continue;
    }
    dispatching_ = true;
    lock.unlock();
    Status s = dispatch_until(display_, queue_.get(), [&] { return completed() >= id; }, until);
    lock.lock();
    dispatching_ = false;
    dispatched_.notify_all();
    if (completed() >= id) return Status::ok;
    if (s == Status::lost || (s == Status::timeout && until == deadline)) return s;
  }
}

} // namespace sfw::wl
