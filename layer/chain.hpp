// Finding and advancing the loader's layer chain in a create-info's pNext (LoaderLayerInterface).
#pragma once

#include <vulkan/vk_layer.h>

#include <cstddef>

namespace sfw::layer {

template <typename LayerInfo, typename CreateInfo>
LayerInfo *find_link_info(const CreateInfo *create_info, VkStructureType loader_stype) noexcept {
  auto *p = static_cast<const VkBaseInStructure *>(create_info->pNext);
  for (; p != nullptr; p = p->pNext) {
    auto *info = reinterpret_cast<LayerInfo *>(const_cast<VkBaseInStructure *>(p));
    if (p->sType == loader_stype && info->function == VK_LAYER_LINK_INFO) return info;
  }
  return nullptr;
}

// Takes structures of given types out of a pNext chain for one call down, and links them back in when it goes
// out of scope (so before the intercepted call returns). The chain is the app's: it is relinked in place, as a
// layer cannot copy structures whose size it does not know. For what the layer serves and the driver must not see.
class ChainStrip {
public:
  explicit ChainStrip(void *head) noexcept : head_(static_cast<VkBaseOutStructure *>(head)) {}
  ~ChainStrip() {
    for (size_t i = count_; i-- > 0;) saved_[i].prev->pNext = saved_[i].removed; // in reverse: each as it was
  }
  ChainStrip(const ChainStrip &) = delete;
  ChainStrip &operator=(const ChainStrip &) = delete;

  void remove(VkStructureType type) noexcept {
    for (VkBaseOutStructure *prev = head_; prev->pNext != nullptr && count_ < kMax;) {
      if (prev->pNext->sType == type) {
        saved_[count_++] = {prev, prev->pNext};
        prev->pNext = prev->pNext->pNext;
      } else {
        prev = prev->pNext;
      }
    }
  }

private:
  static constexpr size_t kMax = 8;
  struct Removed {
    VkBaseOutStructure *prev, *removed;
  };
  VkBaseOutStructure *head_;
  Removed saved_[kMax]{};
  size_t count_ = 0;
};

} // namespace sfw::layer
