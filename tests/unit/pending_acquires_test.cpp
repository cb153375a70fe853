// PendingAcquires: the one owner of the take-back rule (issue 13). The swapchain side is a TEST DOUBLE
// (FakeSource, below): it records what the list asks of it and hands out made-up Vulkan handles, which
// nothing here passes to a driver.
#include "swapchain/pending_acquires.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using sfw::PendingAcquires;
using sfw::TakeBack;
using sfw::TakeBackSource;
using sfw::Vector;

template <typename T> T handle(uintptr_t v) { return reinterpret_cast<T>(v); }

// TEST DOUBLE of a swapchain's take-back side.
struct FakeSource final : TakeBackSource {
  PendingAcquires *list = nullptr;
  bool released = true;                    // the image went to the compositor's queue family
  VkSemaphore reads = VK_NULL_HANDLE;      // a fence-only acquire's reads semaphore
  VkResult result = VK_SUCCESS;
  std::vector<uint32_t> families;          // of each prepare
  std::vector<uint32_t> committed;         // image indices
  size_t list_size_seen = 0;

  VkResult prepare_take_back(uint32_t index, uint32_t family, bool record_commands, TakeBack *out) noexcept override {
    families.push_back(family);
    list_size_seen = list->size(); // takes the list's lock: would deadlock if the claim held it
    if (result != VK_SUCCESS) return result;
    if (released && record_commands) out->cmd = handle<VkCommandBuffer>(0x100 + index);
    out->transfer_skipped = released && !record_commands;
    out->reads = reads;
    return VK_SUCCESS;
  }
  void commit_take_back(uint32_t index, const TakeBack &) noexcept override { committed.push_back(index); }
};

class PendingAcquiresTest : public ::testing::Test {
protected:
  void SetUp() override {
    a = std::make_shared<FakeSource>();
    b = std::make_shared<FakeSource>();
    a->list = b->list = &list;
    list.add_source(a.get(), 4);
    list.add_source(b.get(), 4);
  }
  PendingAcquires::Entry entry(VkSemaphore s, const std::shared_ptr<FakeSource> &src, uint32_t index, bool lazy = false) {
    return {s, src, index, lazy};
  }
  PendingAcquires list;
  std::shared_ptr<FakeSource> a, b;
  VkSemaphore s1 = handle<VkSemaphore>(1), s2 = handle<VkSemaphore>(2), s3 = handle<VkSemaphore>(3);
};

auto picks(std::vector<VkSemaphore> semaphores) {
  return [semaphores](const PendingAcquires::Entry &e) {
    for (VkSemaphore s : semaphores)
      if (e.semaphore == s) return true;
    return false;
  };
}

TEST_F(PendingAcquiresTest, BatchesInClaimOrderEachWaitsTransfersAndSignalsAgain) {
  ASSERT_EQ(list.add(entry(s1, a, 0)), VK_SUCCESS);
  ASSERT_EQ(list.add(entry(s2, b, 1)), VK_SUCCESS);
  ASSERT_EQ(list.add(entry(s3, a, 2)), VK_SUCCESS);
  EXPECT_TRUE(list.any());
  PendingAcquires::Claim claim(list);
  claim.take(picks({s2, s1}));
  EXPECT_EQ(list.size(), 1u); // s3 stays
  ASSERT_EQ(claim.prepare(7, true), VK_SUCCESS);
  Vector<VkSubmitInfo> batches;
  claim.append_batches(&batches);
  ASSERT_EQ(batches.size(), 2u);
  // The list's order (the acquires' order), not the app's wait order.
  EXPECT_EQ(batches[0].pWaitSemaphores[0], s1);
  EXPECT_EQ(batches[0].pSignalSemaphores[0], s1);
  EXPECT_EQ(batches[0].pCommandBuffers[0], handle<VkCommandBuffer>(0x100));
  EXPECT_EQ(batches[1].pWaitSemaphores[0], s2);
  EXPECT_EQ(batches[1].pCommandBuffers[0], handle<VkCommandBuffer>(0x101));
  for (const auto &batch : batches) {
    EXPECT_EQ(batch.pNext, nullptr);
    EXPECT_EQ(batch.waitSemaphoreCount, 1u);
    EXPECT_EQ(batch.commandBufferCount, 1u);
    EXPECT_EQ(batch.signalSemaphoreCount, 1u);
  }
  claim.commit();
  EXPECT_EQ(a->committed, std::vector<uint32_t>{0});
  EXPECT_EQ(b->committed, std::vector<uint32_t>{1});
}

