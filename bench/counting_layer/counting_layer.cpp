// BENCH-ONLY REFERENCE: a minimal counting pass-through layer (VK_LAYER_SFW_BENCH_counting).
//
// It is not part of syncfile-wsi. It exists so that scripts/bench can show what the cheapest useful
// layer costs per vkQueueSubmit on the same machine, driver and loader: it counts submits and
// forwards them, nothing else. Its device look-up is the same shape as syncfile-wsi's (an immutable
// array of {dispatch key, state} read without a lock), and its count is a relaxed atomic increment.
// Everything that is not a submit is not intercepted at all (the loader calls the driver directly), except
// vkQueuePresentKHR where SFW_BENCH_COUNTING_PRESENT_CLOCK asks for the throughput bench's frame clock.
#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#include <atomic>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

template <typename T> void *key_of(T handle) { return *reinterpret_cast<void **>(handle); }

struct Instance {
  void *key = nullptr;
  VkInstance instance = VK_NULL_HANDLE;
  PFN_vkGetInstanceProcAddr gipa = nullptr;
  PFN_vkDestroyInstance destroy = nullptr;
};

struct Device {
  void *key = nullptr;
  VkDevice device = VK_NULL_HANDLE;
  PFN_vkGetDeviceProcAddr gdpa = nullptr;
  PFN_vkDestroyDevice destroy = nullptr;
  PFN_vkQueueSubmit submit = nullptr;
  PFN_vkQueueSubmit2 submit2 = nullptr;
  PFN_vkQueueSubmit2KHR submit2khr = nullptr;
  std::atomic<uint64_t> submits{0};
  // With SFW_BENCH_COUNTING_LOG only (bench/frame_cost.sh: what the driver sees per frame); the dispatch
  // bench's reference path stays a count and a forward.
  bool detail = false;
  std::atomic<uint64_t> batches{0}, command_buffers{0}, waits{0}, signals{0};
  // With SFW_BENCH_COUNTING_PRESENT_CLOCK=W (bench/throughput.sh, the layer loaded first, above whatever
  // presents): the time of present W and of the last one, so the steady frame rate leaves out start-up
  // and tear-down. Presents of one device come from one thread in the benches.
  PFN_vkQueuePresentKHR present = nullptr;
  uint64_t presents = 0;
  double clock_start = 0, clock_last = 0;
};

uint64_t present_clock_from() { // 0: the present clock is off
  static const uint64_t from = [] {
    const char *v = std::getenv("SFW_BENCH_COUNTING_PRESENT_CLOCK");
    return v != nullptr ? std::strtoull(v, nullptr, 10) : 0;
  }();
  return from;
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr int kMax = 16;
std::mutex g_mutex; // writers only
Instance g_instances[kMax];
Device g_devices[kMax];
std::atomic<int> g_device_count{0}; // slots are never reused: the bench creates a handful

Instance *find_instance(void *key) {
  std::lock_guard lock(g_mutex);
  for (auto &i : g_instances)
    if (i.key == key) return &i;
  return nullptr;
}

inline Device *find_device(void *key) {
  int n = g_device_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i)
    if (g_devices[i].key == key) return &g_devices[i];
  return nullptr;
}

template <typename Info> Info *chain_info(const void *pnext, VkStructureType type) {
  for (auto *p = static_cast<const VkBaseInStructure *>(pnext); p != nullptr; p = p->pNext)
    if (p->sType == type && reinterpret_cast<const Info *>(p)->function == VK_LAYER_LINK_INFO)
      return const_cast<Info *>(reinterpret_cast<const Info *>(p));
  return nullptr;
}

