// TEST DOUBLE, not product code: the C interface of VK_LAYER_SYNCFILE_test_double
// (libVkLayer_syncfile_test_double.so), a Vulkan layer that the tests load *below* syncfile-wsi to see
// what the driver sees and to model a GPU that completes work asynchronously.
//
// The test process is the app, so it reaches the double in-process: after vkCreateInstance,
// dlopen(path, RTLD_NOW | RTLD_NOLOAD) and dlsym() these names (see SfwTestDoubleApi in sync_test.cpp).
// The product layer exports nothing private for tests; everything here lives in the double.
//
// What the double does:
//  - vkGetMemoryFdKHR (DMA_BUF): keeps a close-on-exec dup of every exported dma-buf, in export order,
//    with the image of the dedicated allocation; sfw_test_double_dmabufs() hands out dups.
//  - A gate on one designated "signalling submit": a vkQueueSubmit/vkQueueSubmit2 that signals a
//    semaphore created exportable as SYNC_FD (VkExportSemaphoreCreateInfo; syncfile-wsi's per-image
//    present semaphore). For that submit the double swaps each such semaphore for a fresh internal
//    lavapipe semaphore, adds an empty submit with an internal fence, and answers the following
//    vkGetSemaphoreFdKHR(SYNC_FD) of the swapped semaphore with a sync_file backed by an unsignalled
//    vgem fence (a fresh vgem buffer per fence) instead of calling the driver. A worker thread signals
//    that vgem fence once the internal fence has signalled (lavapipe finished the submit) AND the test
//    has opened the gate. Other submits and exports pass through untouched.
//  - Strips pAllocator from every call it passes down that takes one (device, memory, image, semaphore,
//    fence, command pool): the driver never sees the app's allocation callbacks, so an app that counts
//    its callbacks counts syncfile-wsi's own allocations only. It counts the calls that arrived with one.
//  - Holds every fence for a given time (sfw_test_double_hold_fences): a frame slower than any bound of the
//    layer, which lavapipe cannot model (its fence waits behind a wait-before-signal ignore their timeout).
//  - Counts vkWaitForFences, vkQueueWaitIdle and vkDeviceWaitIdle calls that come down the chain while
//    the test has a window open (around its own vkQueuePresentKHR).
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sfw_test_double_stats {
  uint64_t signalling_submits; // submits seen while armed that signalled an exportable semaphore
  uint64_t gated_submits;      // designated submits whose exportable semaphores were swapped
  uint64_t gated_exports;      // vkGetSemaphoreFdKHR answered with a vgem-backed sync_file
  uint64_t vgem_signals;       // vgem fences the double has signalled (work done and gate open)
  uint64_t window_wait_for_fences;   // vkWaitForFences calls inside the window(s)
  uint64_t window_queue_wait_idle;   // vkQueueWaitIdle calls inside the window(s)
  uint64_t window_device_wait_idle;  // vkDeviceWaitIdle calls inside the window(s)
  uint64_t errors;             // internal failures of the double (see last_error)
  uint64_t calls_with_allocator; // calls that came down with a pAllocator (then stripped)
  uint64_t semaphore_imports;    // vkImportSemaphoreFdKHR calls that reached the driver
  uint64_t fence_imports;        // vkImportFenceFdKHR calls that reached the driver
  uint64_t held_fence_timeouts;  // vkWaitForFences calls that timed out on a hold (sfw_test_double_hold_fences)
  char last_error[160];
};

// Up to `max` dups (close-on-exec; the caller closes them) of the dma-bufs exported by
// vkGetMemoryFdKHR and not yet freed, in export order. Returns how many exist (may exceed max).
typedef int (*PFN_sfw_test_double_dmabufs)(int *fds, int max);
// A dup of the dma-buf of the dedicated allocation of `image` (the driver's handle), or -1.
typedef int (*PFN_sfw_test_double_dmabuf_of_image)(uint64_t image);
// Gates the nth (1 = the next) signalling submit from now on, and closes the gate.
typedef void (*PFN_sfw_test_double_arm_gate)(uint32_t nth);
// Opens the gate: the designated submit's vgem fences signal once lavapipe has finished it.
typedef void (*PFN_sfw_test_double_open_gate)(void);
// Opens and closes the window in which waits are counted.
typedef void (*PFN_sfw_test_double_window)(int open);
typedef void (*PFN_sfw_test_double_get_stats)(struct sfw_test_double_stats *out);
// A slow GPU: for `ms` from now, vkWaitForFences finds no fence done (it returns VK_TIMEOUT where its timeout
// ends first, else it waits out the hold before it passes down).
typedef void (*PFN_sfw_test_double_hold_fences)(uint32_t ms);

int sfw_test_double_dmabufs(int *fds, int max);
int sfw_test_double_dmabuf_of_image(uint64_t image);
void sfw_test_double_arm_gate(uint32_t nth);
void sfw_test_double_open_gate(void);
void sfw_test_double_window(int open);
void sfw_test_double_get_stats(struct sfw_test_double_stats *out);
void sfw_test_double_hold_fences(uint32_t ms);

#ifdef __cplusplus
}
#endif
