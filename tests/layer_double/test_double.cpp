// TEST DOUBLE, not product code: VK_LAYER_SYNCFILE_test_double, loaded below syncfile-wsi by the tests.
// See test_double.h for what it does and how a test reaches it.
//
// Lavapipe finishes work synchronously and its SYNC_FD semaphore export waits for the whole device, so
// on its own it can never show that the layer's present does not wait for the GPU. The double stands in
// for a GPU whose completion arrives later, on command: one designated present submit gets a sync_file
// backed by a vgem fence that the test controls.
#include "test_double.h"

#include "vgem.hpp" // tests/vm: vgem buffers and fences

#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define SFW_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using sfw::kernel::UniqueFd;

void *key_of(const void *dispatchable) { return *static_cast<void *const *>(dispatchable); }

struct InstanceData {
  VkInstance instance = VK_NULL_HANDLE;
  PFN_vkGetInstanceProcAddr gipa = nullptr;
  PFN_vkDestroyInstance DestroyInstance = nullptr;
};

struct DeviceData {
  VkDevice device = VK_NULL_HANDLE;
  PFN_vkGetDeviceProcAddr gdpa = nullptr;
  PFN_vkDestroyDevice DestroyDevice = nullptr;
  PFN_vkAllocateMemory AllocateMemory = nullptr;
  PFN_vkFreeMemory FreeMemory = nullptr;
  PFN_vkGetMemoryFdKHR GetMemoryFdKHR = nullptr;
  PFN_vkCreateSemaphore CreateSemaphore = nullptr;
  PFN_vkDestroySemaphore DestroySemaphore = nullptr;
  PFN_vkGetSemaphoreFdKHR GetSemaphoreFdKHR = nullptr;
  PFN_vkQueueSubmit QueueSubmit = nullptr;
  PFN_vkQueueSubmit2 QueueSubmit2 = nullptr;
  PFN_vkQueueSubmit2 QueueSubmit2KHR = nullptr;
  PFN_vkWaitForFences WaitForFences = nullptr;
  PFN_vkQueueWaitIdle QueueWaitIdle = nullptr;
  PFN_vkDeviceWaitIdle DeviceWaitIdle = nullptr;
  PFN_vkCreateFence CreateFence = nullptr;
  PFN_vkDestroyFence DestroyFence = nullptr;
  PFN_vkCreateImage CreateImage = nullptr;
  PFN_vkDestroyImage DestroyImage = nullptr;
  PFN_vkCreateCommandPool CreateCommandPool = nullptr;
  PFN_vkDestroyCommandPool DestroyCommandPool = nullptr;
  PFN_vkImportSemaphoreFdKHR ImportSemaphoreFdKHR = nullptr;
  PFN_vkImportFenceFdKHR ImportFenceFdKHR = nullptr;
};

struct Dmabuf {
  VkDevice device;
  VkDeviceMemory memory;
  VkImage image; // of the dedicated allocation, or VK_NULL_HANDLE
  UniqueFd fd;
};

// One swapped semaphore of a designated submit.
struct Gated {
  DeviceData *dev = nullptr;
  VkSemaphore app_semaphore = VK_NULL_HANDLE; // the handle the layer above signals and exports
  VkSemaphore internal = VK_NULL_HANDLE;      // what lavapipe really signals
  VkFence fence = VK_NULL_HANDLE;             // lavapipe finished the submit (shared by the submit's records)
  bool owns_fence = false;
  uint64_t generation = 0; // the gate this record waits for
  uint32_t vgem_fence = 0;
  UniqueFd sync_file;
  std::thread worker;
};

struct State {
  std::recursive_mutex mutex; // recursive: record_error() may run under it
  std::condition_variable_any gate_cv;
  std::unordered_map<void *, InstanceData> instances;
  std::unordered_map<void *, std::unique_ptr<DeviceData>> devices;
  std::unordered_set<uint64_t> exportable;           // semaphores created exportable as SYNC_FD
  std::unordered_map<uint64_t, VkImage> dedicated;   // memory -> image of its dedicated allocation
  std::vector<Dmabuf> dmabufs;                       // export order
  std::unordered_map<uint64_t, Gated *> pending;     // app semaphore -> its unexported record
  std::vector<std::unique_ptr<Gated>> gated;         // all records until device destruction
  std::unique_ptr<sfw::test::Vgem> vgem;
  std::atomic<uint32_t> armed{0}; // countdown to the designated submit; 0: not armed
  uint64_t gate_generation = 0;   // bumped by each arm
  uint64_t opened_generation = 0; // the newest generation whose gate is open
  std::atomic<bool> window{false};
  std::atomic<int64_t> fences_held_until{0}; // steady_clock ticks (sfw_test_double_hold_fences)
  sfw_test_double_stats stats{};
};