TEST_F(PendingAcquiresTest, PreparedOnTheClaimingQueuesFamilyWithoutTheListLock) {
  list.add(entry(VK_NULL_HANDLE, a, 3)); // fence-only
  PendingAcquires::Claim claim(list);
  claim.take([](const PendingAcquires::Entry &e) { return e.semaphore == VK_NULL_HANDLE; });
  ASSERT_EQ(claim.prepare(2, true), VK_SUCCESS);
  EXPECT_EQ(a->families, std::vector<uint32_t>{2});
  EXPECT_EQ(a->list_size_seen, 0u);
}

TEST_F(PendingAcquiresTest, FenceOnlyWaitsOnTheLayersReadsSemaphoreAndSignalsNothing) {
  VkSemaphore reads = handle<VkSemaphore>(0x55);
  a->reads = reads;
  list.add(entry(VK_NULL_HANDLE, a, 1));
  PendingAcquires::Claim claim(list);
  claim.take([](const PendingAcquires::Entry &) { return true; });
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  Vector<VkSubmitInfo> batches;
  claim.append_batches(&batches);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].waitSemaphoreCount, 1u);
  EXPECT_EQ(batches[0].pWaitSemaphores[0], reads);
  EXPECT_EQ(batches[0].commandBufferCount, 1u);
  EXPECT_EQ(batches[0].signalSemaphoreCount, 0u);
}

TEST_F(PendingAcquiresTest, LazySemaphoreIsSignalledWithoutWaitingOnIt) {
  list.add(entry(s1, a, 0, true));
  PendingAcquires::Claim claim(list);
  claim.take(picks({s1}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  Vector<VkSubmitInfo2> batches; // the same through vkQueueSubmit2
  claim.append_batches(&batches);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].waitSemaphoreInfoCount, 0u);
  EXPECT_EQ(batches[0].commandBufferInfoCount, 1u);
  EXPECT_EQ(batches[0].pCommandBufferInfos[0].commandBuffer, handle<VkCommandBuffer>(0x100));
  ASSERT_EQ(batches[0].signalSemaphoreInfoCount, 1u);
  EXPECT_EQ(batches[0].pSignalSemaphoreInfos[0].semaphore, s1);
}

TEST_F(PendingAcquiresTest, AQueueThatCannotRecordSkipsTheTransferAndALoadedSemaphoreNeedsNoBatch) {
  list.add(entry(s1, a, 0));
  PendingAcquires::Claim claim(list);
  claim.take(picks({s1}));
  ASSERT_EQ(claim.prepare(0, false), VK_SUCCESS);
  Vector<VkSubmitInfo> batches;
  claim.append_batches(&batches);
  EXPECT_TRUE(batches.empty()); // wait on s1 and signal it again: nothing to do
  claim.commit();
  EXPECT_EQ(a->committed, std::vector<uint32_t>{0});
}

TEST_F(PendingAcquiresTest, UncommittedClaimGivesEveryEntryBack) {
  list.add(entry(s1, a, 0));
  list.add(entry(VK_NULL_HANDLE, b, 2));
  {
    PendingAcquires::Claim claim(list);
    claim.take([](const PendingAcquires::Entry &) { return true; });
    EXPECT_FALSE(list.any());
    ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
    // the driver refused the submit: no commit
  }
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(a->committed.empty());
  PendingAcquires::Claim again(list);
  again.take(picks({s1}));
  EXPECT_FALSE(again.empty());
}

