// Dispatch-overhead bench: N vkQueueSubmit and N vkQueueSubmit2, each with one empty batch, through
// the loader's exported trampolines (as an app linking libvulkan calls them), on lavapipe.
//
// Meant to run under callgrind, which counts instructions deterministically:
//   valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
//     --toggle-collect=sfw_bench_submit_loop --toggle-collect=sfw_bench_submit2_loop submit_bench -n N
// Instrumentation is switched on (CALLGRIND_START_INSTRUMENTATION) only after the instance and device
// exist, and a warm-up outside the toggled loops takes every first-call cost (lazy binding, caches),
// so each loop's inclusive cost / N is the steady cost of one submit. Each loop's profile is dumped on
// its own (CALLGRIND_DUMP_STATS_AT: <out-file>.1 for vkQueueSubmit, <out-file>.2 for vkQueueSubmit2). It also runs without valgrind
// (the macros are no-ops) and then prints wall-clock ns per submit, which is only indicative.
//
// Prints one JSON object on stdout: the device and driver, and per-loop wall times.
#include <vulkan/vulkan.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_DUMP_STATS_AT(x)
#define RUNNING_ON_VALGRIND 0
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char *what, VkResult r) {
  std::fprintf(stderr, "submit_bench: %s failed (%d)\n", what, static_cast<int>(r));
  std::exit(1);
}
#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    VkResult r_ = (call);                                                                                              \
    if (r_ != VK_SUCCESS) die(#call, r_);                                                                              \
  } while (0)

std::string json_escape(const char *s) {
  std::string out;
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') out += '\\';
    if (static_cast<unsigned char>(*s) < 0x20) continue;
    out += *s;
  }
  return out;
}

bool has_extension(const std::vector<VkExtensionProperties> &list, const char *name) {
  for (const auto &e : list)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

} // namespace

// The measured loops: named, not inlined, C linkage, so --toggle-collect can find them.
extern "C" __attribute__((noinline)) VkResult sfw_bench_submit_loop(VkQueue queue, const VkSubmitInfo *info,
                                                                    unsigned n) {
  VkResult r = VK_SUCCESS;
  for (unsigned i = 0; i < n; ++i) r = static_cast<VkResult>(r | vkQueueSubmit(queue, 1, info, VK_NULL_HANDLE));
  return r;
}

extern "C" __attribute__((noinline)) VkResult sfw_bench_submit2_loop(VkQueue queue, const VkSubmitInfo2 *info,
                                                                     unsigned n) {
  VkResult r = VK_SUCCESS;
  for (unsigned i = 0; i < n; ++i) r = static_cast<VkResult>(r | vkQueueSubmit2(queue, 1, info, VK_NULL_HANDLE));
  return r;
}

