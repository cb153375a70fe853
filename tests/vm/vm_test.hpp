// What the tests/vm programs that run on real parts share: whether they are in the VM (weston and /dev/udmabuf),
// and the layer stack with the validation layer above or below syncfile-wsi.
#pragma once

#include "validation_log.hpp"
#include "weston.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sfw::test {

inline bool in_vm() { return weston_installed() && access("/dev/udmabuf", R_OK | W_OK) == 0; }

// Above: the validation layer judges the app's calls against what the layer offers. Below: it checks what the
// layer hands the driver.
enum class ValidationAt { above, below };

// syncfile-wsi from `layer_dir` with the validation layer where asked (VK_INSTANCE_LAYERS lists from the app down;
// loader 1.3.239 has no VK_ADD_LAYER_PATH, so the validation layer's directory joins VK_LAYER_PATH, ours first),
// the layer logging at info. False when vulkan-validationlayers is not installed.
inline bool use_validation(const char *layer_dir, ValidationAt at) {
  if (access(SFW_VALIDATION_DIR "/VkLayer_khronos_validation.json", R_OK) != 0) return false;
  setenv("VK_LAYER_PATH", (std::string(layer_dir) + ":" SFW_VALIDATION_DIR).c_str(), 1);
  setenv("VK_INSTANCE_LAYERS",
         at == ValidationAt::above ? "VK_LAYER_KHRONOS_validation:VK_LAYER_SYNCFILE_wsi"
                                   : "VK_LAYER_SYNCFILE_wsi:VK_LAYER_KHRONOS_validation",
         1);
  setenv("SYNCFILE_WSI_LOG", "info", 1);
  return true;
}

} // namespace sfw::test
