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

PendingAcquires::Claim::~Claim() {
  if (!committed_ && !entries_.empty()) list_.give_back(&entries_);
}

VkResult PendingAcquires::Claim::prepare(uint32_t family, bool record_commands) noexcept {
  for (size_t i = 0; i < entries_.size(); ++i) {
    takes_[i] = TakeBack{};
    if (!entries_[i].source) continue; // its swapchain is gone: only the lazy semaphore's signal is left
    VkResult r = entries_[i].source->prepare_take_back(entries_[i].index, family, record_commands, &takes_[i]);
    if (r != VK_SUCCESS) return r;
  }
  return VK_SUCCESS;
}

// A loaded semaphore with nothing to transfer needs no batch: waiting on it and signalling it again changes nothing.
bool PendingAcquires::Claim::has_work(size_t i) const noexcept {
  return takes_[i].cmd != VK_NULL_HANDLE || takes_[i].reads != VK_NULL_HANDLE || entries_[i].lazy;
}

namespace {
constexpr VkPipelineStageFlags kAllCommands = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
}

void PendingAcquires::Claim::append_batches(Vector<VkSubmitInfo> *out) {
  out->reserve(out->size() + entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!has_work(i)) continue;
    const Entry &e = entries_[i];
    const TakeBack &t = takes_[i];
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
  infos2_.resize(entries_.size());
  out->reserve(out->size() + entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!has_work(i)) continue;
    const Entry &e = entries_[i];
    const TakeBack &t = takes_[i];
    Infos2 &in = infos2_[i];
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

void PendingAcquires::Claim::commit() noexcept {
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].source) entries_[i].source->commit_take_back(entries_[i].index, takes_[i]);
  committed_ = true;
}

} // namespace sfw
