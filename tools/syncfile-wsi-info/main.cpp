// syncfile-wsi-info: what the kernel, the Vulkan drivers, the compositor and the layer's installation
// offer, and the mode the layer would choose (the layer's own decision code). See --help.
#include "kernel/drm_syncobj.hpp"
#include "info.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sfw::info {

namespace {
constexpr int kExitUsage = 64;
constexpr int kCompositorTimeoutMs = 3000;

const char *const kUsage =
    "Usage: syncfile-wsi-info [--json] [--device N] [--verbose]\n"
    "Reports what the kernel, the Vulkan drivers, the Wayland compositor (WAYLAND_DISPLAY) and the\n"
    "installation offer syncfile-wsi, and the mode the layer would choose on device N (default 0).\n"
    "  --json       the same facts as JSON\n"
    "  --device N   the device whose verdict sets the exit status (the loader's order)\n"
    "  --verbose    list every compositor format and device extension\n"
    "Exit status: 0 drm-syncobj or syncfile, 1 cpu-wait, 2 passthrough or not installed/enabled,\n"
    "             3 cannot tell (no compositor or no Vulkan device), 64 usage error.\n";

int exit_code_for(Mode mode) {
  switch (mode) {
  case Mode::drm_syncobj:
  case Mode::syncfile: return 0;
  case Mode::cpu_wait: return 1;
  case Mode::passthrough: return 2;
  }
  return 2;
}
} // namespace

void decide(Report *r) {
  const ModeRequest request = mode_request_from_env();
  for (const DriverFacts &d : r->vulkan.devices) {
    DeviceVerdict v;
    apply_driver_facts(d, &v.facts);
    // As the layer decides (layer/surface.cpp): version 3 or later (modifier events), and any swapchain
    // format exporting with a modifier the compositor lists for its DRM format, alpha or opaque.
    v.facts.compositor_dmabuf = r->compositor.linux_dmabuf >= 3;
    for (VkFormat f : kSwapchainFormats) {
      std::vector<uint64_t> mods = exportable_modifiers(d, f);
      for (const DmabufPair &p : r->compositor.dmabuf_formats)
        if ((p.format == drm_fourcc_for(f, false) || p.format == drm_fourcc_for(f, true)) &&
            std::find(mods.begin(), mods.end(), p.modifier) != mods.end() &&
            std::none_of(v.common.begin(), v.common.end(),
                         [&](const DmabufPair &c) { return c.format == p.format && c.modifier == p.modifier; }))
          v.common.push_back(p);
    }
    v.facts.common_format = !v.common.empty();
    v.facts.kernel_sync_file = r->kernel.sync_file;
    v.facts.compositor_drm_syncobj = r->compositor.drm_syncobj != 0;
    v.facts.render_node_timelines = v.facts.compositor_drm_syncobj && kernel::RenderNode::available();
    v.decision = decide_mode(v.facts, request);
    r->verdicts.push_back(v);
  }

  const bool have_device = r->chosen_device < static_cast<int>(r->verdicts.size());
  std::string mode_text;
  if (have_device) {
    const DeviceVerdict &v = r->verdicts[r->chosen_device];
    mode_text = std::string(to_string(v.decision.mode)) + " (" + v.decision.reasons + ")";
  }
  if (!r->install.found()) {
    r->exit_code = 2;
    r->summary = "not installed: the Vulkan loader finds no manifest for VK_LAYER_SYNCFILE_wsi";
  } else if (!r->compositor.connected || !r->compositor.error.empty()) {
    r->exit_code = 3;
    r->summary = (r->compositor.connected ? "cannot tell: the compositor at " + r->compositor.display + " failed"
                                          : "cannot tell: no compositor at " + r->compositor.display) +
                 " (" + r->compositor.error + ")";
    if (have_device && r->verdicts[r->chosen_device].decision.mode == Mode::passthrough)
      r->summary += "; the driver alone already means passthrough";
  } else if (!have_device) {
    r->exit_code = 3;
    r->summary = "cannot tell: " + (r->vulkan.error.empty() ? std::string("no Vulkan device") : r->vulkan.error);
  } else if (!r->install.enabled()) {
    r->exit_code = 2;
    r->summary = "installed but not enabled in this environment (" + r->install.manifests.front().why +
                 "); when enabled: mode " + mode_text;
  } else {
    r->exit_code = exit_code_for(r->verdicts[r->chosen_device].decision.mode);
    r->summary = "mode " + mode_text;
  }
}

} // namespace sfw::info

int main(int argc, char **argv) {
  using namespace sfw::info;
  bool json = false, verbose = false;
  long device = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (std::strcmp(a, "--json") == 0) json = true;
    else if (std::strcmp(a, "--verbose") == 0 || std::strcmp(a, "-v") == 0) verbose = true;
    else if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (std::strcmp(a, "--device") == 0 || std::strncmp(a, "--device=", 9) == 0) {
      const char *value = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : nullptr);
      char *end = nullptr;
      device = value != nullptr ? std::strtol(value, &end, 10) : -1;
      if (value == nullptr || *value == '\0' || *end != '\0' || device < 0 || device > 255) {
        std::fprintf(stderr, "syncfile-wsi-info: --device needs a device index\n%s", kUsage);
        return kExitUsage;
      }
    } else {
      std::fprintf(stderr, "syncfile-wsi-info: unknown argument \"%s\"\n%s", a, kUsage);
      return kExitUsage;
    }
  }

  Report r;
  r.chosen_device = static_cast<int>(device);
  r.install = probe_install(); // first: the Vulkan probe changes this process's environment
  r.compositor = probe_compositor(kCompositorTimeoutMs);
  sfw::kernel::UniqueFd dmabuf;
  std::string dmabuf_source;
  r.vulkan = probe_vulkan(&dmabuf, &dmabuf_source);
  if (!r.vulkan.devices.empty() && r.chosen_device >= static_cast<int>(r.vulkan.devices.size())) {
    std::fprintf(stderr, "syncfile-wsi-info: no device %d: there are %zu\n", r.chosen_device, r.vulkan.devices.size());
    return kExitUsage;
  }
  r.kernel = probe_kernel(std::move(dmabuf), dmabuf_source);
  decide(&r);
  if (json) print_json(r);
  else print_text(r, verbose);
  return r.exit_code;
}
