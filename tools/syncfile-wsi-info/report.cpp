// The report: readable text with yes/no marks by default, the same facts as JSON with --json.
#include "info.hpp"

#include <drm_fourcc.h>
#include <xf86drm.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sfw::info {
namespace {

const char *yn(bool b) { return b ? "yes" : "no"; }
const char *tri(Tristate t) { return t == Tristate::yes ? "yes" : t == Tristate::no ? "no" : "unknown"; }

const char *format_name(VkFormat f) {
  switch (f) {
  case VK_FORMAT_B8G8R8A8_UNORM: return "B8G8R8A8_UNORM";
  case VK_FORMAT_B8G8R8A8_SRGB: return "B8G8R8A8_SRGB";
  case VK_FORMAT_R8G8B8A8_UNORM: return "R8G8B8A8_UNORM";
  case VK_FORMAT_R8G8B8A8_SRGB: return "R8G8B8A8_SRGB";
  case VK_FORMAT_A2R10G10B10_UNORM_PACK32: return "A2R10G10B10_UNORM_PACK32";
  case VK_FORMAT_A2B10G10R10_UNORM_PACK32: return "A2B10G10R10_UNORM_PACK32";
  case VK_FORMAT_R16G16B16A16_UNORM: return "R16G16B16A16_UNORM";
  case VK_FORMAT_R16G16B16A16_SFLOAT: return "R16G16B16A16_SFLOAT";
  case VK_FORMAT_R5G6B5_UNORM_PACK16: return "R5G6B5_UNORM_PACK16";
  default: return "?";
  }
}

const char *device_type(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
  default: return "other";
  }
}