// Leaked on purpose: worker threads may outlive static destruction if an app never destroys its device.
State &state() {
  static State *s = new State;
  return *s;
}

void record_error(const char *what) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  s.stats.errors++;
  snprintf(s.stats.last_error, sizeof s.stats.last_error, "%s", what);
  fprintf(stderr, "VK_LAYER_SYNCFILE_test_double: %s\n", what);
}

DeviceData *device_of(const void *dispatchable) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  auto it = s.devices.find(key_of(dispatchable));
  return it == s.devices.end() ? nullptr : it->second.get();
}

template <typename T> const T *find_in_chain(const void *next, VkStructureType type) {
  for (auto *p = static_cast<const VkBaseInStructure *>(next); p != nullptr; p = p->pNext)
    if (p->sType == type) return reinterpret_cast<const T *>(p);
  return nullptr;
}

// ---- the gate's worker: vgem signal after "work done" and "gate open" --------------------------------

void run_worker(Gated *g) {
  State &s = state();
  {
    std::unique_lock lock(s.mutex);
    s.gate_cv.wait(lock, [&] { return s.opened_generation >= g->generation; });
  }
  // Lavapipe's work for the submit (and everything before it on the queue) is done. Bounded: vgem would
  // signal by itself after 10 s anyway.
  VkResult r = g->dev->WaitForFences(g->dev->device, 1, &g->fence, VK_TRUE, 20'000'000'000ull);
  std::lock_guard lock(s.mutex);
  if (r != VK_SUCCESS) record_error("the designated submit did not finish within 20 s");
  try {
    s.vgem->signal(g->vgem_fence);
    s.stats.vgem_signals++;
  } catch (const std::exception &e) {
    record_error(e.what());
  }
}

// Joins and frees the device's records (opening every gate first). Called without the lock.
void retire_records(DeviceData *dev) {
  State &s = state();
  std::vector<std::unique_ptr<Gated>> mine;
  {
    std::lock_guard lock(s.mutex);
    s.opened_generation = s.gate_generation;
    s.gate_cv.notify_all();
    for (auto it = s.gated.begin(); it != s.gated.end();)
      if ((*it)->dev == dev) {
        mine.push_back(std::move(*it));
        it = s.gated.erase(it);
      } else {
        ++it;
      }
    for (auto it = s.pending.begin(); it != s.pending.end();)
      it = it->second->dev == dev ? s.pending.erase(it) : std::next(it);
  }
  for (auto &g : mine)
    if (g->worker.joinable()) g->worker.join();
  for (auto &g : mine) {
    dev->DestroySemaphore(dev->device, g->internal, nullptr);
    if (g->owns_fence) dev->DestroyFence(dev->device, g->fence, nullptr);
  }
}

// ---- submits -------------------------------------------------------------------------------------------

// Whether this submit is the designated one (counts signalling submits; consumes the arm).
bool designate(bool signals_exportable) {
  State &s = state();
  if (!signals_exportable) return false; // not a signalling submit
  std::lock_guard lock(s.mutex);
  s.stats.signalling_submits++;
  uint32_t left = s.armed.load();
  if (left == 0) return false;
  s.armed.store(left - 1);
  return left == 1;
}

bool is_exportable(VkSemaphore sem) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  return s.exportable.count(reinterpret_cast<uint64_t>(sem)) != 0;
}

// Makes the records for the swapped semaphores: an internal semaphore and a vgem-backed sync_file each.
// Returns false (and undoes everything) if any part fails: the submit then passes through.
bool prepare_records(DeviceData *dev, const std::vector<VkSemaphore> &app_sems, std::vector<std::unique_ptr<Gated>> *out) {
  State &s = state();
  for (VkSemaphore sem : app_sems) {
    auto g = std::make_unique<Gated>();
    g->dev = dev;
    g->app_semaphore = sem;
    VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    if (dev->CreateSemaphore(dev->device, &info, nullptr, &g->internal) != VK_SUCCESS) {
      record_error("vkCreateSemaphore for an internal semaphore failed");
      break;
    }
    try {
      std::lock_guard lock(s.mutex);
      if (!s.vgem) s.vgem = std::make_unique<sfw::test::Vgem>();
      sfw::test::PendingSyncFile pending = s.vgem->unsignalled_sync_file();
      g->vgem_fence = pending.fence;
      g->sync_file = std::move(pending.sync_file);
    } catch (const std::exception &e) {
      record_error(e.what());
      dev->DestroySemaphore(dev->device, g->internal, nullptr);
      break;
    }
    out->push_back(std::move(g));
  }
  if (out->size() == app_sems.size() && !out->empty()) {
    VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    if (dev->CreateFence(dev->device, &info, nullptr, &fence) == VK_SUCCESS) {
      for (auto &g : *out) g->fence = fence;
      out->front()->owns_fence = true;
      return true;
    }
    record_error("vkCreateFence for the internal fence failed");
  }
  for (auto &g : *out) {
    dev->DestroySemaphore(dev->device, g->internal, nullptr);
    std::lock_guard lock(s.mutex);
    try {
      if (s.vgem) s.vgem->signal(g->vgem_fence); // nobody will wait for it
    } catch (...) {
    }
  }
  out->clear();
  return false;
}

