#include "swapchain/pending_acquires.hpp"

#include <algorithm>

#include "log.hpp"

namespace sfw {

void PendingAcquires::add_source(const TakeBackSource *source, uint32_t images) {
  std::lock_guard lock(mutex_);
  sources_.reserve(sources_.size() + 1);
  entries_.reserve(room_ + images + entries_.size()); // orphaned lazy entries keep their places too
  room_ += images;
  sources_.push_back({source, images});
}

bool PendingAcquires::live(const TakeBackSource *source) const noexcept {
  return std::any_of(sources_.begin(), sources_.end(), [&](const Source &s) { return s.source == source; });
}

void PendingAcquires::forget(const TakeBackSource *source) noexcept {
  std::lock_guard lock(mutex_);
  auto it_source = std::find_if(sources_.begin(), sources_.end(), [&](const Source &s) { return s.source == source; });
  if (it_source == sources_.end()) return;
  room_ -= it_source->images;
  sources_.erase(it_source);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->source.get() != source) {
      ++it;
    } else if (it->lazy) {
      it->source.reset(); // no reference to the destroyed swapchain: the app's allocator and wl_display go with it
      ++it;
    } else {
      it = entries_.erase(it);
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

void PendingAcquires::forget_image(const TakeBackSource *source, uint32_t index) noexcept {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->source.get() != source || it->index != index) {
      ++it;
    } else if (it->lazy) {
      it->source.reset(); // the submit that waits on the semaphore still signals it; the image is not taken back
      ++it;
    } else {
      it = entries_.erase(it);
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

VkResult PendingAcquires::add(Entry entry) noexcept {
  std::lock_guard lock(mutex_);
  if (entry.source && !live(entry.source.get())) return VK_SUCCESS; // destroyed meanwhile (the app's race)
  for (auto it = entries_.begin(); it != entries_.end();)
    if ((it->source == entry.source && entry.source && it->index == entry.index) ||
        (entry.semaphore != VK_NULL_HANDLE && it->semaphore == entry.semaphore)) {
      it = entries_.erase(it);
      count_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      ++it;
    }
  if (entries_.size() == entries_.capacity()) { // cannot happen (add_source made room); never allocate here
    SFW_ERROR("vkAcquireNextImageKHR: no room to remember image %u for its take-back", entry.index);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  entries_.push_back(std::move(entry));
  count_.fetch_add(1, std::memory_order_relaxed);
  return VK_SUCCESS;
}

void PendingAcquires::clear() noexcept {
  std::lock_guard lock(mutex_);
  entries_.clear();
  sources_.clear();
  room_ = 0;
  count_.store(0, std::memory_order_relaxed);
}

size_t PendingAcquires::size() const noexcept {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// Back as they were, unless their swapchain went meanwhile (then as forget() leaves them) or a newer
// acquire replaced them. They came out of this list, so the room is there.
void PendingAcquires::give_back(Vector<Entry> *entries) noexcept {
  std::lock_guard lock(mutex_);
  for (Entry &e : *entries) {
    if (e.source && !live(e.source.get())) {
      if (!e.lazy) continue;
      e.source.reset();
    }
    bool replaced = std::any_of(entries_.begin(), entries_.end(), [&](const Entry &x) {
      return (e.semaphore != VK_NULL_HANDLE && x.semaphore == e.semaphore) || (e.source && x.source == e.source && x.index == e.index);
    });
    if (replaced || entries_.size() == entries_.capacity()) continue;
    entries_.push_back(std::move(e));
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  entries->clear();
}

PendingAcquires::Claim::Claim(PendingAcquires &list, ClaimScratch &scratch) noexcept : list_(list), s_(scratch) {
  s_.entries.clear(); // a claim's entries hold swapchains: none is left in a scratch between calls
}

PendingAcquires::Claim::~Claim() {
  if (!committed_ && !s_.entries.empty()) list_.give_back(&s_.entries);
  s_.entries.clear();
}

VkResult PendingAcquires::Claim::prepare(uint32_t family, bool record_commands) noexcept {
  for (size_t i = 0; i < s_.entries.size(); ++i) {
    s_.takes[i] = TakeBack{};
    s_.into[i] = kOwnBatch;
    if (!s_.entries[i].source) continue; // its swapchain is gone: only the lazy semaphore's signal is left
    VkResult r = s_.entries[i].source->prepare_take_back(s_.entries[i].index, family, record_commands, &s_.takes[i]);
    if (r != VK_SUCCESS) return r;
  }
  return VK_SUCCESS;
}

// A loaded semaphore with nothing to transfer needs no batch: waiting on it and signalling it again changes nothing.
bool PendingAcquires::Claim::has_work(size_t i) const noexcept {
  return s_.takes[i].cmd != VK_NULL_HANDLE || s_.takes[i].reads != VK_NULL_HANDLE || s_.entries[i].lazy;
}

bool PendingAcquires::Claim::only_transfer(size_t i) const noexcept {
  const Entry &e = s_.entries[i];
  return s_.takes[i].cmd != VK_NULL_HANDLE && s_.takes[i].reads == VK_NULL_HANDLE && !e.lazy && e.semaphore != VK_NULL_HANDLE;
}

namespace {
constexpr VkPipelineStageFlags kAllCommands = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;

// Where the layer may put a command buffer first: pNext holds only what it knows leaves command buffers
// alone (a device-group chain counts them, a protected batch takes only protected ones), and the app's
// wait on `semaphore` blocks some stage (TOP_OF_PIPE alone blocks nothing, so nothing would order the barrier).
bool takes_command_buffer(const VkSubmitInfo &b, VkSemaphore semaphore) noexcept {
  for (auto *p = static_cast<const VkBaseInStructure *>(b.pNext); p != nullptr; p = p->pNext)
    if (p->sType != VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO) return false;
  for (uint32_t w = 0; w < b.waitSemaphoreCount; ++w)
    if (b.pWaitSemaphores[w] == semaphore)
      return (b.pWaitDstStageMask[w] & ~VkPipelineStageFlags(VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT)) != 0;
  return false;
}
bool takes_command_buffer(const VkSubmitInfo2 &b, VkSemaphore semaphore) noexcept {
  if (b.pNext != nullptr || (b.flags & VK_SUBMIT_PROTECTED_BIT) != 0) return false;
  for (uint32_t w = 0; w < b.waitSemaphoreInfoCount; ++w)
    if (b.pWaitSemaphoreInfos[w].semaphore == semaphore)
      return (b.pWaitSemaphoreInfos[w].stageMask & ~VkPipelineStageFlags2(VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT)) != 0;
  return false;
}
uint32_t command_count(const VkSubmitInfo &b) noexcept { return b.commandBufferCount; }
uint32_t command_count(const VkSubmitInfo2 &b) noexcept { return b.commandBufferInfoCount; }
} // namespace

// Which app batch, if any, each take-back goes first in: the first that waits on its semaphore (a binary
// semaphore has one waiter), if that batch can take it.
template <typename Info> void PendingAcquires::Claim::place(uint32_t count, const Info *app) {
  for (size_t i = 0; i < s_.entries.size(); ++i) {
    s_.into[i] = kOwnBatch;
    if (!only_transfer(i)) continue;
    for (uint32_t j = 0; j < count; ++j)
      if (takes_command_buffer(app[j], s_.entries[i].semaphore)) {
        s_.into[i] = j;
        break;
      }
  }
}

void PendingAcquires::Claim::append_batches(Vector<VkSubmitInfo> *out) {
  out->reserve(out->size() + s_.entries.size());
  for (size_t i = 0; i < s_.entries.size(); ++i) {
    if (!has_work(i) || s_.into[i] != kOwnBatch) continue;
    const Entry &e = s_.entries[i];
    const TakeBack &t = s_.takes[i];
    VkSubmitInfo b{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    // Wait for the compositor's reads: in the layer's semaphore (fence-only) or the app's (loaded at acquire).
    const VkSemaphore *wait = t.reads != VK_NULL_HANDLE ? &t.reads : !e.lazy && e.semaphore != VK_NULL_HANDLE ? &e.semaphore : nullptr;
    b.waitSemaphoreCount = wait != nullptr ? 1 : 0;
    b.pWaitSemaphores = wait;
    b.pWaitDstStageMask = &kAllCommands;
    b.commandBufferCount = t.cmd != VK_NULL_HANDLE ? 1 : 0;
    b.pCommandBuffers = &t.cmd;
    b.signalSemaphoreCount = e.semaphore != VK_NULL_HANDLE ? 1 : 0;
    b.pSignalSemaphores = &e.semaphore;
    out->push_back(b);
  }
}

void PendingAcquires::Claim::append_batches(Vector<VkSubmitInfo2> *out) {
  s_.infos2.resize(s_.entries.size());
  out->reserve(out->size() + s_.entries.size());
  for (size_t i = 0; i < s_.entries.size(); ++i) {
    if (!has_work(i) || s_.into[i] != kOwnBatch) continue;
    const Entry &e = s_.entries[i];
    const TakeBack &t = s_.takes[i];
    ClaimScratch::Infos2 &in = s_.infos2[i];
    VkSemaphore wait = t.reads != VK_NULL_HANDLE ? t.reads : !e.lazy ? e.semaphore : VK_NULL_HANDLE;
    in.wait = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, wait, 0, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    in.signal = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, e.semaphore, 0, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    in.cmd = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, t.cmd, 0};
    VkSubmitInfo2 b{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    b.waitSemaphoreInfoCount = wait != VK_NULL_HANDLE ? 1 : 0;
    b.pWaitSemaphoreInfos = &in.wait;
    b.commandBufferInfoCount = t.cmd != VK_NULL_HANDLE ? 1 : 0;
    b.pCommandBufferInfos = &in.cmd;
    b.signalSemaphoreInfoCount = e.semaphore != VK_NULL_HANDLE ? 1 : 0;
    b.pSignalSemaphoreInfos = &in.signal;
    out->push_back(b);
  }
}

namespace {
// The two submit structures' command buffer lists, for one with_app_batches that serves both.
VkCommandBuffer command_entry(VkCommandBuffer cmd, const VkSubmitInfo &) noexcept { return cmd; }
VkCommandBufferSubmitInfo command_entry(VkCommandBuffer cmd, const VkSubmitInfo2 &) noexcept {
  return {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
}
const VkCommandBuffer *commands(const VkSubmitInfo &b) noexcept { return b.pCommandBuffers; }
const VkCommandBufferSubmitInfo *commands(const VkSubmitInfo2 &b) noexcept { return b.pCommandBufferInfos; }
void set_commands(VkSubmitInfo *b, const VkCommandBuffer *cmds, size_t n) noexcept {
  b->pCommandBuffers = cmds;
  b->commandBufferCount = static_cast<uint32_t>(n);
}
void set_commands(VkSubmitInfo2 *b, const VkCommandBufferSubmitInfo *cmds, size_t n) noexcept {
  b->pCommandBufferInfos = cmds;
  b->commandBufferInfoCount = static_cast<uint32_t>(n);
}
} // namespace

template <typename Info, typename Cmd>
std::span<const Info> PendingAcquires::Claim::merge(uint32_t count, const Info *app, Vector<Info> *batches, Vector<Cmd> *cmds) {
  place(count, app);
  size_t room = 0;
  for (size_t i = 0; i < s_.entries.size(); ++i)
    if (s_.into[i] != kOwnBatch) ++room;
  for (uint32_t j = 0; j < count; ++j)
    if (std::find(s_.into.begin(), s_.into.end(), j) != s_.into.end()) room += command_count(app[j]);
  batches->clear();
  cmds->clear();
  cmds->reserve(room); // no reallocation below: the batches point into it
  append_batches(batches);
  batches->reserve(batches->size() + count);
  for (uint32_t j = 0; j < count; ++j) {
    Info b = app[j];
    const size_t first = cmds->size();
    for (size_t i = 0; i < s_.entries.size(); ++i)
      if (s_.into[i] == j) cmds->push_back(command_entry(s_.takes[i].cmd, b));
    if (cmds->size() != first) {
      cmds->insert(cmds->end(), commands(b), commands(b) + command_count(b));
      set_commands(&b, cmds->data() + first, cmds->size() - first);
    }
    batches->push_back(b);
  }
  return *batches;
}

std::span<const VkSubmitInfo> PendingAcquires::Claim::with_app_batches(uint32_t count, const VkSubmitInfo *app) {
  return merge(count, app, &s_.batches, &s_.cmds);
}

std::span<const VkSubmitInfo2> PendingAcquires::Claim::with_app_batches(uint32_t count, const VkSubmitInfo2 *app) {
  return merge(count, app, &s_.batches2, &s_.cmd_infos);
}

void PendingAcquires::Claim::commit() noexcept {
  for (size_t i = 0; i < s_.entries.size(); ++i)
    if (s_.entries[i].source) s_.entries[i].source->commit_take_back(s_.entries[i].index, s_.takes[i]);
  committed_ = true;
}

} // namespace sfw
