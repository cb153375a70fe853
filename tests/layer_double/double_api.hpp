// TEST DOUBLE, not product code: the double's test interface (test_double.h), found in the test process by
// name. For the tests that load VK_LAYER_SYNCFILE_test_double below syncfile-wsi (tests/vm).
#pragma once

#include "test_double.h"

#include <dlfcn.h>

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

} // namespace sfw::test