VkSemaphore swapped(const std::vector<std::unique_ptr<Gated>> &records, VkSemaphore sem) {
  for (auto &g : records)
    if (g->app_semaphore == sem) return g->internal;
  return sem;
}

// After the driver accepted the designated submit: the fence submit, then the records go live.
VkResult finish_designated(DeviceData *dev, VkQueue queue, VkResult submitted, std::vector<std::unique_ptr<Gated>> &records) {
  State &s = state();
  if (submitted == VK_SUCCESS) submitted = dev->QueueSubmit(queue, 0, nullptr, records.front()->fence);
  if (submitted != VK_SUCCESS) {
    for (auto &g : records) {
      dev->DestroySemaphore(dev->device, g->internal, nullptr);
      if (g->owns_fence) dev->DestroyFence(dev->device, g->fence, nullptr);
      std::lock_guard lock(s.mutex);
      try {
        s.vgem->signal(g->vgem_fence);
      } catch (...) {
      }
    }
    return submitted;
  }
  std::lock_guard lock(s.mutex);
  s.stats.gated_submits++;
  for (auto &g : records) {
    g->generation = s.gate_generation;
    s.pending[reinterpret_cast<uint64_t>(g->app_semaphore)] = g.get();
    g->worker = std::thread(run_worker, g.get());
    s.gated.push_back(std::move(g));
  }
  return VK_SUCCESS;
}

bool injected_failure(const char *function);

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit(VkQueue queue, uint32_t count, const VkSubmitInfo *submits, VkFence fence) {
  DeviceData *dev = device_of(queue);
  if (injected_failure("vkQueueSubmit")) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  if (state().armed.load() == 0) return dev->QueueSubmit(queue, count, submits, fence); // the fast path
  std::vector<VkSemaphore> app_sems;
  for (uint32_t i = 0; i < count; ++i)
    for (uint32_t k = 0; k < submits[i].signalSemaphoreCount; ++k)
      if (is_exportable(submits[i].pSignalSemaphores[k])) app_sems.push_back(submits[i].pSignalSemaphores[k]);
  std::vector<std::unique_ptr<Gated>> records;
  if (!designate(!app_sems.empty()) || !prepare_records(dev, app_sems, &records))
    return dev->QueueSubmit(queue, count, submits, fence);
  std::vector<VkSubmitInfo> copy(submits, submits + count);
  std::vector<std::vector<VkSemaphore>> signals(count);
  for (uint32_t i = 0; i < count; ++i) {
    signals[i].assign(submits[i].pSignalSemaphores, submits[i].pSignalSemaphores + submits[i].signalSemaphoreCount);
    for (VkSemaphore &sem : signals[i]) sem = swapped(records, sem);
    copy[i].pSignalSemaphores = signals[i].data();
  }
  VkResult r = dev->QueueSubmit(queue, count, copy.data(), fence);
  return finish_designated(dev, queue, r, records);
}

