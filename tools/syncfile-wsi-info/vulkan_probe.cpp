// The Vulkan drivers, asked directly with the layer disabled in this process's environment, and a
// tiny dma-buf exported by the first driver that can (the kernel probe's preferred dma-buf).
#include "info.hpp"

#include <fnmatch.h>
#include <vulkan/vulkan.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace sfw::info {
namespace {

constexpr const char *kLayerName = "VK_LAYER_SYNCFILE_wsi";

// Keeps the items of a `sep`-separated list for which keep(item) is true.
template <typename Keep> void filter_env_list(const char *var, char sep, Keep keep) {
  const char *value = std::getenv(var);
  if (value == nullptr) return;
  std::string out, item;
  std::istringstream in(value);
  while (std::getline(in, item, sep)) {
    if (item.empty() || !keep(item)) continue;
    if (!out.empty()) out += sep;
    out += item;
  }
  setenv(var, out.c_str(), 1);
}

// The layer must not sit between this tool and the driver: disable the implicit manifest and drop
// every way the environment names the layer explicitly.
void disable_layer_in_environment() {
  setenv("DISABLE_SYNCFILE_WSI", "1", 1);
  filter_env_list("VK_INSTANCE_LAYERS", ':', [](const std::string &s) { return s != kLayerName; });
  filter_env_list("VK_LOADER_LAYERS_ENABLE", ',', [](const std::string &s) {
    return s != "~all~" && s != "~explicit~" && fnmatch(s.c_str(), kLayerName, FNM_CASEFOLD) != 0;
  });
}

const char *result_name(VkResult r) {
  switch (r) {
  case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver)";
  case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
  case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
  case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
  case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
  default: return "a Vulkan error";
  }
}

VkInstance create_instance(std::string *error) {
  uint32_t loader_version = VK_API_VERSION_1_0;
  auto enumerate_version =
      reinterpret_cast<PFN_vkEnumerateInstanceVersion>(vkGetInstanceProcAddr(nullptr, "vkEnumerateInstanceVersion"));
  if (enumerate_version != nullptr) enumerate_version(&loader_version);
  std::vector<const char *> wanted = {VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME,
                                      VK_KHR_EXTERNAL_MEMORY_CAPABILITIES_EXTENSION_NAME,
                                      VK_KHR_EXTERNAL_SEMAPHORE_CAPABILITIES_EXTENSION_NAME,
                                      VK_KHR_EXTERNAL_FENCE_CAPABILITIES_EXTENSION_NAME};
  uint32_t count = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> available(count);
  vkEnumerateInstanceExtensionProperties(nullptr, &count, available.data());
  available.resize(count);
  std::vector<const char *> enabled;
  for (const char *w : wanted)
    for (const VkExtensionProperties &a : available)
      if (std::strcmp(a.extensionName, w) == 0) enabled.push_back(w);

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "syncfile-wsi-info";
  app.apiVersion = loader_version >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;
  VkInstanceCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  info.pApplicationInfo = &app;
  info.enabledExtensionCount = static_cast<uint32_t>(enabled.size());
  info.ppEnabledExtensionNames = enabled.data();
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&info, nullptr, &instance);
  if (r != VK_SUCCESS) {
    *error = std::string("vkCreateInstance failed: ") + result_name(r);
    return VK_NULL_HANDLE;
  }
  return instance;
}

