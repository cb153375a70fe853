#include "wayland/display_info.hpp"

#include "kernel/unique_fd.hpp"
#include "log.hpp"
#include "wayland/dispatch.hpp"
#include "wayland/owners.hpp"

#include "linux-dmabuf-v1-client-protocol.h"

#include <wayland-client-protocol.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <sys/mman.h>

namespace sfw::wl {

bool DisplayInfo::supports(FormatModifier fm) const noexcept {
  return std::find(dmabuf.begin(), dmabuf.end(), fm) != dmabuf.end();
}

bool DisplayInfo::supports_format(uint32_t format) const noexcept {
  return std::any_of(dmabuf.begin(), dmabuf.end(), [&](const FormatModifier &fm) { return fm.format == format; });
}

namespace {

// ---- the per-display cache ---------------------------------------------------------------------------
struct CacheEntry {
  std::shared_ptr<const DisplayInfo> info;
  std::vector<FormatModifier> known_good;
};

struct Cache {
  std::mutex mutex;
  std::map<wl_display *, CacheEntry> entries;
};

Cache &cache() {
  static Cache instance; // function-local: safe against static initialisation order
  return instance;
}

// ---- the query's event handlers ----------------------------------------------------------------------
struct Query {
  DisplayInfo info;
  uint32_t dmabuf_name = 0, shm_name = 0;
  uint32_t dmabuf_advertised = 0;
  std::vector<FormatModifier> table; // v4 format table
  bool feedback_done = false;
  bool feedback_bad = false;
};

void registry_global(void *data, wl_registry *, uint32_t name, const char *interface, uint32_t version) {
  auto *q = static_cast<Query *>(data);
  if (strcmp(interface, zwp_linux_dmabuf_v1_interface.name) == 0) {
    q->dmabuf_name = name;
    q->dmabuf_advertised = version;
  } else if (strcmp(interface, "wl_shm") == 0) {
    q->shm_name = name;
  } else if (strcmp(interface, "wp_tearing_control_manager_v1") == 0) {
    q->info.tearing_control = true;
  } else if (strcmp(interface, "zwp_linux_explicit_synchronization_v1") == 0) {
    q->info.explicit_sync = true;
  } else if (strcmp(interface, "wp_presentation") == 0) {
    q->info.presentation = true;
  } else if (strcmp(interface, "wp_linux_drm_syncobj_manager_v1") == 0) {
    q->info.drm_syncobj = true;
  }
}
void registry_global_remove(void *, wl_registry *, uint32_t) {}
const wl_registry_listener registry_listener = {registry_global, registry_global_remove};

void add_pair(Query *q, FormatModifier fm) {
  if (!q->info.supports(fm)) q->info.dmabuf.push_back(fm);
}

// Before v3 only `format` exists and means "this format, implicit modifier".
void dmabuf_format(void *data, zwp_linux_dmabuf_v1 *dmabuf, uint32_t format) {
  if (proxy_version(dmabuf) < ZWP_LINUX_DMABUF_V1_MODIFIER_SINCE_VERSION)
    add_pair(static_cast<Query *>(data), {format, kModifierInvalid});
}
void dmabuf_modifier(void *data, zwp_linux_dmabuf_v1 *, uint32_t format, uint32_t hi, uint32_t lo) {
  add_pair(static_cast<Query *>(data), {format, (uint64_t{hi} << 32) | lo});
}
const zwp_linux_dmabuf_v1_listener dmabuf_listener = {dmabuf_format, dmabuf_modifier};

void feedback_done(void *data, zwp_linux_dmabuf_feedback_v1 *) { static_cast<Query *>(data)->feedback_done = true; }
void feedback_format_table(void *data, zwp_linux_dmabuf_feedback_v1 *, int32_t fd, uint32_t size) {
  auto *q = static_cast<Query *>(data);
  kernel::UniqueFd owned(fd); // ours now, whatever happens
  q->table.clear();
  void *map = size == 0 ? MAP_FAILED : mmap(nullptr, size, PROT_READ, MAP_PRIVATE, owned.get(), 0);
  if (map == MAP_FAILED) {
    SFW_WARN("wayland: cannot map the dma-buf format table (%u bytes, errno %d)", size, errno);
    q->feedback_bad = true;
    return;
  }
  if (!parse_format_table(map, size, &q->table)) {
    SFW_WARN("wayland: malformed dma-buf format table (%u bytes)", size);
    q->feedback_bad = true;
  }
  munmap(map, size);
}
void feedback_main_device(void *, zwp_linux_dmabuf_feedback_v1 *, wl_array *) {}
void feedback_tranche_done(void *, zwp_linux_dmabuf_feedback_v1 *) {}
void feedback_tranche_target_device(void *, zwp_linux_dmabuf_feedback_v1 *, wl_array *) {}
void feedback_tranche_formats(void *data, zwp_linux_dmabuf_feedback_v1 *, wl_array *indices) {
  auto *q = static_cast<Query *>(data);
  if (!select_from_tranche(q->table, indices->data, indices->size, &q->info.dmabuf)) {
    SFW_WARN("wayland: dma-buf tranche with %zu bytes of indices does not fit a %zu-entry table", indices->size,
             q->table.size());
    q->feedback_bad = true;
  }
}
void feedback_tranche_flags(void *, zwp_linux_dmabuf_feedback_v1 *, uint32_t) {}
const zwp_linux_dmabuf_feedback_v1_listener feedback_listener = {
    feedback_done,         feedback_format_table,          feedback_main_device,   feedback_tranche_done,
    feedback_tranche_target_device, feedback_tranche_formats, feedback_tranche_flags};

void shm_format(void *data, wl_shm *, uint32_t format) {
  auto &formats = static_cast<Query *>(data)->info.shm_formats;
  if (std::find(formats.begin(), formats.end(), format) == formats.end()) formats.push_back(format);
}
const wl_shm_listener shm_listener = {shm_format};

Status ask_compositor(wl_display *display, std::chrono::milliseconds timeout, DisplayInfo *out) {
  QueueRef queue = make_queue(display);
  if (!queue) return Status::failed;
  auto wrapper = wrap_on_queue(display, queue.get());
  if (!wrapper) return Status::failed;
  Query q;
  Owned<wl_registry, destroy_proxy<wl_registry>> registry(wl_display_get_registry(wrapper.get()));
  if (!registry) return Status::failed;
  wl_registry_add_listener(registry.get(), &registry_listener, &q);
  Status s = roundtrip(display, wrapper.get(), queue.get(), deadline_after(timeout));
  if (s != Status::ok) return s;

  // Declared after `queue`: destroyed before it, on every path.
  Owned<zwp_linux_dmabuf_v1, zwp_linux_dmabuf_v1_destroy> dmabuf;
  Owned<zwp_linux_dmabuf_feedback_v1, zwp_linux_dmabuf_feedback_v1_destroy> feedback;
  Owned<wl_shm, destroy_proxy<wl_shm>> shm; // v1 has no release request (and 1.21's wl_shm_interface none)
  if (q.dmabuf_name != 0) {
    // v4 replaces the format events with feedback; newer versions we do not know are not asked for.
    const uint32_t version = std::min<uint32_t>(q.dmabuf_advertised, 4);
    dmabuf.reset(static_cast<zwp_linux_dmabuf_v1 *>(
        wl_registry_bind(registry.get(), q.dmabuf_name, &zwp_linux_dmabuf_v1_interface, version)));
    if (!dmabuf) return Status::failed;
    q.info.dmabuf_version = version;
    if (version >= ZWP_LINUX_DMABUF_V1_GET_DEFAULT_FEEDBACK_SINCE_VERSION) {
      feedback.reset(zwp_linux_dmabuf_v1_get_default_feedback(dmabuf.get()));
      if (!feedback) return Status::failed;
      zwp_linux_dmabuf_feedback_v1_add_listener(feedback.get(), &feedback_listener, &q);
      q.info.dmabuf_feedback = true;
    } else {
      zwp_linux_dmabuf_v1_add_listener(dmabuf.get(), &dmabuf_listener, &q);
    }
  }
  if (q.shm_name != 0) {
    shm.reset(static_cast<wl_shm *>(wl_registry_bind(registry.get(), q.shm_name, &wl_shm_interface, 1)));
    if (shm) wl_shm_add_listener(shm.get(), &shm_listener, &q);
  }
  // The compositor answers a bind with all of its format events at once: one roundtrip collects them.
  s = roundtrip(display, wrapper.get(), queue.get(), deadline_after(timeout));
  if (s != Status::ok) return s;
  if (feedback && (!q.feedback_done || q.feedback_bad))
    SFW_WARN("wayland: incomplete dma-buf feedback (done %d, malformed %d); using %zu pairs", q.feedback_done,
             q.feedback_bad, q.info.dmabuf.size());
  *out = std::move(q.info);
  return Status::ok;
}

} // namespace

Status query_display(wl_display *display, std::chrono::milliseconds timeout, DisplayInfo *out) {
  if (auto info = cached_display_info(display)) {
    *out = *info;
    return Status::ok;
  }
  // Asked without the lock: a stalled compositor must not block other displays. Two threads may both ask;
  // the first answer stays.
  DisplayInfo info;
  Status s = ask_compositor(display, timeout, &info);
  if (s != Status::ok) {
    SFW_WARN("wayland: querying the compositor failed: %s", to_string(s));
    return s;
  }
  SFW_INFO("wayland: zwp_linux_dmabuf_v1 v%u with %zu format/modifier pairs%s; tearing control %d, explicit sync %d, "
           "presentation %d, drm syncobj %d",
           info.dmabuf_version, info.dmabuf.size(), info.dmabuf_feedback ? " (feedback)" : "", info.tearing_control,
           info.explicit_sync, info.presentation, info.drm_syncobj);
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  CacheEntry &entry = c.entries[display];
  if (!entry.info) entry.info = std::make_shared<const DisplayInfo>(std::move(info));
  *out = *entry.info;
  return Status::ok;
}

std::shared_ptr<const DisplayInfo> cached_display_info(wl_display *display) {
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.entries.find(display);
  return it == c.entries.end() ? nullptr : it->second.info;
}

void forget_display(wl_display *display) {
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  c.entries.erase(display);
}

bool is_known_good(wl_display *display, FormatModifier fm) {
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.entries.find(display);
  if (it == c.entries.end()) return false;
  const auto &good = it->second.known_good;
  return std::find(good.begin(), good.end(), fm) != good.end();
}

void mark_known_good(wl_display *display, FormatModifier fm) {
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  auto &good = c.entries[display].known_good;
  if (std::find(good.begin(), good.end(), fm) == good.end()) good.push_back(fm);
}

} // namespace sfw::wl
