// TEST DOUBLE, not product code: the double's test interface (test_double.h), found in the test process by
// name. For the tests that load VK_LAYER_SYNCFILE_test_double below syncfile-wsi (tests/vm).
#pragma once

#include "test_double.h"
#include "validation_log.hpp" // SFW_VALIDATION_DIR (tests/vm)

#include <dlfcn.h>
#include <stdlib.h>

#include <string>

namespace sfw::test {

struct DoubleApi {
  void *handle = nullptr;
  PFN_sfw_test_double_dmabufs dmabufs = nullptr;
  PFN_sfw_test_double_dmabuf_of_image dmabuf_of_image = nullptr;
  PFN_sfw_test_double_arm_gate arm_gate = nullptr;
  PFN_sfw_test_double_open_gate open_gate = nullptr;
  PFN_sfw_test_double_window window = nullptr;
  PFN_sfw_test_double_get_stats get_stats = nullptr;
  PFN_sfw_test_double_hold_fences hold_fences = nullptr;

  // The loader has loaded the double (from its manifest) by now; RTLD_NOLOAD finds it without loading.
  bool find() {
    handle = dlopen(SFW_TEST_DOUBLE_LIB, RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return false;
    dmabufs = reinterpret_cast<PFN_sfw_test_double_dmabufs>(dlsym(handle, "sfw_test_double_dmabufs"));
    dmabuf_of_image = reinterpret_cast<PFN_sfw_test_double_dmabuf_of_image>(dlsym(handle, "sfw_test_double_dmabuf_of_image"));
    arm_gate = reinterpret_cast<PFN_sfw_test_double_arm_gate>(dlsym(handle, "sfw_test_double_arm_gate"));
    open_gate = reinterpret_cast<PFN_sfw_test_double_open_gate>(dlsym(handle, "sfw_test_double_open_gate"));
    window = reinterpret_cast<PFN_sfw_test_double_window>(dlsym(handle, "sfw_test_double_window"));
    get_stats = reinterpret_cast<PFN_sfw_test_double_get_stats>(dlsym(handle, "sfw_test_double_get_stats"));
    hold_fences = reinterpret_cast<PFN_sfw_test_double_hold_fences>(dlsym(handle, "sfw_test_double_hold_fences"));
    return hold_fences && dmabufs && dmabuf_of_image && arm_gate && open_gate && window && get_stats;
  }
  sfw_test_double_stats stats() const {
    sfw_test_double_stats s{};
    get_stats(&s);
    return s;
  }
  void release() {
    if (handle != nullptr) dlclose(handle);
    *this = DoubleApi{};
  }
};

// syncfile-wsi over the double, the validation layer below both (what reaches the driver), the layer logging at
// info (VK_LAYER_PATH's directory order is the stack's: loader 1.3.239 keeps the found order).
inline void use_layer_over_double_validation_below() {
  setenv("VK_LAYER_PATH", SFW_LAYER_MANIFEST_DIR ":" SFW_TEST_DOUBLE_MANIFEST_DIR ":" SFW_VALIDATION_DIR, 1);
  setenv("VK_INSTANCE_LAYERS", "VK_LAYER_SYNCFILE_wsi:VK_LAYER_SYNCFILE_test_double:VK_LAYER_KHRONOS_validation", 1);
  setenv("SYNCFILE_WSI_LOG", "info", 1);
}

// What a present whose submit the double gated (arm_gate, window around vkQueuePresentKHR) did wrong, from the
// stats before it and at the window's close; empty when it signalled one exportable semaphore, exported it as
// SYNC_FD and waited for nothing on the CPU.
inline std::string gated_present_problems(const sfw_test_double_stats &before, const sfw_test_double_stats &during) {
  std::string p;
  if (during.gated_submits - before.gated_submits != 1) p += "the present's submit signalled no exportable semaphore; ";
  if (during.gated_exports - before.gated_exports != 1) p += "present did not export the frame's semaphore as SYNC_FD; ";
  if (during.window_wait_for_fences != before.window_wait_for_fences) p += "vkWaitForFences inside vkQueuePresentKHR; ";
  if (during.window_queue_wait_idle != before.window_queue_wait_idle) p += "vkQueueWaitIdle inside vkQueuePresentKHR; ";
  if (during.window_device_wait_idle != before.window_device_wait_idle) p += "vkDeviceWaitIdle inside vkQueuePresentKHR; ";
  if (during.errors != 0) p += std::string("the double: ") + during.last_error;
  return p;
}

} // namespace sfw::test