// A 4 KiB buffer in exportable dma-buf memory, exported; an invalid fd when the driver cannot.
kernel::UniqueFd export_dmabuf(VkInstance instance, VkPhysicalDevice phys, const DriverFacts &facts) {
  auto get_buffer_props = reinterpret_cast<PFN_vkGetPhysicalDeviceExternalBufferProperties>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceExternalBufferProperties"));
  if (get_buffer_props == nullptr)
    get_buffer_props = reinterpret_cast<PFN_vkGetPhysicalDeviceExternalBufferProperties>(
        vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceExternalBufferPropertiesKHR"));
  if (!facts.ext_dmabuf || !facts.ext_external_memory_fd || get_buffer_props == nullptr) return {};
  VkPhysicalDeviceExternalBufferInfo buffer_info{};
  buffer_info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO;
  buffer_info.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  buffer_info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  VkExternalBufferProperties buffer_props{};
  buffer_props.sType = VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES;
  get_buffer_props(phys, &buffer_info, &buffer_props);
  if (!(buffer_props.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT)) return {};

  std::vector<const char *> exts;
  for (const std::string &e : facts.layer_would_enable)
    if (e == VK_KHR_EXTERNAL_MEMORY_EXTENSION_NAME || e == VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME ||
        e == VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME)
      exts.push_back(e.c_str());
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue{};
  queue.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  queue.queueCount = 1;
  queue.pQueuePriorities = &priority;
  VkDeviceCreateInfo device_info{};
  device_info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue;
  device_info.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  device_info.ppEnabledExtensionNames = exts.data();
  VkDevice device = VK_NULL_HANDLE;
  if (vkCreateDevice(phys, &device_info, nullptr, &device) != VK_SUCCESS) return {};

  kernel::UniqueFd fd;
  auto get_fd = reinterpret_cast<PFN_vkGetMemoryFdKHR>(vkGetDeviceProcAddr(device, "vkGetMemoryFdKHR"));
  VkExternalMemoryBufferCreateInfo external{};
  external.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO;
  external.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
  VkBufferCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  create.pNext = &external;
  create.size = 4096;
  create.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  if (get_fd != nullptr && vkCreateBuffer(device, &create, nullptr, &buffer) == VK_SUCCESS) {
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device, buffer, &req);
    VkExportMemoryAllocateInfo export_info{};
    export_info.sType = VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO;
    export_info.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
    VkMemoryAllocateInfo alloc{};
    alloc.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    alloc.pNext = &export_info;
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = static_cast<uint32_t>(__builtin_ctz(req.memoryTypeBits | 0x80000000u));
    if (req.memoryTypeBits != 0 && vkAllocateMemory(device, &alloc, nullptr, &memory) == VK_SUCCESS &&
        vkBindBufferMemory(device, buffer, memory, 0) == VK_SUCCESS) {
      VkMemoryGetFdInfoKHR get{};
      get.sType = VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR;
      get.memory = memory;
      get.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT;
      int raw = -1;
      if (get_fd(device, &get, &raw) == VK_SUCCESS) fd.reset(raw); // an independent reference to the memory
    }
  }
  vkDestroyBuffer(device, buffer, nullptr);
  vkFreeMemory(device, memory, nullptr);
  vkDestroyDevice(device, nullptr);
  return fd;
}

} // namespace

VulkanInfo probe_vulkan(kernel::UniqueFd *dmabuf_out, std::string *dmabuf_source) {
  VulkanInfo v;
  disable_layer_in_environment();
  VkInstance instance = create_instance(&v.error);
  if (instance == VK_NULL_HANDLE) return v;
  v.instance_ok = true;
  uint32_t count = 0;
  VkResult r = vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  if (r == VK_SUCCESS && count > 0) r = vkEnumeratePhysicalDevices(instance, &count, devices.data());
  devices.resize(r == VK_SUCCESS || r == VK_INCOMPLETE ? count : 0);
  if (devices.empty()) v.error = "no Vulkan physical device";

  DriverQueries queries = driver_queries_from(vkGetInstanceProcAddr, instance);
  for (VkPhysicalDevice phys : devices) {
    v.devices.push_back(query_driver_facts(queries, phys));
    if (!dmabuf_out->valid()) {
      *dmabuf_out = export_dmabuf(instance, phys, v.devices.back());
      if (dmabuf_out->valid()) *dmabuf_source = "memory exported by " + v.devices.back().device_name;
    }
  }
  vkDestroyInstance(instance, nullptr);
  return v;
}

} // namespace sfw::info