VkResult queue_submit2(PFN_vkQueueSubmit2 down, DeviceData *dev, VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits,
                       VkFence fence) {
  if (state().armed.load() == 0) return down(queue, count, submits, fence);
  std::vector<VkSemaphore> app_sems;
  for (uint32_t i = 0; i < count; ++i)
    for (uint32_t k = 0; k < submits[i].signalSemaphoreInfoCount; ++k)
      if (is_exportable(submits[i].pSignalSemaphoreInfos[k].semaphore))
        app_sems.push_back(submits[i].pSignalSemaphoreInfos[k].semaphore);
  std::vector<std::unique_ptr<Gated>> records;
  if (!designate(!app_sems.empty()) || !prepare_records(dev, app_sems, &records)) return down(queue, count, submits, fence);
  std::vector<VkSubmitInfo2> copy(submits, submits + count);
  std::vector<std::vector<VkSemaphoreSubmitInfo>> signals(count);
  for (uint32_t i = 0; i < count; ++i) {
    signals[i].assign(submits[i].pSignalSemaphoreInfos, submits[i].pSignalSemaphoreInfos + submits[i].signalSemaphoreInfoCount);
    for (VkSemaphoreSubmitInfo &info : signals[i]) info.semaphore = swapped(records, info.semaphore);
    copy[i].pSignalSemaphoreInfos = signals[i].data();
  }
  VkResult r = down(queue, count, copy.data(), fence);
  return finish_designated(dev, queue, r, records);
}

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit2(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits, VkFence fence) {
  DeviceData *dev = device_of(queue);
  return queue_submit2(dev->QueueSubmit2, dev, queue, count, submits, fence);
}
VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit2KHR(VkQueue queue, uint32_t count, const VkSubmitInfo2 *submits, VkFence fence) {
  DeviceData *dev = device_of(queue);
  return queue_submit2(dev->QueueSubmit2KHR, dev, queue, count, submits, fence);
}

// ---- allocation callbacks: counted, never passed to the driver --------------------------------------------

const VkAllocationCallbacks *strip(const VkAllocationCallbacks *alloc) {
  if (alloc != nullptr) {
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.stats.calls_with_allocator++;
  }
  return nullptr;
}

VKAPI_ATTR VkResult VKAPI_CALL CreateImage(VkDevice device, const VkImageCreateInfo *info, const VkAllocationCallbacks *alloc,
                                           VkImage *image) {
  return device_of(device)->CreateImage(device, info, strip(alloc), image);
}
VKAPI_ATTR void VKAPI_CALL DestroyImage(VkDevice device, VkImage image, const VkAllocationCallbacks *alloc) {
  device_of(device)->DestroyImage(device, image, strip(alloc));
}
VKAPI_ATTR VkResult VKAPI_CALL CreateFence(VkDevice device, const VkFenceCreateInfo *info, const VkAllocationCallbacks *alloc,
                                           VkFence *fence) {
  return device_of(device)->CreateFence(device, info, strip(alloc), fence);
}
VKAPI_ATTR void VKAPI_CALL DestroyFence(VkDevice device, VkFence fence, const VkAllocationCallbacks *alloc) {
  device_of(device)->DestroyFence(device, fence, strip(alloc));
}
VKAPI_ATTR VkResult VKAPI_CALL CreateCommandPool(VkDevice device, const VkCommandPoolCreateInfo *info,
                                                 const VkAllocationCallbacks *alloc, VkCommandPool *pool) {
  return device_of(device)->CreateCommandPool(device, info, strip(alloc), pool);
}
VKAPI_ATTR void VKAPI_CALL DestroyCommandPool(VkDevice device, VkCommandPool pool, const VkAllocationCallbacks *alloc) {
  device_of(device)->DestroyCommandPool(device, pool, strip(alloc));
}

// ---- semaphores ------------------------------------------------------------------------------------------

VKAPI_ATTR VkResult VKAPI_CALL CreateSemaphore(VkDevice device, const VkSemaphoreCreateInfo *info,
                                               const VkAllocationCallbacks *alloc, VkSemaphore *sem) {
  DeviceData *dev = device_of(device);
  VkResult r = dev->CreateSemaphore(device, info, strip(alloc), sem);
  if (r != VK_SUCCESS) return r;
  auto *exp = find_in_chain<VkExportSemaphoreCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO);
  auto *type = find_in_chain<VkSemaphoreTypeCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO);
  bool binary = type == nullptr || type->semaphoreType == VK_SEMAPHORE_TYPE_BINARY;
  if (exp != nullptr && (exp->handleTypes & VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT) && binary) {
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.exportable.insert(reinterpret_cast<uint64_t>(*sem));
  }
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroySemaphore(VkDevice device, VkSemaphore sem, const VkAllocationCallbacks *alloc) {
  DeviceData *dev = device_of(device);
  {
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.exportable.erase(reinterpret_cast<uint64_t>(sem));
    s.pending.erase(reinterpret_cast<uint64_t>(sem));
  }
  dev->DestroySemaphore(device, sem, strip(alloc));
}

