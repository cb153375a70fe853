#include "mode.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "log.hpp"

namespace sfw {

const char *to_string(Mode mode) noexcept {
  switch (mode) {
  case Mode::drm_syncobj: return "drm-syncobj";
  case Mode::syncfile: return "syncfile";
  case Mode::cpu_wait: return "cpu-wait";
  case Mode::passthrough: return "passthrough";
  }
  return "?";
}

bool parse_mode_request(const char *text, ModeRequest *out) noexcept {
  struct Name { const char *name; ModeRequest request; };
  static constexpr Name names[] = {{"auto", ModeRequest::automatic}, {"drm-syncobj", ModeRequest::drm_syncobj},
                                   {"syncfile", ModeRequest::syncfile},
                                   {"cpu-wait", ModeRequest::cpu_wait}, {"passthrough", ModeRequest::passthrough}};
  for (const Name &n : names)
    if (text != nullptr && strcasecmp(text, n.name) == 0) {
      *out = n.request;
      return true;
    }
  return false;
}

ModeRequest mode_request_from_env() noexcept {
  static const ModeRequest request = [] {
    const char *text = std::getenv("SYNCFILE_WSI_MODE");
    ModeRequest r = ModeRequest::automatic;
    // Bad configuration gets a warning and the default at every log level (as SYNCFILE_WSI_LOG does).
    char shown[160];
    if (text != nullptr && *text != '\0' && !parse_mode_request(text, &r))
      fprintf(stderr,
              "syncfile-wsi: warning: SYNCFILE_WSI_MODE=\"%s\" is not one of auto, drm-syncobj, syncfile, cpu-wait, "
              "passthrough; "
              "using auto\n",
              printable(text, shown, sizeof shown));
    return r;
  }();
  return request;
}

namespace {
void add(std::string &reasons, const char *reason) {
  if (!reasons.empty()) reasons += ", ";
  reasons += reason;
}

// Reasons the layer cannot own the swapchain at all; empty when it can.
std::string passthrough_reasons(const ModeFacts &f) {
  std::string r;
  if (!f.dmabuf_image_export) add(r, "driver cannot export swapchain images as dma-bufs");
  if (!f.fence_sync_fd_import) add(r, "driver cannot import SYNC_FD into fences");
  if (!f.queue_family_foreign) add(r, "driver lacks VK_EXT_queue_family_foreign");
  if (!f.compositor_dmabuf) add(r, "compositor lacks zwp_linux_dmabuf_v1");
  else if (!f.common_format) add(r, "no format and modifier in common with the compositor");
  return r;
}

// Reasons syncfile mode cannot work where the layer owns the swapchain; empty when it can.
std::string cpu_wait_reasons(const ModeFacts &f) {
  std::string r;
  if (!f.semaphore_sync_fd_export) add(r, "driver cannot export SYNC_FD from semaphores");
  if (f.kernel_sync_file == Tristate::no) add(r, "kernel lacks the dma-buf sync_file ioctls (Linux < 6.0)");
  return r;
}

// Reasons drm-syncobj mode cannot work where the layer owns the swapchain; empty when it can. It needs the same
// of the driver as syncfile, but not the dma-buf ioctls: the sync_files go through timeline points instead.
std::string drm_syncobj_reasons(const ModeFacts &f) {
  std::string r;
  if (!f.semaphore_sync_fd_export) add(r, "driver cannot export SYNC_FD from semaphores");
  if (!f.compositor_drm_syncobj) add(r, "compositor lacks wp_linux_drm_syncobj_v1");
  if (!f.render_node_timelines) add(r, "no render node with DRM syncobj timelines");
  return r;
}
} // namespace

ModeDecision decide_mode(const ModeFacts &facts, ModeRequest request) {
  ModeDecision d;
  std::string no_ownership = passthrough_reasons(facts);
  std::string no_syncfile = no_ownership.empty() ? cpu_wait_reasons(facts) : std::string();
  std::string no_syncobj = no_ownership.empty() ? drm_syncobj_reasons(facts) : std::string();
  Mode automatic = !no_ownership.empty() ? Mode::passthrough
                   : no_syncobj.empty()  ? Mode::drm_syncobj
                   : no_syncfile.empty() ? Mode::syncfile
                                         : Mode::cpu_wait;

  switch (request) {
  case ModeRequest::passthrough:
    d.mode = Mode::passthrough;
    d.reasons = "SYNCFILE_WSI_MODE=passthrough";
    return d;
  case ModeRequest::cpu_wait:
    if (no_ownership.empty()) {
      d.mode = Mode::cpu_wait;
      d.reasons = "SYNCFILE_WSI_MODE=cpu-wait";
      return d;
    }
    d.request_ignored = true;
    break;
  case ModeRequest::drm_syncobj:
    if (automatic == Mode::drm_syncobj) {
      d.mode = Mode::drm_syncobj;
      d.reasons = "SYNCFILE_WSI_MODE=drm-syncobj";
      return d;
    }
    d.request_ignored = true;
    break;
  case ModeRequest::syncfile:
    if (no_ownership.empty() && no_syncfile.empty()) {
      d.mode = Mode::syncfile;
      d.reasons = "SYNCFILE_WSI_MODE=syncfile";
      return d;
    }
    d.request_ignored = true;
    break;
  case ModeRequest::automatic: break;
  }
  d.mode = automatic;
  if (automatic == Mode::passthrough) d.reasons = no_ownership;
  else if (automatic == Mode::cpu_wait) d.reasons = no_syncfile;
  else if (automatic == Mode::drm_syncobj) d.reasons = "driver, compositor and render node ready";
  else if (!no_syncobj.empty() && facts.compositor_drm_syncobj)
    d.reasons = "no drm-syncobj: " + no_syncobj + "; " +
                (facts.kernel_sync_file == Tristate::unknown ? "driver, compositor ready; kernel sync_file ioctls probed on the first image"
                                                             : "driver, compositor and kernel ready");
  else
    d.reasons = facts.kernel_sync_file == Tristate::unknown
                    ? "driver, compositor ready; kernel sync_file ioctls probed on the first image"
                    : "driver, compositor and kernel ready";
  if (d.request_ignored)
    d.reasons = "forced mode cannot work (" +
                (!no_ownership.empty() ? no_ownership : request == ModeRequest::drm_syncobj ? no_syncobj : no_syncfile) +
                "); auto: " + d.reasons;
  return d;
}

} // namespace sfw