TEST_F(PendingAcquiresTest, FailedPrepareChangesNothing) {
  list.add(entry(s1, a, 0));
  a->result = VK_ERROR_OUT_OF_HOST_MEMORY;
  {
    PendingAcquires::Claim claim(list);
    claim.take(picks({s1}));
    EXPECT_EQ(claim.prepare(0, true), VK_ERROR_OUT_OF_HOST_MEMORY);
  }
  EXPECT_EQ(list.size(), 1u);
  EXPECT_TRUE(a->committed.empty());
}

TEST_F(PendingAcquiresTest, NewerAcquireReplacesTheImagesAndTheSemaphoresEntry) {
  list.add(entry(s1, a, 0));
  list.add(entry(s2, a, 0)); // the same image again
  EXPECT_EQ(list.size(), 1u);
  list.add(entry(s2, b, 1)); // the same semaphore again
  EXPECT_EQ(list.size(), 1u);
  PendingAcquires::Claim claim(list);
  claim.take(picks({s2}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  claim.commit();
  EXPECT_EQ(b->committed, std::vector<uint32_t>{1});
  EXPECT_TRUE(a->committed.empty());
}

TEST_F(PendingAcquiresTest, RoomForEveryImageOfEverySwapchain) {
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_EQ(list.add(entry(handle<VkSemaphore>(10 + i), a, i)), VK_SUCCESS);
    ASSERT_EQ(list.add(entry(handle<VkSemaphore>(20 + i), b, i)), VK_SUCCESS);
  }
  EXPECT_EQ(list.size(), 8u);
}

TEST_F(PendingAcquiresTest, DestroyedSwapchainKeepsOnlyLazySignalsAndNoReference) {
  list.add(entry(s1, a, 0));       // loaded: dropped
  list.add(entry(s2, a, 1, true)); // lazy: kept, signal-only
  list.add(entry(s3, b, 0));
  std::weak_ptr<FakeSource> gone = a;
  list.forget(a.get());
  a.reset();
  EXPECT_TRUE(gone.expired()); // the list holds no reference to a destroyed swapchain
  EXPECT_EQ(list.size(), 2u);
  PendingAcquires::Claim claim(list);
  claim.take(picks({s2}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  Vector<VkSubmitInfo> batches;
  claim.append_batches(&batches);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].waitSemaphoreCount, 0u);
  EXPECT_EQ(batches[0].commandBufferCount, 0u);
  ASSERT_EQ(batches[0].signalSemaphoreCount, 1u);
  EXPECT_EQ(batches[0].pSignalSemaphores[0], s2);
  claim.commit();
  EXPECT_EQ(list.size(), 1u); // b's
  EXPECT_TRUE(list.any());
}

TEST_F(PendingAcquiresTest, GiveBackAfterTheSwapchainWentKeepsOnlyLazy) {
  list.add(entry(s1, a, 0));
  list.add(entry(s2, a, 1, true));
  {
    PendingAcquires::Claim claim(list);
    claim.take([](const PendingAcquires::Entry &) { return true; });
    list.forget(a.get()); // vkDestroySwapchainKHR on another thread while the submit fails
  }
  EXPECT_EQ(list.size(), 1u);
  PendingAcquires::Claim claim(list);
  claim.take(picks({s2}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  EXPECT_TRUE(a->families.empty()); // an orphan is not prepared by its old swapchain
}

TEST_F(PendingAcquiresTest, ClearEmptiesTheList) {
  list.add(entry(s1, a, 0));
  list.clear();
  EXPECT_FALSE(list.any());
  EXPECT_EQ(list.size(), 0u);
}


// Issue 15: a take-back that is only the transfer goes first in the app's batch that waits on the
// acquire semaphore; the driver sees no batch or semaphore of the layer's.
TEST_F(PendingAcquiresTest, TransferGoesFirstInTheAppsWaitingBatch) {
  list.add(entry(s1, a, 0));
  list.add(entry(s2, b, 1));
  PendingAcquires::ClaimScratch scratch;
  PendingAcquires::Claim claim(list, scratch);
  claim.take(picks({s1, s2}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  VkCommandBuffer app_cmds[2] = {handle<VkCommandBuffer>(0x900), handle<VkCommandBuffer>(0x901)};
  const VkPipelineStageFlags color = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, top = VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT;
  VkSubmitInfo app[2] = {{VK_STRUCTURE_TYPE_SUBMIT_INFO}, {VK_STRUCTURE_TYPE_SUBMIT_INFO}};
  app[0].waitSemaphoreCount = 1;
  app[0].pWaitSemaphores = &s1;
  app[0].pWaitDstStageMask = &color;
  app[0].commandBufferCount = 2;
  app[0].pCommandBuffers = app_cmds;
  // TOP_OF_PIPE blocks nothing: nothing would order a barrier there, so s2's take-back keeps its own batch.
  app[1].waitSemaphoreCount = 1;
  app[1].pWaitSemaphores = &s2;
  app[1].pWaitDstStageMask = &top;
  auto batches = claim.with_app_batches(2, app);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].pWaitSemaphores[0], s2); // its own batch, first
  EXPECT_EQ(batches[0].pSignalSemaphores[0], s2);
  EXPECT_EQ(batches[1].pWaitSemaphores, app[0].pWaitSemaphores);
  ASSERT_EQ(batches[1].commandBufferCount, 3u);
  EXPECT_EQ(batches[1].pCommandBuffers[0], handle<VkCommandBuffer>(0x100));
  EXPECT_EQ(batches[1].pCommandBuffers[1], app_cmds[0]);
  EXPECT_EQ(batches[1].pCommandBuffers[2], app_cmds[1]);
  EXPECT_EQ(batches[2].commandBufferCount, 0u); // the app's, unchanged
  claim.commit();
  EXPECT_EQ(a->committed, std::vector<uint32_t>{0});
  EXPECT_EQ(b->committed, std::vector<uint32_t>{1});
}

TEST_F(PendingAcquiresTest, ABatchWithAnUnknownChainOrProtectedGetsNoCommandBuffer) {
  list.add(entry(s1, a, 0));
  PendingAcquires::Claim claim(list);
  claim.take(picks({s1}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  VkDeviceGroupSubmitInfo group{VK_STRUCTURE_TYPE_DEVICE_GROUP_SUBMIT_INFO}; // counts command buffers
  const VkPipelineStageFlags color = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  VkSubmitInfo app{VK_STRUCTURE_TYPE_SUBMIT_INFO, &group};
  app.waitSemaphoreCount = 1;
  app.pWaitSemaphores = &s1;
  app.pWaitDstStageMask = &color;
  auto batches = claim.with_app_batches(1, &app);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].pCommandBuffers[0], handle<VkCommandBuffer>(0x100));
  EXPECT_EQ(batches[1].pNext, &group);
  EXPECT_EQ(batches[1].commandBufferCount, 0u);
}

TEST_F(PendingAcquiresTest, Submit2BatchWithoutCommandBuffersTakesTheTransfer) {
  list.add(entry(s1, a, 2));
  PendingAcquires::Claim claim(list);
  claim.take(picks({s1}));
  ASSERT_EQ(claim.prepare(0, true), VK_SUCCESS);
  VkSemaphoreSubmitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s1, 0, VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT, 0};
  VkSubmitInfo2 app[2] = {{VK_STRUCTURE_TYPE_SUBMIT_INFO_2}, {VK_STRUCTURE_TYPE_SUBMIT_INFO_2}};
  app[1].waitSemaphoreInfoCount = 1;
  app[1].pWaitSemaphoreInfos = &wait;
  auto batches = claim.with_app_batches(2, app);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].commandBufferInfoCount, 0u);
  ASSERT_EQ(batches[1].commandBufferInfoCount, 1u);
  EXPECT_EQ(batches[1].pCommandBufferInfos[0].commandBuffer, handle<VkCommandBuffer>(0x102));
  EXPECT_EQ(batches[1].pWaitSemaphoreInfos, &wait);
  app[1].flags = VK_SUBMIT_PROTECTED_BIT; // a protected batch takes only protected command buffers
  auto again = claim.with_app_batches(2, app);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[2].commandBufferInfoCount, 0u);
}

} // namespace
