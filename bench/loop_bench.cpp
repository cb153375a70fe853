// Issue 15 part 3, the throughput section's second frame-loop pattern (run inside the VM under weston's GL
// renderer; see bench/throughput.sh): the loop of the third-party benchmark the issue measured, rather than
// vkcube's. Per frame slot an acquire semaphore and an acquire fence: wait for the slot's fence, then acquire
// with both; one submit (a pre-recorded clear of the image) that waits on the slot's semaphore and signals one
// render-complete semaphore shared by every frame, with a fence per command buffer that is waited on before
// the command buffer is used again; the present waits on the shared semaphore. MAILBOX, SIZE x SIZE.
// It prints nothing per frame: the frame clock is the bench's counting layer, loaded above the rest
// (SFW_BENCH_COUNTING_PRESENT_CLOCK), so that vkcube-wayland and this loop are timed the same way.
//
// -x adds to every frame, after its present, what the layer's present asks of the driver besides its own
// batch: an empty submit that signals an exportable semaphore and that semaphore's SYNC_FD export (on
// lavapipe, a vkDeviceWaitIdle): the driver's share of the layer's cost, measured on the driver's own WSI.
//
// Usage: loop_bench [-n FRAMES] [-s SIZE] [-x]
#include "bench.hpp"

#include <unistd.h>

#include <vector>

using sfw::bench::Client;

namespace {

VkSemaphore make_semaphore(VkDevice device) {
  VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  VkSemaphore semaphore = VK_NULL_HANDLE;
  BENCH_CHECK(vkCreateSemaphore(device, &info, nullptr, &semaphore));
  return semaphore;
}

VkFence make_signalled_fence(VkDevice device) {
  VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  info.flags = VK_FENCE_CREATE_SIGNALED_BIT;
  VkFence fence = VK_NULL_HANDLE;
  BENCH_CHECK(vkCreateFence(device, &info, nullptr, &fence));
  return fence;
}

void wait_and_reset(VkDevice device, VkFence fence) {
  BENCH_CHECK(vkWaitForFences(device, 1, &fence, VK_TRUE, sfw::bench::kBound));
  BENCH_CHECK(vkResetFences(device, 1, &fence));
}

} // namespace

int main(int argc, char **argv) {
  int n = 1000;
  uint32_t size = 128;
  bool model_export = false;
  for (int opt; (opt = getopt(argc, argv, "n:s:x")) != -1;) {
    if (opt == 'x') model_export = true;
    else if (opt == 'n') n = atoi(optarg);
    else if (opt == 's') size = static_cast<uint32_t>(atoi(optarg));
    else {
      fprintf(stderr, "usage: loop_bench [-n FRAMES] [-s SIZE] [-x]\n");
      return 2;
    }
  }
  Client c;
  std::vector<const char *> extensions;
  if (model_export) extensions.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
  sfw::bench::init(c, VK_PRESENT_MODE_MAILBOX_KHR, size, 1, extensions);
  const VkDevice device = c.device.get();
  VkSemaphore exportable = VK_NULL_HANDLE;
  PFN_vkGetSemaphoreFdKHR get_fd = nullptr;
  if (model_export) {
    VkExportSemaphoreCreateInfo export_info{VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO};
    export_info.handleTypes = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &export_info};
    BENCH_CHECK(vkCreateSemaphore(device, &info, nullptr, &exportable));
    get_fd = reinterpret_cast<PFN_vkGetSemaphoreFdKHR>(vkGetDeviceProcAddr(device, "vkGetSemaphoreFdKHR"));
    if (get_fd == nullptr) {
      fprintf(stderr, "loop_bench: -x: no vkGetSemaphoreFdKHR\n");
      return 1;
    }
  }
  const size_t images = c.swapchain.images.size();
  std::vector<VkSemaphore> slot_acquired(images);
  std::vector<VkFence> slot_acquire_fence(images), command_fence(images);
  for (size_t i = 0; i < images; ++i) {
    slot_acquired[i] = make_semaphore(device);
    slot_acquire_fence[i] = make_signalled_fence(device);
    command_fence[i] = make_signalled_fence(device);
  }
  const VkSemaphore rendered = make_semaphore(device);
  const VkSwapchainKHR swapchain = c.swapchain.get();
  const VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_TRANSFER_BIT; // the clear's stage
  for (int frame = 0; frame < n; ++frame) {
    const size_t slot = static_cast<size_t>(frame) % images;
    wl_display_dispatch_pending(c.wayland.display());
    wait_and_reset(device, slot_acquire_fence[slot]);
    uint32_t index = 0;
    BENCH_CHECK_SUBOPTIMAL_OK(vkAcquireNextImageKHR(device, swapchain, sfw::bench::kBound, slot_acquired[slot],
                                                    slot_acquire_fence[slot], &index));
    wait_and_reset(device, command_fence[index]);
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &slot_acquired[slot];
    submit.pWaitDstStageMask = &wait_stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &c.cmds[index];
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &rendered;
    BENCH_CHECK(vkQueueSubmit(c.device.queue, 1, &submit, command_fence[index]));
    VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    present.waitSemaphoreCount = 1;
    present.pWaitSemaphores = &rendered;
    present.swapchainCount = 1;
    present.pSwapchains = &swapchain;
    present.pImageIndices = &index;
    BENCH_CHECK_SUBOPTIMAL_OK(vkQueuePresentKHR(c.device.queue, &present));
    if (model_export) {
      VkSubmitInfo signal{VK_STRUCTURE_TYPE_SUBMIT_INFO};
      signal.signalSemaphoreCount = 1;
      signal.pSignalSemaphores = &exportable;
      BENCH_CHECK(vkQueueSubmit(c.device.queue, 1, &signal, VK_NULL_HANDLE));
      VkSemaphoreGetFdInfoKHR get{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR};
      get.semaphore = exportable;
      get.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
      int fd = -1;
      BENCH_CHECK(get_fd(device, &get, &fd));
      if (fd >= 0) close(fd);
    }
  }
  BENCH_CHECK(vkDeviceWaitIdle(device));
  for (size_t i = 0; i < images; ++i) {
    vkDestroySemaphore(device, slot_acquired[i], nullptr);
    vkDestroyFence(device, slot_acquire_fence[i], nullptr);
    vkDestroyFence(device, command_fence[i], nullptr);
  }
  vkDestroySemaphore(device, rendered, nullptr);
  if (exportable != VK_NULL_HANDLE) vkDestroySemaphore(device, exportable, nullptr);
  printf("{\"device\": \"%s\", \"images\": %zu, \"frames\": %d, \"size\": %u}\n", sfw::bench::device_name(c).c_str(),
         images, n, size);
  c.destroy();
  return 0;
}
