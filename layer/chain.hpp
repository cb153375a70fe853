// Finding and advancing the loader's layer chain in a create-info's pNext (LoaderLayerInterface).
#pragma once

#include <vulkan/vk_layer.h>

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

} // namespace sfw::layer
