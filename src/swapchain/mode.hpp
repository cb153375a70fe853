// The modes table (issue 4): which mode the layer uses for a (physical device, surface), and why.
// Pure code shared by the layer and syncfile-wsi-info, so both decide the same way.
#pragma once

#include <string>

namespace sfw {

// drm_syncobj: wp_linux_drm_syncobj_v1 timeline points; syncfile: the dma-buf's implicit fences through sync_files;
// cpu_wait: CPU waits; passthrough: the driver's own WSI.
enum class Mode { drm_syncobj, syncfile, cpu_wait, passthrough };
const char *to_string(Mode mode) noexcept;

enum class Tristate { unknown, yes, no };

// What the driver, the compositor and the kernel offer. Unknown kernel support (no dma-buf to
// probe on yet) decides tentatively for syncfile; the first swapchain image settles it.
struct ModeFacts {
  // Driver
  bool dmabuf_image_export = false;      // exportable dma-buf memory for a swapchain-format image
  bool fence_sync_fd_import = false;     // SYNC_FD import into VkFence (acquire fences)
  bool semaphore_sync_fd_import = false; // SYNC_FD import into VkSemaphore (else the lazy path)
  bool semaphore_sync_fd_export = false; // SYNC_FD export from binary semaphores (present)
  bool queue_family_foreign = false;     // VK_EXT_queue_family_foreign: the compositor's reads
  // Compositor
  bool compositor_dmabuf = false;        // zwp_linux_dmabuf_v1
  bool common_format = false;            // a format and modifier both sides support
  bool compositor_drm_syncobj = false;   // wp_linux_drm_syncobj_manager_v1
  // The layer's own render node with DRM syncobj timelines (kernel/drm_syncobj.hpp), probed once
  bool render_node_timelines = false;
  // Kernel: DMA_BUF_IOCTL_EXPORT/IMPORT_SYNC_FILE (Linux 6.0)
  Tristate kernel_sync_file = Tristate::unknown;
};

// SYNCFILE_WSI_MODE=auto|drm-syncobj|syncfile|cpu-wait|passthrough
enum class ModeRequest { automatic, drm_syncobj, syncfile, cpu_wait, passthrough };
// Reads SYNCFILE_WSI_MODE once; garbage warns once and gives automatic.
ModeRequest mode_request_from_env() noexcept;
bool parse_mode_request(const char *text, ModeRequest *out) noexcept;

struct ModeDecision {
  Mode mode = Mode::passthrough;
  std::string reasons;      // why, for the one log line (and syncfile-wsi-info)
  bool request_ignored = false; // a forced mode that cannot work: warned, decided as auto
};

ModeDecision decide_mode(const ModeFacts &facts, ModeRequest request);

} // namespace sfw
