// The validation layer's errors, collected through VK_EXT_debug_utils (tests/vm programs that load it below
// or above syncfile-wsi).
#pragma once

#include <vulkan/vulkan.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sfw::test {

#define SFW_VALIDATION_DIR "/usr/share/vulkan/explicit_layer.d" // Debian's vulkan-validationlayers

struct ValidationLog {
  std::mutex mutex;
  std::vector<std::string> errors;
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT *data, void *self) {
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
      auto *log = static_cast<ValidationLog *>(self);
      std::lock_guard lock(log->mutex);
      log->errors.push_back(std::string(data->pMessageIdName ? data->pMessageIdName : "?") + ": " + (data->pMessage ? data->pMessage : ""));
    }
    return VK_FALSE;
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(errors, {});
  }
  // A messenger for errors, to chain into InstanceOptions::debug_messenger.
  VkDebugUtilsMessengerCreateInfoEXT messenger() {
    VkDebugUtilsMessengerCreateInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    info.pfnUserCallback = &ValidationLog::on_message;
    info.pUserData = this;
    return info;
  }
};

} // namespace sfw::test
