// syncfile-wsi-info: the facts it gathers from the kernel, the Vulkan drivers, the compositor and the
// layer's installation, and the verdict. One probe per file; report.cpp prints them.
#pragma once

#include "kernel/unique_fd.hpp"
#include "swapchain/driver_facts.hpp"
#include "swapchain/mode.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace sfw::info {

struct KernelInfo {
  std::string release;                    // uname -r
  Tristate sync_file = Tristate::unknown; // DMA_BUF_IOCTL_EXPORT/IMPORT_SYNC_FILE
  std::string probed_on;                  // which dma-buf answered ("memory exported by llvmpipe", "udmabuf", ...)
  std::string reason;                     // the probe's answer, or why no dma-buf could be made
};

struct VulkanInfo {
  bool instance_ok = false;
  std::string error;                // why there is no instance or no device
  std::vector<DriverFacts> devices; // in the loader's order
};

struct DmabufPair {
  uint32_t format;
  uint64_t modifier;
};

struct CompositorInfo {
  std::string display;   // the WAYLAND_DISPLAY it tried
  bool connected = false;
  std::string error;     // why not connected, or what went wrong after
  // Global versions; 0: not offered.
  uint32_t linux_dmabuf = 0, explicit_sync = 0, drm_syncobj = 0, presentation = 0, tearing_control = 0, fifo = 0;
  std::vector<DmabufPair> dmabuf_formats; // zwp_linux_dmabuf_v1 v3 format/modifier events (bound at min(version, 3))
  bool formats_complete = false;          // the roundtrip after binding finished in time
};

struct Manifest {
  std::string path;
  bool implicit = false;
  std::string library_path;   // as written in the manifest
  bool library_found = false;
  std::string enable_env, enable_value, disable_env; // implicit manifests' environment keys
  bool enabled = false;       // by the current environment
  std::string why;            // what enables or disables it
};

struct InstallInfo {
  std::vector<std::string> searched; // directories, in the loader's order
  std::vector<Manifest> manifests;   // every manifest naming VK_LAYER_SYNCFILE_wsi
  bool found() const { return !manifests.empty(); }
  bool enabled() const;
};

struct DeviceVerdict {
  ModeFacts facts;
  ModeDecision decision;
  std::vector<DmabufPair> common; // (fourcc, modifier) pairs both sides support for a swapchain format
};

struct Report {
  KernelInfo kernel;
  VulkanInfo vulkan;
  CompositorInfo compositor;
  InstallInfo install;
  std::vector<DeviceVerdict> verdicts; // one per vulkan.devices entry
  int chosen_device = 0;
  int exit_code = 3;
  std::string summary; // the one-line verdict for the chosen device
};

// Probes (each never throws out of itself for an expected failure; each says what is missing).
KernelInfo probe_kernel(kernel::UniqueFd driver_dmabuf, const std::string &driver_source);
InstallInfo probe_install();
CompositorInfo probe_compositor(int timeout_ms);
// Removes the layer from this process's environment, then asks the loader. `dmabuf_out` gets a dma-buf
// exported by the first device that can (for the kernel probe), `dmabuf_source` says which.
VulkanInfo probe_vulkan(kernel::UniqueFd *dmabuf_out, std::string *dmabuf_source);

void decide(Report *report);
void print_text(const Report &report, bool verbose);
void print_json(const Report &report);

} // namespace sfw::info