// A driver that fails on command: SFW_TEST_DOUBLE_FAIL="vkAllocateMemory@3,vkGetSemaphoreFdKHR@5" makes
// the 3rd vkAllocateMemory and the 5th vkGetSemaphoreFdKHR fail (each once).
bool injected_failure(const char *function) {
  static std::mutex mutex;
  static std::map<std::string, long> calls;
  const char *spec = std::getenv("SFW_TEST_DOUBLE_FAIL");
  if (spec == nullptr) return false;
  std::string needle = std::string(function) + "@";
  const char *at = std::strstr(spec, needle.c_str());
  if (at == nullptr) return false;
  long nth = std::strtol(at + needle.size(), nullptr, 10);
  std::lock_guard lock(mutex);
  return ++calls[function] == nth;
}

// Imports, counted, and failing on command (SFW_TEST_DOUBLE_FAIL=vkImportFenceFdKHR@N): the layer's acquire
// must then leave the app's semaphore and fence as they were.
template <typename Call> VkResult counted_import(const char *function, uint64_t sfw_test_double_stats::*counter, Call &&call) {
  if (injected_failure(function)) return VK_ERROR_INVALID_EXTERNAL_HANDLE;
  {
    std::lock_guard lock(state().mutex);
    state().stats.*counter += 1;
  }
  return call();
}
VKAPI_ATTR VkResult VKAPI_CALL ImportSemaphoreFdKHR(VkDevice device, const VkImportSemaphoreFdInfoKHR *info) {
  DeviceData *dev = device_of(device);
  return counted_import("vkImportSemaphoreFdKHR", &sfw_test_double_stats::semaphore_imports,
                        [&] { return dev->ImportSemaphoreFdKHR(device, info); });
}
VKAPI_ATTR VkResult VKAPI_CALL ImportFenceFdKHR(VkDevice device, const VkImportFenceFdInfoKHR *info) {
  DeviceData *dev = device_of(device);
  return counted_import("vkImportFenceFdKHR", &sfw_test_double_stats::fence_imports, [&] { return dev->ImportFenceFdKHR(device, info); });
}

VKAPI_ATTR VkResult VKAPI_CALL GetSemaphoreFdKHR(VkDevice device, const VkSemaphoreGetFdInfoKHR *info, int *fd) {
  DeviceData *dev = device_of(device);
  if (injected_failure("vkGetSemaphoreFdKHR")) return VK_ERROR_TOO_MANY_OBJECTS;
  if (info->handleType == VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT) {
    State &s = state();
    std::lock_guard lock(s.mutex);
    auto it = s.pending.find(reinterpret_cast<uint64_t>(info->semaphore));
    if (it != s.pending.end()) {
      // The export consumes the semaphore's payload, as a SYNC_FD export does.
      int copy = fcntl(it->second->sync_file.get(), F_DUPFD_CLOEXEC, 0);
      s.pending.erase(it);
      if (copy < 0) {
        record_error("F_DUPFD_CLOEXEC of a vgem sync_file failed");
        return VK_ERROR_TOO_MANY_OBJECTS;
      }
      s.stats.gated_exports++;
      *fd = copy;
      return VK_SUCCESS;
    }
  }
  return dev->GetSemaphoreFdKHR(device, info, fd);
}

// ---- memory ------------------------------------------------------------------------------------------

