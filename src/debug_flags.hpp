// SYNCFILE_WSI_DEBUG: comma-separated test hooks, parsed once, here, for the whole layer.
#pragma once

namespace sfw {

struct DebugFlags {
  bool corrupt_stride = false; // plane 0's stride grows by 2^24 so the local check refuses every buffer
  bool no_immed = false;       // never use create_immed
  // The layer's first buffer attempt announces wl::kDebugUnofferedModifier (memory laid out LINEAR): a
  // modifier the compositor did not offer, sent past the local format check, so that weston's
  // `create` answers `failed` and the layer's fallback runs.
  bool unoffered_modifier_first = false;
  bool no_semaphore_import = false; // acquire never loads the app's semaphore: the lazy path
  bool no_presentation = false;     // present ids complete at frame callbacks, as without wp_presentation
  bool ownership_transfers = false; // the FOREIGN transfers even on a CPU device (needs_ownership_transfers)
  // fail-import-at=N: the process's Nth DMA_BUF_IOCTL_IMPORT_SYNC_FILE fails with EINVAL (through the
  // kernel interface's test seam), so tests reach the in-place degradation to cpu-wait. 0: never.
  long fail_import_at = 0;
  // fail-syncobj-at=N / syncobj-emfile-at=N: the Nth sync_file import into a timeline point at present fails
  // with EINVAL / EMFILE (the syncobj test seam), so tests reach drm-syncobj's degradation to syncfile. 0: never.
  long fail_syncobj_at = 0;
  long syncobj_emfile_at = 0;
};

const DebugFlags &debug_flags() noexcept; // from the environment, read once
DebugFlags parse_debug_flags(const char *value) noexcept;

} // namespace sfw