[[gnu::noinline]] void count_batches(Device *d, uint32_t count, const VkSubmitInfo *b) {
  d->batches.fetch_add(count, std::memory_order_relaxed);
  for (uint32_t i = 0; i < count; ++i) {
    d->command_buffers.fetch_add(b[i].commandBufferCount, std::memory_order_relaxed);
    d->waits.fetch_add(b[i].waitSemaphoreCount, std::memory_order_relaxed);
    d->signals.fetch_add(b[i].signalSemaphoreCount, std::memory_order_relaxed);
  }
}
[[gnu::noinline]] void count_batches(Device *d, uint32_t count, const VkSubmitInfo2 *b) {
  d->batches.fetch_add(count, std::memory_order_relaxed);
  for (uint32_t i = 0; i < count; ++i) {
    d->command_buffers.fetch_add(b[i].commandBufferInfoCount, std::memory_order_relaxed);
    d->waits.fetch_add(b[i].waitSemaphoreInfoCount, std::memory_order_relaxed);
    d->signals.fetch_add(b[i].signalSemaphoreInfoCount, std::memory_order_relaxed);
  }
}

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit(VkQueue queue, uint32_t count, const VkSubmitInfo *submits, VkFence fence) {
  Device *d = find_device(key_of(queue));
  if (d == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST; // as syncfile-wsi does for a queue it never saw
  d->submits.fetch_add(1, std::memory_order_relaxed);
  if (d->detail) count_batches(d, count, submits);
  return d->submit(queue, count, submits, fence);
}

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits, VkFence fence) {
  Device *d = find_device(key_of(queue));
  if (d == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST; // as syncfile-wsi does for a queue it never saw
  d->submits.fetch_add(1, std::memory_order_relaxed);
  if (d->detail) count_batches(d, count, submits);
  return d->submit2(queue, count, submits, fence);
}

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit2KHR(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                                               VkFence fence) {
  Device *d = find_device(key_of(queue));
  if (d == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST; // as syncfile-wsi does for a queue it never saw
  d->submits.fetch_add(1, std::memory_order_relaxed);
  if (d->detail) count_batches(d, count, submits);
  return d->submit2khr(queue, count, submits, fence);
}

VKAPI_ATTR VkResult VKAPI_CALL QueuePresentKHR(VkQueue queue, const VkPresentInfoKHR *info) {
  Device *d = find_device(key_of(queue));
  if (d == nullptr) [[unlikely]] return VK_ERROR_DEVICE_LOST;
  double t = now_s();
  if (++d->presents == present_clock_from()) d->clock_start = t;
  d->clock_last = t;
  return d->present(queue, info);
}

VKAPI_ATTR VkResult VKAPI_CALL CreateInstance(const VkInstanceCreateInfo *info, const VkAllocationCallbacks *alloc,
                                              VkInstance *instance) {
  auto *link = chain_info<VkLayerInstanceCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO);
  if (link == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  auto create = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
  VkResult r = create(info, alloc, instance);
  if (r != VK_SUCCESS) return r;
  std::lock_guard lock(g_mutex);
  for (auto &i : g_instances)
    if (i.key == nullptr) {
      i.key = key_of(*instance);
      i.instance = *instance;
      i.gipa = gipa;
      i.destroy = reinterpret_cast<PFN_vkDestroyInstance>(gipa(*instance, "vkDestroyInstance"));
      return VK_SUCCESS;
    }
  std::abort();
}

VKAPI_ATTR void VKAPI_CALL DestroyInstance(VkInstance instance, const VkAllocationCallbacks *alloc) {
  if (instance == VK_NULL_HANDLE) return;
  Instance *i = find_instance(key_of(instance));
  PFN_vkDestroyInstance destroy = i->destroy;
  {
    std::lock_guard lock(g_mutex);
    i->key = nullptr;
  }
  destroy(instance, alloc);
}

VKAPI_ATTR VkResult VKAPI_CALL CreateDevice(VkPhysicalDevice phys, const VkDeviceCreateInfo *info,
                                            const VkAllocationCallbacks *alloc, VkDevice *device) {
  auto *link = chain_info<VkLayerDeviceCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO);
  Instance *inst = find_instance(key_of(phys));
  if (link == nullptr || inst == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr gdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  auto create = reinterpret_cast<PFN_vkCreateDevice>(gipa(inst->instance, "vkCreateDevice"));
  VkResult r = create(phys, info, alloc, device);
  if (r != VK_SUCCESS) return r;
  std::lock_guard lock(g_mutex);
  int n = g_device_count.load(std::memory_order_relaxed);
  if (n == kMax) std::abort();
  Device &d = g_devices[n];
  d.key = key_of(*device);
  d.device = *device;
  d.gdpa = gdpa;
  d.destroy = reinterpret_cast<PFN_vkDestroyDevice>(gdpa(*device, "vkDestroyDevice"));
  d.submit = reinterpret_cast<PFN_vkQueueSubmit>(gdpa(*device, "vkQueueSubmit"));
  d.submit2 = reinterpret_cast<PFN_vkQueueSubmit2>(gdpa(*device, "vkQueueSubmit2"));
  d.submit2khr = reinterpret_cast<PFN_vkQueueSubmit2KHR>(gdpa(*device, "vkQueueSubmit2KHR"));
  d.present = reinterpret_cast<PFN_vkQueuePresentKHR>(gdpa(*device, "vkQueuePresentKHR"));
  d.detail = std::getenv("SFW_BENCH_COUNTING_LOG") != nullptr;
  g_device_count.store(n + 1, std::memory_order_release);
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroyDevice(VkDevice device, const VkAllocationCallbacks *alloc) {
  if (device == VK_NULL_HANDLE) return;
  Device *d = find_device(key_of(device));
  if (d->detail)
    std::fprintf(stderr, "counting layer: %llu submits, %llu batches, %llu command buffers, %llu waits, %llu signals\n",
                 static_cast<unsigned long long>(d->submits.load()), static_cast<unsigned long long>(d->batches.load()),
                 static_cast<unsigned long long>(d->command_buffers.load()),
                 static_cast<unsigned long long>(d->waits.load()), static_cast<unsigned long long>(d->signals.load()));
  if (uint64_t from = present_clock_from(); from != 0 && d->presents > from)
    std::fprintf(stderr, "counting layer: present clock: %llu presents, %.3f frames/s from present %llu to the last\n",
                 static_cast<unsigned long long>(d->presents),
                 static_cast<double>(d->presents - from) / (d->clock_last - d->clock_start),
                 static_cast<unsigned long long>(from));
  PFN_vkDestroyDevice destroy = d->destroy;
  {
    std::lock_guard lock(g_mutex);
    d->key = reinterpret_cast<void *>(-1); // slot retired, never matched again
  }
  destroy(device, alloc);
}

PFN_vkVoidFunction device_intercept(const char *name, Device *d) {
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return nullptr; // filled by the caller
  if (std::strcmp(name, "vkDestroyDevice") == 0) return reinterpret_cast<PFN_vkVoidFunction>(DestroyDevice);
  // Intercept a submit only where the next layer/driver has it, as a layer must.
  if (std::strcmp(name, "vkQueueSubmit") == 0) return reinterpret_cast<PFN_vkVoidFunction>(QueueSubmit);
  if (std::strcmp(name, "vkQueueSubmit2") == 0)
    return d == nullptr || d->submit2 ? reinterpret_cast<PFN_vkVoidFunction>(QueueSubmit2) : nullptr;
  if (std::strcmp(name, "vkQueueSubmit2KHR") == 0)
    return d == nullptr || d->submit2khr ? reinterpret_cast<PFN_vkVoidFunction>(QueueSubmit2KHR) : nullptr;
  if (std::strcmp(name, "vkQueuePresentKHR") == 0 && present_clock_from() != 0)
    return d == nullptr || d->present ? reinterpret_cast<PFN_vkVoidFunction>(QueuePresentKHR) : nullptr;
  return nullptr;
}

} // namespace

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice device, const char *name);

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance instance, const char *name) {
  if (std::strcmp(name, "vkGetInstanceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(vkGetInstanceProcAddr);
  if (std::strcmp(name, "vkCreateInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(CreateInstance);
  if (std::strcmp(name, "vkDestroyInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(DestroyInstance);
  if (std::strcmp(name, "vkCreateDevice") == 0) return reinterpret_cast<PFN_vkVoidFunction>(CreateDevice);
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(vkGetDeviceProcAddr);
  if (PFN_vkVoidFunction f = device_intercept(name, nullptr)) return f;
  if (instance == VK_NULL_HANDLE) return nullptr;
  Instance *i = find_instance(key_of(instance));
  return i != nullptr ? i->gipa(instance, name) : nullptr;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice device, const char *name) {
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(vkGetDeviceProcAddr);
  Device *d = find_device(key_of(device));
  if (d == nullptr) return nullptr;
  if (PFN_vkVoidFunction f = device_intercept(name, d)) return f;
  return d->gdpa(device, name);
}

EXPORT VKAPI_ATTR VkResult VKAPI_CALL vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *v) {
  if (v == nullptr || v->sType != LAYER_NEGOTIATE_INTERFACE_STRUCT) return VK_ERROR_INITIALIZATION_FAILED;
  if (v->loaderLayerInterfaceVersion > 2) v->loaderLayerInterfaceVersion = 2;
  v->pfnGetInstanceProcAddr = vkGetInstanceProcAddr;
  v->pfnGetDeviceProcAddr = vkGetDeviceProcAddr;
  v->pfnGetPhysicalDeviceProcAddr = nullptr;
  return VK_SUCCESS;
}
