// The layer under the real Vulkan loader and lavapipe: GetProcAddr answers by what the app
// enabled, intercepted entry points resolve into the layer, and an empty submit goes through.
// Run with the layer enabled explicitly (meson sets VK_LAYER_PATH and VK_INSTANCE_LAYERS).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <string>
#include <vector>

namespace {

struct Instance {
  VkInstance handle = VK_NULL_HANDLE;
  explicit Instance(uint32_t api, std::vector<const char *> exts = {}) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = api;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    info.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    info.ppEnabledExtensionNames = exts.data();
    EXPECT_EQ(vkCreateInstance(&info, nullptr, &handle), VK_SUCCESS);
  }
  ~Instance() { vkDestroyInstance(handle, nullptr); }
  VkPhysicalDevice first_device() const {
    uint32_t n = 1;
    VkPhysicalDevice phys = VK_NULL_HANDLE;
    VkResult r = vkEnumeratePhysicalDevices(handle, &n, &phys);
    EXPECT_TRUE(r == VK_SUCCESS || r == VK_INCOMPLETE);
    return phys;
  }
};

struct Device {
  VkDevice handle = VK_NULL_HANDLE;
  Device(VkPhysicalDevice phys, std::vector<const char *> exts) {
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;
    VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue;
    info.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    info.ppEnabledExtensionNames = exts.data();
    EXPECT_EQ(vkCreateDevice(phys, &info, nullptr, &handle), VK_SUCCESS);
  }
  ~Device() { vkDestroyDevice(handle, nullptr); }
};

