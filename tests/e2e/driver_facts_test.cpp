// query_driver_facts against the real loader and lavapipe (the layer disabled). On a host without
// /dev/udmabuf (this project's build host) lavapipe cannot export dma-bufs and has no SYNC_FD;
// where udmabuf is usable (the VM), it has both.
#include <gtest/gtest.h>
#include <unistd.h>
#include <vulkan/vulkan.h>

#include <algorithm>
#include <string>
#include <vector>

#include "swapchain/driver_facts.hpp"

using namespace sfw;

namespace {

struct Instance {
  VkInstance handle = VK_NULL_HANDLE;
  Instance() {
    const char *exts[] = {VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME};
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pApplicationInfo = &app;
    info.enabledExtensionCount = 1;
    info.ppEnabledExtensionNames = exts;
    EXPECT_EQ(vkCreateInstance(&info, nullptr, &handle), VK_SUCCESS);
  }
  ~Instance() { vkDestroyInstance(handle, nullptr); }
};

VkPhysicalDevice find_lavapipe(VkInstance instance) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance, &n, nullptr);
  std::vector<VkPhysicalDevice> devices(n);
  vkEnumeratePhysicalDevices(instance, &n, devices.data());
  for (VkPhysicalDevice d : devices) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(d, &p);
    if (std::string(p.deviceName).find("llvmpipe") != std::string::npos) return d;
  }
  return VK_NULL_HANDLE;
}

bool has(const std::vector<std::string> &list, const char *name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

} // namespace

TEST(DriverFactsLavapipe, MatchesWhatThisKernelLetsItDo) {
  setenv("DISABLE_SYNCFILE_WSI", "1", 1);
  Instance instance;
  ASSERT_NE(instance.handle, VK_NULL_HANDLE);
  VkPhysicalDevice lavapipe = find_lavapipe(instance.handle);
  if (lavapipe == VK_NULL_HANDLE) GTEST_SKIP() << "no lavapipe device";

  DriverFacts f = query_driver_facts(driver_queries_from(vkGetInstanceProcAddr, instance.handle), lavapipe);
  EXPECT_NE(f.device_name.find("llvmpipe"), std::string::npos);
  EXPECT_FALSE(f.extensions.empty());
  EXPECT_FALSE(f.layer_would_enable.empty());
  EXPECT_TRUE(has(f.layer_would_enable, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME));
  for (const std::string &e : f.layer_would_enable) EXPECT_TRUE(has(f.extensions, e.c_str())) << e;
  ASSERT_EQ(f.formats.size(), std::size(kSwapchainFormats));

  ModeFacts m;
  apply_driver_facts(f, &m);
  bool udmabuf = access("/dev/udmabuf", R_OK | W_OK) == 0;
  if (!udmabuf) {
    EXPECT_TRUE(f.ext_dmabuf) << "lavapipe lists the extension (import only)";
    EXPECT_FALSE(m.dmabuf_image_export);
    for (const auto &s : f.formats) EXPECT_TRUE(exportable_modifiers(f, s.format).empty()) << s.format;
    EXPECT_FALSE(f.semaphore_sync_fd_export || f.semaphore_sync_fd_import);
    EXPECT_FALSE(f.fence_sync_fd_export || f.fence_sync_fd_import);
    EXPECT_FALSE(m.fence_sync_fd_import || m.semaphore_sync_fd_export);
  } else {
    EXPECT_TRUE(m.dmabuf_image_export);
    EXPECT_TRUE(m.semaphore_sync_fd_export && m.fence_sync_fd_import && m.queue_family_foreign);
    EXPECT_EQ(exportable_modifiers(f, VK_FORMAT_B8G8R8A8_UNORM), std::vector<uint64_t>{0}) << "LINEAR only";
  }
}