std::string version(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

// The DRM name of the swapchain formats ("ARGB8888"), else the fourcc's four characters.
std::string fourcc_name(uint32_t format) {
  switch (format) {
  case DRM_FORMAT_ARGB8888: return "ARGB8888";
  case DRM_FORMAT_XRGB8888: return "XRGB8888";
  case DRM_FORMAT_ABGR8888: return "ABGR8888";
  case DRM_FORMAT_XBGR8888: return "XBGR8888";
  default: break;
  }
  char *name = drmGetFormatName(format);
  std::string s = name != nullptr ? name : std::to_string(format);
  free(name);
  return s;
}

std::string modifier_name(uint64_t modifier) {
  if (modifier == DRM_FORMAT_MOD_INVALID) return "INVALID";
  if (modifier == DRM_FORMAT_MOD_LINEAR) return "LINEAR";
  char *name = drmGetFormatModifierName(modifier);
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%016" PRIx64, modifier);
  std::string s = name != nullptr ? std::string(name) + " (" + hex + ")" : hex;
  free(name);
  return s;
}

std::string join(const std::vector<std::string> &items, const char *sep = ", ") {
  std::string out;
  for (const std::string &i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// Compositor pairs grouped by format: "ARGB8888: LINEAR, INVALID".
std::vector<std::string> grouped_formats(const CompositorInfo &c, bool only_common) {
  std::vector<uint32_t> order;
  for (const DmabufPair &p : c.dmabuf_formats)
    if (std::find(order.begin(), order.end(), p.format) == order.end()) order.push_back(p.format);
  std::vector<std::string> lines;
  for (uint32_t f : order) {
    bool swapchain = f == DRM_FORMAT_ARGB8888 || f == DRM_FORMAT_XRGB8888 || f == DRM_FORMAT_ABGR8888 || f == DRM_FORMAT_XBGR8888;
    if (only_common && !swapchain) continue;
    std::vector<std::string> mods;
    for (const DmabufPair &p : c.dmabuf_formats)
      if (p.format == f) mods.push_back(modifier_name(p.modifier));
    lines.push_back(fourcc_name(f) + ": " + join(mods));
  }
  return lines;
}

void global_line(const char *name, uint32_t version) {
  if (version == 0) std::printf("  %-40s no\n", name);
  else std::printf("  %-40s yes (version %u)\n", name, version);
}

} // namespace

namespace {
// Whether an app would get VK_KHR_present_id and VK_KHR_present_wait (the layer's exposure rule, README).
std::string present_wait_answer(const Report &r, size_t device) {
  const DriverFacts &d = r.vulkan.devices[device];
  const bool driver = d.has_extension("VK_KHR_present_id") && d.has_extension("VK_KHR_present_wait");
  if (r.verdicts[device].decision.mode == Mode::passthrough)
    return driver ? "yes, the driver's own" : "no: the driver has none and the layer passes this surface through";
  std::string how = r.compositor.presentation != 0 ? "from wp_presentation feedback" : "from frame callbacks (no wp_presentation)";
  return "yes, the layer's, " + how +
         (driver ? "" : "; hidden from an instance that also enables a non-Wayland surface platform (the driver has none)");
}
} // namespace

void print_text(const Report &r, bool verbose) {
  std::printf("Kernel\n  %-40s %s\n", "release", r.kernel.release.c_str());
  std::printf("  %-40s %s: %s%s%s\n", "dma-buf sync_file ioctls", tri(r.kernel.sync_file), r.kernel.reason.c_str(),
              r.kernel.probed_on.empty() ? "" : ", probed on ", r.kernel.probed_on.c_str());

  std::printf("\nVulkan devices (asked with the layer disabled)\n");
  if (r.vulkan.devices.empty()) std::printf("  none: %s\n", r.vulkan.error.c_str());
  for (size_t i = 0; i < r.vulkan.devices.size(); ++i) {
    const DriverFacts &d = r.vulkan.devices[i];
    std::printf("  [%zu] %s (%s, Vulkan %s)%s\n", i, d.device_name.c_str(), device_type(d.device_type),
                version(d.api_version).c_str(), static_cast<int>(i) == r.chosen_device ? "  <- decides the exit status" : "");
    std::printf("    %-38s %s\n", "dma-buf extensions", (std::string("external_memory_fd ") + yn(d.ext_external_memory_fd) +
                                                          ", external_memory_dma_buf " + yn(d.ext_dmabuf) +
                                                          ", image_drm_format_modifier " + yn(d.ext_drm_format_modifier)).c_str());
    for (const DriverFacts::FormatSupport &f : d.formats) {
      std::vector<std::string> mods;
      for (const DriverFacts::Modifier &m : f.modifiers)
        mods.push_back(modifier_name(m.modifier) + " " + std::to_string(m.plane_count) + " plane" +
                       (m.plane_count == 1 ? "" : "s") + (m.exportable ? " exportable" : " not exportable"));
      std::printf("    dma-buf export %-23s %s (LINEAR %s%s%s)\n", format_name(f.format),
                  yn(!exportable_modifiers(d, f.format).empty()), yn(f.dmabuf_export_linear),
                  mods.empty() ? "" : "; modifiers: ", join(mods).c_str());
    }
    std::printf("    %-38s import %s, export %s%s\n", "SYNC_FD semaphores", yn(d.semaphore_sync_fd_import),
                yn(d.semaphore_sync_fd_export), d.ext_semaphore_fd ? "" : " (no VK_KHR_external_semaphore_fd)");
    std::printf("    %-38s import %s, export %s%s\n", "SYNC_FD fences", yn(d.fence_sync_fd_import), yn(d.fence_sync_fd_export),
                d.ext_fence_fd ? "" : " (no VK_KHR_external_fence_fd)");
    std::printf("    %-38s %s\n", "VK_EXT_queue_family_foreign", yn(d.ext_queue_family_foreign));
    std::printf("    %-38s %s\n", "the layer would enable",
                d.layer_would_enable.empty() ? "nothing" : join(d.layer_would_enable).c_str());
    if (verbose) std::printf("    %-38s %s\n", "device extensions", join(d.extensions).c_str());
  }

  std::printf("\nCompositor (%s)\n", r.compositor.display.c_str());
  if (!r.compositor.connected) std::printf("  none: %s\n", r.compositor.error.c_str());
  else {
    if (!r.compositor.error.empty()) std::printf("  incomplete: %s\n", r.compositor.error.c_str());
    global_line("zwp_linux_dmabuf_v1", r.compositor.linux_dmabuf);
    if (r.compositor.linux_dmabuf > 0 && r.compositor.linux_dmabuf < 3)
      std::printf("    (version %u has no modifier events: the layer needs version 3)\n", r.compositor.linux_dmabuf);
    std::vector<std::string> lines = grouped_formats(r.compositor, !verbose);
    for (const std::string &l : lines) std::printf("    %s\n", l.c_str());
    size_t all = grouped_formats(r.compositor, false).size();
    if (!verbose && all > lines.size()) std::printf("    (%zu more formats: --verbose lists them)\n", all - lines.size());
    global_line("zwp_linux_explicit_synchronization_v1", r.compositor.explicit_sync);
    global_line("wp_linux_drm_syncobj_manager_v1", r.compositor.drm_syncobj);
    global_line("wp_presentation", r.compositor.presentation);
    global_line("wp_tearing_control_manager_v1", r.compositor.tearing_control);
    global_line("wp_fifo_manager_v1", r.compositor.fifo);
  }

  std::printf("\nInstallation\n");
  if (!r.install.found()) {
    std::printf("  manifest for VK_LAYER_SYNCFILE_wsi: not found; searched:\n");
    for (const std::string &d : r.install.searched) std::printf("    %s\n", d.c_str());
  }
  for (const Manifest &m : r.install.manifests) {
    std::printf("  %s manifest %s\n", m.implicit ? "implicit" : "explicit", m.path.c_str());
    std::printf("    %-38s %s: %s\n", "library", m.library_path.c_str(), m.library_found ? "found" : "NOT found");
    std::printf("    %-38s %s (%s)\n", "enabled in this environment", yn(m.enabled), m.why.c_str());
  }

  std::printf("\nVerdict (SYNCFILE_WSI_MODE=%s)%s\n", std::getenv("SYNCFILE_WSI_MODE") ? std::getenv("SYNCFILE_WSI_MODE") : "auto",
              r.compositor.connected ? "" : ", as if the compositor offered nothing");
  for (size_t i = 0; i < r.verdicts.size(); ++i) {
    const DeviceVerdict &v = r.verdicts[i];
    std::vector<std::string> common;
    for (const DmabufPair &p : v.common) common.push_back(fourcc_name(p.format) + " " + modifier_name(p.modifier));
    std::printf("  [%zu] %s: mode %s (%s)\n", i, r.vulkan.devices[i].device_name.c_str(), to_string(v.decision.mode),
                v.decision.reasons.c_str());
    if (r.compositor.connected)
      std::printf("      %-36s %s\n", "formats in common", common.empty() ? "none" : join(common).c_str());
    std::printf("      %-36s %s\n", "present id and present wait", present_wait_answer(r, i).c_str());
  }
  std::printf("=> %s\n", r.summary.c_str());
}

namespace {
std::string q(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}
const char *b(bool v) { return v ? "true" : "false"; }
std::string qlist(const std::vector<std::string> &items) {
  std::vector<std::string> quoted;
  for (const std::string &i : items) quoted.push_back(q(i));
  return "[" + join(quoted) + "]";
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"0x%" PRIx64 "\"", v);
  return buf;
}
} // namespace

void print_json(const Report &r) {
  std::printf("{\n  \"kernel\": {\"release\": %s, \"sync_file\": %s, \"probed_on\": %s, \"reason\": %s},\n",
              q(r.kernel.release).c_str(), q(tri(r.kernel.sync_file)).c_str(), q(r.kernel.probed_on).c_str(),
              q(r.kernel.reason).c_str());
  std::printf("  \"vulkan\": {\"error\": %s, \"devices\": [", q(r.vulkan.error).c_str());
  for (size_t i = 0; i < r.vulkan.devices.size(); ++i) {
    const DriverFacts &d = r.vulkan.devices[i];
    const DeviceVerdict &v = r.verdicts[i];
    std::printf("%s\n    {\"index\": %zu, \"name\": %s, \"type\": %s, \"api_version\": %s,\n", i ? "," : "", i,
                q(d.device_name).c_str(), q(device_type(d.device_type)).c_str(), q(version(d.api_version)).c_str());
    std::printf("     \"ext_external_memory_fd\": %s, \"ext_dmabuf\": %s, \"ext_drm_format_modifier\": %s, "
                "\"ext_semaphore_fd\": %s, \"ext_fence_fd\": %s, \"ext_queue_family_foreign\": %s,\n",
                b(d.ext_external_memory_fd), b(d.ext_dmabuf), b(d.ext_drm_format_modifier), b(d.ext_semaphore_fd),
                b(d.ext_fence_fd), b(d.ext_queue_family_foreign));
    std::printf("     \"formats\": [");
    for (size_t j = 0; j < d.formats.size(); ++j) {
      const DriverFacts::FormatSupport &f = d.formats[j];
      std::printf("%s\n       {\"format\": %s, \"dmabuf_export\": %s, \"dmabuf_export_linear\": %s, \"modifiers\": [",
                  j ? "," : "", q(format_name(f.format)).c_str(), b(!exportable_modifiers(d, f.format).empty()),
                  b(f.dmabuf_export_linear));
      for (size_t k = 0; k < f.modifiers.size(); ++k)
        std::printf("%s{\"modifier\": %s, \"name\": %s, \"planes\": %u, \"exportable\": %s}", k ? ", " : "",
                    hex(f.modifiers[k].modifier).c_str(), q(modifier_name(f.modifiers[k].modifier)).c_str(),
                    f.modifiers[k].plane_count, b(f.modifiers[k].exportable));
      std::printf("]}");
    }
    std::printf("],\n     \"semaphore_sync_fd\": {\"import\": %s, \"export\": %s}, \"fence_sync_fd\": {\"import\": %s, "
                "\"export\": %s},\n",
                b(d.semaphore_sync_fd_import), b(d.semaphore_sync_fd_export), b(d.fence_sync_fd_import),
                b(d.fence_sync_fd_export));
    std::printf("     \"layer_would_enable\": %s,\n     \"extensions\": %s,\n", qlist(d.layer_would_enable).c_str(),
                qlist(d.extensions).c_str());
    std::vector<std::string> common;
    for (const DmabufPair &p : v.common) common.push_back(fourcc_name(p.format) + ":" + modifier_name(p.modifier));
    std::printf("     \"common_formats\": %s, \"mode\": %s, \"reasons\": %s, \"present_wait\": %s}", qlist(common).c_str(),
                q(to_string(v.decision.mode)).c_str(), q(v.decision.reasons).c_str(), q(present_wait_answer(r, i)).c_str());
  }
  const CompositorInfo &c = r.compositor;
  std::printf("]},\n  \"compositor\": {\"display\": %s, \"connected\": %s, \"error\": %s,\n", q(c.display).c_str(),
              b(c.connected), q(c.error).c_str());
  std::printf("    \"globals\": {\"zwp_linux_dmabuf_v1\": %u, \"zwp_linux_explicit_synchronization_v1\": %u, "
              "\"wp_linux_drm_syncobj_manager_v1\": %u, \"wp_presentation\": %u, \"wp_tearing_control_manager_v1\": %u, "
              "\"wp_fifo_manager_v1\": %u},\n    \"dmabuf_formats\": [",
              c.linux_dmabuf, c.explicit_sync, c.drm_syncobj, c.presentation, c.tearing_control, c.fifo);
  for (size_t i = 0; i < c.dmabuf_formats.size(); ++i)
    std::printf("%s{\"format\": %s, \"modifier\": %s}", i ? ", " : "", q(fourcc_name(c.dmabuf_formats[i].format)).c_str(),
                hex(c.dmabuf_formats[i].modifier).c_str());
  std::printf("]},\n  \"install\": {\"found\": %s, \"enabled\": %s, \"searched\": %s, \"manifests\": [", b(r.install.found()),
              b(r.install.enabled()), qlist(r.install.searched).c_str());
  for (size_t i = 0; i < r.install.manifests.size(); ++i) {
    const Manifest &m = r.install.manifests[i];
    std::printf("%s\n    {\"path\": %s, \"implicit\": %s, \"library_path\": %s, \"library_found\": %s, \"enabled\": %s, "
                "\"why\": %s}",
                i ? "," : "", q(m.path).c_str(), b(m.implicit), q(m.library_path).c_str(), b(m.library_found),
                b(m.enabled), q(m.why).c_str());
  }
  const bool have = r.chosen_device < static_cast<int>(r.verdicts.size());
  std::printf("]},\n  \"verdict\": {\"device\": %d, \"mode\": %s, \"summary\": %s, \"exit_code\": %d}\n}\n",
              r.chosen_device, have ? q(to_string(r.verdicts[r.chosen_device].decision.mode)).c_str() : "null",
              q(r.summary).c_str(), r.exit_code);
}

} // namespace sfw::info