VKAPI_ATTR VkResult VKAPI_CALL AllocateMemory(VkDevice device, const VkMemoryAllocateInfo *info,
                                              const VkAllocationCallbacks *alloc, VkDeviceMemory *memory) {
  DeviceData *dev = device_of(device);
  if (injected_failure("vkAllocateMemory")) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  VkResult r = dev->AllocateMemory(device, info, strip(alloc), memory);
  if (r != VK_SUCCESS) return r;
  auto *ded = find_in_chain<VkMemoryDedicatedAllocateInfo>(info->pNext, VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO);
  if (ded != nullptr && ded->image != VK_NULL_HANDLE) {
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.dedicated[reinterpret_cast<uint64_t>(*memory)] = ded->image;
  }
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL FreeMemory(VkDevice device, VkDeviceMemory memory, const VkAllocationCallbacks *alloc) {
  DeviceData *dev = device_of(device);
  {
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.dedicated.erase(reinterpret_cast<uint64_t>(memory));
    std::erase_if(s.dmabufs, [&](const Dmabuf &d) { return d.device == device && d.memory == memory; });
  }
  dev->FreeMemory(device, memory, strip(alloc));
}

VKAPI_ATTR VkResult VKAPI_CALL GetMemoryFdKHR(VkDevice device, const VkMemoryGetFdInfoKHR *info, int *fd) {
  DeviceData *dev = device_of(device);
  if (injected_failure("vkGetMemoryFdKHR")) return VK_ERROR_TOO_MANY_OBJECTS;
  VkResult r = dev->GetMemoryFdKHR(device, info, fd);
  if (r != VK_SUCCESS || info->handleType != VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT) return r;
  State &s = state();
  std::lock_guard lock(s.mutex);
  UniqueFd copy(fcntl(*fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) {
    record_error("F_DUPFD_CLOEXEC of an exported dma-buf failed");
    return r;
  }
  auto it = s.dedicated.find(reinterpret_cast<uint64_t>(info->memory));
  s.dmabufs.push_back({device, info->memory, it == s.dedicated.end() ? VK_NULL_HANDLE : it->second, std::move(copy)});
  return r;
}

// ---- waits: counted inside the test's window ----------------------------------------------------------

VKAPI_ATTR VkResult VKAPI_CALL WaitForFences(VkDevice device, uint32_t count, const VkFence *fences, VkBool32 all,
                                             uint64_t timeout) {
  DeviceData *dev = device_of(device);
  if (state().window.load()) {
    std::lock_guard lock(state().mutex);
    state().stats.window_wait_for_fences++;
  }
  // A slow GPU (sfw_test_double_hold_fences): no fence is done before the hold ends; a wait whose timeout
  // ends first times out then.
  const auto held_until = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(state().fences_held_until.load()));
  const auto now = std::chrono::steady_clock::now();
  if (now < held_until) {
    if (timeout < static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(held_until - now).count())) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(timeout));
      std::lock_guard lock(state().mutex);
      state().stats.held_fence_timeouts++;
      return VK_TIMEOUT;
    }
    std::this_thread::sleep_until(held_until);
  }
  return dev->WaitForFences(device, count, fences, all, timeout);
}

VKAPI_ATTR VkResult VKAPI_CALL QueueWaitIdle(VkQueue queue) {
  DeviceData *dev = device_of(queue);
  if (state().window.load()) {
    std::lock_guard lock(state().mutex);
    state().stats.window_queue_wait_idle++;
  }
  return dev->QueueWaitIdle(queue);
}

VKAPI_ATTR VkResult VKAPI_CALL DeviceWaitIdle(VkDevice device) {
  DeviceData *dev = device_of(device);
  if (state().window.load()) {
    std::lock_guard lock(state().mutex);
    state().stats.window_device_wait_idle++;
  }
  return dev->DeviceWaitIdle(device);
}

// ---- instance and device chains ------------------------------------------------------------------------