std::string library_of(PFN_vkVoidFunction fn) {
  Dl_info info{};
  if (fn == nullptr || dladdr(reinterpret_cast<void *>(fn), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

bool in_layer(PFN_vkVoidFunction fn) { return library_of(fn).find("libVkLayer_syncfile_wsi.so") != std::string::npos; }

// The layer's own vkGetDeviceProcAddr, as the loader calls it when it builds its dispatch table.
// (The loader answers some names itself, such as vkGetDeviceQueue and core commands, with its
// trampolines; the gate is the layer's answer.)
PFN_vkGetDeviceProcAddr layer_gdpa(VkDevice device) {
  std::string path = library_of(vkGetDeviceProcAddr(device, "vkQueueSubmit"));
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(lib, nullptr) << path;
  if (lib == nullptr) return nullptr;
  auto gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(dlsym(lib, "vkGetDeviceProcAddr"));
  dlclose(lib);
  return gdpa;
}

} // namespace

TEST(Loader, LayerIsListedAndLoaded) {
  uint32_t n = 0;
  ASSERT_EQ(vkEnumerateInstanceLayerProperties(&n, nullptr), VK_SUCCESS);
  std::vector<VkLayerProperties> layers(n);
  ASSERT_EQ(vkEnumerateInstanceLayerProperties(&n, layers.data()), VK_SUCCESS);
  bool found = false;
  for (auto &l : layers) found |= std::strcmp(l.layerName, "VK_LAYER_SYNCFILE_wsi") == 0;
  EXPECT_TRUE(found);

  Instance inst(VK_API_VERSION_1_0);
  Device dev(inst.first_device(), {});
  EXPECT_TRUE(in_layer(vkGetDeviceProcAddr(dev.handle, "vkQueueSubmit")));
  EXPECT_TRUE(in_layer(layer_gdpa(dev.handle)(dev.handle, "vkGetDeviceQueue")));
  // Everything else goes straight to the driver.
  PFN_vkVoidFunction create_buffer = vkGetDeviceProcAddr(dev.handle, "vkCreateBuffer");
  ASSERT_NE(create_buffer, nullptr);
  EXPECT_FALSE(in_layer(create_buffer));
}

TEST(Loader, DeviceExtensionsAnsweredByWhatTheAppEnabled) {
  Instance inst(VK_API_VERSION_1_0, {"VK_KHR_surface", "VK_KHR_wayland_surface"});
  VkPhysicalDevice phys = inst.first_device();
  {
    Device plain(phys, {});
    EXPECT_EQ(vkGetDeviceProcAddr(plain.handle, "vkCreateSwapchainKHR"), nullptr);
    EXPECT_EQ(vkGetDeviceProcAddr(plain.handle, "vkQueuePresentKHR"), nullptr);
    // Core 1.3 and 1.1 entry points stay hidden from a 1.0 app.
    PFN_vkGetDeviceProcAddr gdpa = layer_gdpa(plain.handle);
    ASSERT_NE(gdpa, nullptr);
    EXPECT_EQ(gdpa(plain.handle, "vkQueueSubmit2"), nullptr);
    EXPECT_EQ(gdpa(plain.handle, "vkGetDeviceQueue2"), nullptr);
    EXPECT_TRUE(in_layer(gdpa(plain.handle, "vkQueueSubmit")));
  }
  {
    Device wsi(phys, {"VK_KHR_swapchain"});
    EXPECT_TRUE(in_layer(vkGetDeviceProcAddr(wsi.handle, "vkCreateSwapchainKHR")));
    EXPECT_TRUE(in_layer(vkGetDeviceProcAddr(wsi.handle, "vkQueuePresentKHR")));
    EXPECT_TRUE(in_layer(vkGetDeviceProcAddr(wsi.handle, "vkAcquireNextImageKHR")));
  }
}

TEST(Loader, CoreVersionGates) {
  Instance inst(VK_API_VERSION_1_3);
  Device dev(inst.first_device(), {});
  PFN_vkGetDeviceProcAddr gdpa = layer_gdpa(dev.handle);
  ASSERT_NE(gdpa, nullptr);
  EXPECT_TRUE(in_layer(gdpa(dev.handle, "vkQueueSubmit2")));
  EXPECT_TRUE(in_layer(gdpa(dev.handle, "vkGetDeviceQueue2")));
  EXPECT_TRUE(in_layer(gdpa(dev.handle, "vkSetPrivateData")));
  EXPECT_EQ(gdpa(dev.handle, "vkQueueSubmit2KHR"), nullptr); // extension not enabled
  EXPECT_EQ(gdpa(dev.handle, "vkAcquireFullScreenExclusiveModeEXT"), nullptr); // hidden carrier
}

TEST(Loader, InstanceExtensionsAnsweredByWhatTheAppEnabled) {
  {
    Instance bare(VK_API_VERSION_1_0);
    EXPECT_EQ(vkGetInstanceProcAddr(bare.handle, "vkCreateWaylandSurfaceKHR"), nullptr);
  }
  Instance wsi(VK_API_VERSION_1_0, {"VK_KHR_surface", "VK_KHR_wayland_surface"});
  EXPECT_NE(vkGetInstanceProcAddr(wsi.handle, "vkCreateWaylandSurfaceKHR"), nullptr);
}

TEST(Loader, EmptySubmitsGoThrough) {
  Instance inst(VK_API_VERSION_1_3);
  Device dev(inst.first_device(), {});
  VkQueue queue = VK_NULL_HANDLE;
  vkGetDeviceQueue(dev.handle, 0, 0, &queue);
  ASSERT_NE(queue, nullptr);
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  for (int i = 0; i < 100; ++i) ASSERT_EQ(vkQueueSubmit(queue, 1, &submit, VK_NULL_HANDLE), VK_SUCCESS);
  VkSubmitInfo2 submit2{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
  auto submit2_fn = reinterpret_cast<PFN_vkQueueSubmit2>(vkGetDeviceProcAddr(dev.handle, "vkQueueSubmit2"));
  ASSERT_NE(submit2_fn, nullptr);
  ASSERT_EQ(submit2_fn(queue, 1, &submit2, VK_NULL_HANDLE), VK_SUCCESS);
  EXPECT_EQ(vkQueueWaitIdle(queue), VK_SUCCESS);
}

// The free fast path under churn: one thread creates and destroys devices while another submits on a
// device of its own, through the layer's lock-free dispatch-key snapshot. scripts/test also runs this
// under ThreadSanitizer.
TEST(Loader, SubmitsWhileOtherDevicesComeAndGo) {
  Instance inst(VK_API_VERSION_1_1);
  VkPhysicalDevice phys = inst.first_device();
  Device mine(phys, {});
  VkQueue queue = VK_NULL_HANDLE;
  vkGetDeviceQueue(mine.handle, 0, 0, &queue);
  ASSERT_NE(queue, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0};
  std::thread submitter([&] {
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    while (!stop.load()) {
      if (vkQueueSubmit(queue, 1, &submit, VK_NULL_HANDLE) != VK_SUCCESS) break;
      submitted.fetch_add(1);
    }
  });
  for (int i = 0; i < 20; ++i) Device churn(phys, {});
  // Bounded: the submitter must have made progress before it is stopped.
  for (int i = 0; i < 100000 && submitted.load() == 0; ++i) std::this_thread::yield();
  stop = true;
  submitter.join();
  EXPECT_GT(submitted.load(), 0);
  EXPECT_EQ(vkQueueWaitIdle(queue), VK_SUCCESS);
}