int main(int argc, char **argv) {
  unsigned n = 100000, warmup = 1000;
  bool wsi = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else if (std::strcmp(argv[i], "-w") == 0 && i + 1 < argc)
      warmup = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else if (std::strcmp(argv[i], "--no-wsi") == 0) wsi = false;
    else {
      std::fprintf(stderr, "usage: submit_bench [-n SUBMITS] [-w WARMUP] [--no-wsi]\n");
      return 64;
    }
  }

  // An instance and device like a Wayland app's: surface and swapchain extensions where offered
  // (so a layer that may own swapchains sees the device it would own them on).
  uint32_t count = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> inst_exts(count);
  vkEnumerateInstanceExtensionProperties(nullptr, &count, inst_exts.data());
  std::vector<const char *> inst_enable;
  for (const char *e : {"VK_KHR_surface", "VK_KHR_wayland_surface"})
    if (wsi && has_extension(inst_exts, e)) inst_enable.push_back(e);

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "syncfile-wsi submit_bench";
  app.apiVersion = VK_API_VERSION_1_3;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledExtensionCount = static_cast<uint32_t>(inst_enable.size());
  ici.ppEnabledExtensionNames = inst_enable.data();
  VkInstance instance;
  CHECK(vkCreateInstance(&ici, nullptr, &instance));

  count = 0;
  vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> phys(count);
  vkEnumeratePhysicalDevices(instance, &count, phys.data());
  VkPhysicalDevice pd = VK_NULL_HANDLE;
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &driver};
  for (VkPhysicalDevice p : phys) { // lavapipe (the only driver here), else the first 1.3 device
    driver = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    props.pNext = &driver;
    vkGetPhysicalDeviceProperties2(p, &props);
    if (props.properties.apiVersion < VK_API_VERSION_1_3) continue;
    if (pd == VK_NULL_HANDLE || driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE) pd = p;
    if (driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE) break;
  }
  if (pd == VK_NULL_HANDLE) {
    std::fprintf(stderr, "submit_bench: no Vulkan 1.3 device\n");
    return 2;
  }
  driver = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  props.pNext = &driver;
  vkGetPhysicalDeviceProperties2(pd, &props);

  count = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> dev_exts(count);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, dev_exts.data());
  std::vector<const char *> dev_enable;
  if (wsi && has_extension(dev_exts, "VK_KHR_swapchain")) dev_enable.push_back("VK_KHR_swapchain");

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = 0;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  f13.synchronization2 = VK_TRUE;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f13};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(dev_enable.size());
  dci.ppEnabledExtensionNames = dev_enable.data();
  VkDevice device;
  CHECK(vkCreateDevice(pd, &dci, nullptr, &device));
  VkQueue queue;
  vkGetDeviceQueue(device, 0, 0, &queue);

  const VkSubmitInfo info{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  const VkSubmitInfo2 info2{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};

  CALLGRIND_START_INSTRUMENTATION;
  // Warm-up outside the toggled loops: first calls resolve symbols and fill caches.
  for (unsigned i = 0; i < warmup; ++i) {
    CHECK(vkQueueSubmit(queue, 1, &info, VK_NULL_HANDLE));
    CHECK(vkQueueSubmit2(queue, 1, &info2, VK_NULL_HANDLE));
  }
  CHECK(vkQueueWaitIdle(queue));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(sfw_bench_submit_loop(queue, &info, n));
  auto t1 = std::chrono::steady_clock::now();
  CALLGRIND_DUMP_STATS_AT("vkQueueSubmit"); // <out>.1: the vkQueueSubmit loop alone
  CHECK(vkQueueWaitIdle(queue));
  auto t2 = std::chrono::steady_clock::now();
  CHECK(sfw_bench_submit2_loop(queue, &info2, n));
  auto t3 = std::chrono::steady_clock::now();
  CALLGRIND_DUMP_STATS_AT("vkQueueSubmit2"); // <out>.2: the vkQueueSubmit2 loop alone
  CALLGRIND_STOP_INSTRUMENTATION;
  CHECK(vkQueueWaitIdle(queue));

  auto ns = [n](auto a, auto b) { return std::chrono::duration<double, std::nano>(b - a).count() / n; };
  std::printf("{\"device\": \"%s\", \"driver_name\": \"%s\", \"driver_info\": \"%s\", \"api_version\": \"%u.%u.%u\", "
              "\"submits\": %u, \"under_valgrind\": %s, \"wall_ns_per_submit\": %.1f, \"wall_ns_per_submit2\": %.1f}\n",
              json_escape(props.properties.deviceName).c_str(), json_escape(driver.driverName).c_str(),
              json_escape(driver.driverInfo).c_str(), VK_API_VERSION_MAJOR(props.properties.apiVersion),
              VK_API_VERSION_MINOR(props.properties.apiVersion), VK_API_VERSION_PATCH(props.properties.apiVersion), n,
              RUNNING_ON_VALGRIND ? "true" : "false", ns(t0, t1), ns(t2, t3));
  vkDestroyDevice(device, nullptr);
  vkDestroyInstance(instance, nullptr);
  return 0;
}