VKAPI_ATTR VkResult VKAPI_CALL CreateInstance(const VkInstanceCreateInfo *info, const VkAllocationCallbacks *alloc,
                                              VkInstance *instance) {
  auto *chain = const_cast<VkLayerInstanceCreateInfo *>(
      find_in_chain<VkLayerInstanceCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO));
  while (chain != nullptr && chain->function != VK_LAYER_LINK_INFO)
    chain = const_cast<VkLayerInstanceCreateInfo *>(
        find_in_chain<VkLayerInstanceCreateInfo>(chain->pNext, VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO));
  if (chain == nullptr || chain->u.pLayerInfo == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = chain->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  chain->u.pLayerInfo = chain->u.pLayerInfo->pNext;
  auto create = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
  if (create == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  VkResult r = create(info, alloc, instance);
  if (r != VK_SUCCESS) return r;
  InstanceData data;
  data.instance = *instance;
  data.gipa = gipa;
  data.DestroyInstance = reinterpret_cast<PFN_vkDestroyInstance>(gipa(*instance, "vkDestroyInstance"));
  State &s = state();
  std::lock_guard lock(s.mutex);
  s.instances[key_of(*instance)] = data;
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroyInstance(VkInstance instance, const VkAllocationCallbacks *alloc) {
  if (instance == VK_NULL_HANDLE) return;
  State &s = state();
  PFN_vkDestroyInstance destroy;
  {
    std::lock_guard lock(s.mutex);
    auto it = s.instances.find(key_of(instance));
    if (it == s.instances.end()) return;
    destroy = it->second.DestroyInstance;
    s.instances.erase(it);
  }
  destroy(instance, alloc);
}

template <typename T> void load(DeviceData &d, T *out, const char *name) {
  *out = reinterpret_cast<T>(d.gdpa(d.device, name));
}

VKAPI_ATTR VkResult VKAPI_CALL CreateDevice(VkPhysicalDevice physical, const VkDeviceCreateInfo *info,
                                            const VkAllocationCallbacks *alloc, VkDevice *device) {
  auto *chain = const_cast<VkLayerDeviceCreateInfo *>(
      find_in_chain<VkLayerDeviceCreateInfo>(info->pNext, VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO));
  while (chain != nullptr && chain->function != VK_LAYER_LINK_INFO)
    chain = const_cast<VkLayerDeviceCreateInfo *>(
        find_in_chain<VkLayerDeviceCreateInfo>(chain->pNext, VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO));
  if (chain == nullptr || chain->u.pLayerInfo == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = chain->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr gdpa = chain->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  chain->u.pLayerInfo = chain->u.pLayerInfo->pNext;
  VkInstance instance = VK_NULL_HANDLE;
  {
    State &s = state();
    std::lock_guard lock(s.mutex);
    auto it = s.instances.find(key_of(physical));
    if (it != s.instances.end()) instance = it->second.instance;
  }
  auto create = reinterpret_cast<PFN_vkCreateDevice>(gipa(instance, "vkCreateDevice"));
  if (create == nullptr) return VK_ERROR_INITIALIZATION_FAILED;
  VkResult r = create(physical, info, strip(alloc), device);
  if (r != VK_SUCCESS) return r;
  auto data = std::make_unique<DeviceData>();
  DeviceData &d = *data;
  d.device = *device;
  d.gdpa = gdpa;
  load(d, &d.DestroyDevice, "vkDestroyDevice");
  load(d, &d.AllocateMemory, "vkAllocateMemory");
  load(d, &d.FreeMemory, "vkFreeMemory");
  load(d, &d.GetMemoryFdKHR, "vkGetMemoryFdKHR");
  load(d, &d.CreateSemaphore, "vkCreateSemaphore");
  load(d, &d.DestroySemaphore, "vkDestroySemaphore");
  load(d, &d.GetSemaphoreFdKHR, "vkGetSemaphoreFdKHR");
  load(d, &d.QueueSubmit, "vkQueueSubmit");
  load(d, &d.QueueSubmit2, "vkQueueSubmit2");
  load(d, &d.QueueSubmit2KHR, "vkQueueSubmit2KHR");
  load(d, &d.WaitForFences, "vkWaitForFences");
  load(d, &d.QueueWaitIdle, "vkQueueWaitIdle");
  load(d, &d.DeviceWaitIdle, "vkDeviceWaitIdle");
  load(d, &d.CreateFence, "vkCreateFence");
  load(d, &d.DestroyFence, "vkDestroyFence");
  load(d, &d.CreateImage, "vkCreateImage");
  load(d, &d.DestroyImage, "vkDestroyImage");
  load(d, &d.CreateCommandPool, "vkCreateCommandPool");
  load(d, &d.DestroyCommandPool, "vkDestroyCommandPool");
  load(d, &d.ImportSemaphoreFdKHR, "vkImportSemaphoreFdKHR");
  load(d, &d.ImportFenceFdKHR, "vkImportFenceFdKHR");
  State &s = state();
  std::lock_guard lock(s.mutex);
  s.devices[key_of(*device)] = std::move(data);
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroyDevice(VkDevice device, const VkAllocationCallbacks *alloc) {
  if (device == VK_NULL_HANDLE) return;
  DeviceData *dev = device_of(device);
  if (dev == nullptr) return;
  retire_records(dev);
  State &s = state();
  std::unique_ptr<DeviceData> owned;
  {
    std::lock_guard lock(s.mutex);
    std::erase_if(s.dmabufs, [&](const Dmabuf &d) { return d.device == device; });
    auto it = s.devices.find(key_of(device));
    owned = std::move(it->second);
    s.devices.erase(it);
  }
  owned->DestroyDevice(device, strip(alloc));
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetDeviceProcAddr(VkDevice device, const char *name);

// Device-level commands the double intercepts.
PFN_vkVoidFunction device_intercept(const char *name) {
#define SFW_ROW(fn) {"vk" #fn, reinterpret_cast<PFN_vkVoidFunction>(&fn)}
  static const struct {
    const char *name;
    PFN_vkVoidFunction fn;
  } rows[] = {SFW_ROW(GetDeviceProcAddr), SFW_ROW(DestroyDevice),    SFW_ROW(AllocateMemory),   SFW_ROW(FreeMemory),
              SFW_ROW(GetMemoryFdKHR),    SFW_ROW(CreateSemaphore),  SFW_ROW(DestroySemaphore), SFW_ROW(GetSemaphoreFdKHR),
              SFW_ROW(QueueSubmit),       SFW_ROW(QueueSubmit2),     SFW_ROW(QueueSubmit2KHR),  SFW_ROW(WaitForFences),
              SFW_ROW(QueueWaitIdle),     SFW_ROW(DeviceWaitIdle),   SFW_ROW(CreateImage),      SFW_ROW(DestroyImage),
              SFW_ROW(CreateFence),       SFW_ROW(DestroyFence),     SFW_ROW(CreateCommandPool), SFW_ROW(DestroyCommandPool),
              SFW_ROW(ImportSemaphoreFdKHR), SFW_ROW(ImportFenceFdKHR)};
#undef SFW_ROW
  for (const auto &row : rows)
    if (strcmp(row.name, name) == 0) return row.fn;
  return nullptr;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetDeviceProcAddr(VkDevice device, const char *name) {
  if (name == nullptr || device == VK_NULL_HANDLE) return nullptr;
  DeviceData *dev = device_of(device);
  if (dev == nullptr) return nullptr;
  PFN_vkVoidFunction next = dev->gdpa(device, name);
  if (next == nullptr) return nullptr; // not enabled below: neither here
  if (PFN_vkVoidFunction mine = device_intercept(name)) return mine;
  return next;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL GetInstanceProcAddr(VkInstance instance, const char *name) {
  if (name == nullptr) return nullptr;
  if (strcmp(name, "vkGetInstanceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&GetInstanceProcAddr);
  if (strcmp(name, "vkCreateInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&CreateInstance);
  if (strcmp(name, "vkGetDeviceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&GetDeviceProcAddr);
  if (instance == VK_NULL_HANDLE) return nullptr;
  PFN_vkGetInstanceProcAddr gipa;
  {
    State &s = state();
    std::lock_guard lock(s.mutex);
    auto it = s.instances.find(key_of(instance));
    if (it == s.instances.end()) return nullptr;
    gipa = it->second.gipa;
  }
  PFN_vkVoidFunction next = gipa(instance, name);
  if (next == nullptr) return nullptr;
  if (strcmp(name, "vkDestroyInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&DestroyInstance);
  if (strcmp(name, "vkCreateDevice") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&CreateDevice);
  if (PFN_vkVoidFunction mine = device_intercept(name)) return mine;
  return next;
}

} // namespace

// ---- the loader's interface ------------------------------------------------------------------------------

SFW_EXPORT VKAPI_ATTR VkResult VKAPI_CALL vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *version) {
  if (version == nullptr || version->sType != LAYER_NEGOTIATE_INTERFACE_STRUCT || version->loaderLayerInterfaceVersion < 2)
    return VK_ERROR_INITIALIZATION_FAILED;
  version->loaderLayerInterfaceVersion = 2;
  version->pfnGetInstanceProcAddr = &GetInstanceProcAddr;
  version->pfnGetDeviceProcAddr = &GetDeviceProcAddr;
  version->pfnGetPhysicalDeviceProcAddr = nullptr;
  return VK_SUCCESS;
}

SFW_EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance instance, const char *name) {
  return GetInstanceProcAddr(instance, name);
}

SFW_EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice device, const char *name) {
  return GetDeviceProcAddr(device, name);
}

// ---- the test's interface (test_double.h) -----------------------------------------------------------------

SFW_EXPORT int sfw_test_double_dmabufs(int *fds, int max) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  int n = static_cast<int>(s.dmabufs.size());
  for (int i = 0; i < n && i < max; ++i) fds[i] = fcntl(s.dmabufs[static_cast<size_t>(i)].fd.get(), F_DUPFD_CLOEXEC, 0);
  return n;
}

SFW_EXPORT int sfw_test_double_dmabuf_of_image(uint64_t image) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  for (const Dmabuf &d : s.dmabufs)
    if (reinterpret_cast<uint64_t>(d.image) == image) return fcntl(d.fd.get(), F_DUPFD_CLOEXEC, 0);
  return -1;
}

SFW_EXPORT void sfw_test_double_arm_gate(uint32_t nth) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  s.gate_generation++;
  s.armed.store(nth);
}

SFW_EXPORT void sfw_test_double_open_gate(void) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  s.opened_generation = s.gate_generation;
  s.gate_cv.notify_all();
}

SFW_EXPORT void sfw_test_double_window(int open) { state().window.store(open != 0); }

SFW_EXPORT void sfw_test_double_hold_fences(uint32_t ms) {
  state().fences_held_until.store((std::chrono::steady_clock::now() + std::chrono::milliseconds(ms)).time_since_epoch().count());
}

SFW_EXPORT void sfw_test_double_get_stats(struct sfw_test_double_stats *out) {
  State &s = state();
  std::lock_guard lock(s.mutex);
  *out = s.stats;
}
