// The entry-point table and the registry-generated list of handle-carrying commands.
#include <gtest/gtest.h>

#include <string>

#include "handle_commands.hpp"
#include "intercepts.hpp"
#include "state.hpp"

using namespace sfw::layer;

TEST(EntryPoints, EveryHandleCarrierIsHandledOrHidden) {
  for (std::string_view name : kHandleCarryingCommands) {
    std::string n(name);
    bool handled = find_intercept(n.c_str()) != nullptr;
    EXPECT_NE(handled, is_hidden_command(n.c_str())) << n;
  }
}

TEST(EntryPoints, RegistryFindsTheCommandsTheIssueNames) {
  // Parameters, structure members, pNext extensions and aliases.
  for (const char *name : {"vkQueuePresentKHR", "vkAcquireNextImage2KHR", "vkCreateImage", "vkBindImageMemory2",
                           "vkBindImageMemory2KHR", "vkGetPhysicalDeviceSurfaceFormats2KHR", "vkCreateSharedSwapchainsKHR",
                           "vkGetPhysicalDeviceSurfaceCapabilities2EXT", "vkDestroySurfaceKHR", "vkSetLocalDimmingAMD"}) {
    bool found = false;
    for (std::string_view c : kHandleCarryingCommands) found |= (c == name);
    EXPECT_TRUE(found) << name;
  }
  // Output-only handles carry nothing in: other platforms' surfaces stay the driver's.
  for (std::string_view c : kHandleCarryingCommands) {
    EXPECT_NE(c, "vkCreateXlibSurfaceKHR");
    EXPECT_NE(c, "vkCreateWaylandSurfaceKHR");
  }
}

TEST(EntryPoints, InterceptsEverythingTheIssueLists) {
  for (const char *name :
       {"vkCreateDevice", "vkDestroyInstance", "vkDestroyDevice", "vkGetDeviceQueue", "vkGetDeviceQueue2",
        "vkQueueSubmit", "vkQueueSubmit2", "vkQueueSubmit2KHR", "vkQueuePresentKHR", "vkCreateSwapchainKHR",
        "vkDestroySwapchainKHR", "vkGetSwapchainImagesKHR", "vkAcquireNextImageKHR", "vkAcquireNextImage2KHR",
        "vkGetSwapchainStatusKHR", "vkReleaseSwapchainImagesEXT", "vkWaitForPresentKHR", "vkSetHdrMetadataEXT",
        "vkGetDeviceGroupPresentCapabilitiesKHR", "vkGetDeviceGroupSurfacePresentModesKHR",
        "vkSetDebugUtilsObjectNameEXT", "vkSetDebugUtilsObjectTagEXT", "vkDebugMarkerSetObjectNameEXT",
        "vkDebugMarkerSetObjectTagEXT", "vkSetPrivateData", "vkGetPrivateData", "vkSetPrivateDataEXT",
        "vkGetPrivateDataEXT", "vkGetSwapchainCounterEXT", "vkGetRefreshCycleDurationGOOGLE",
        "vkGetPastPresentationTimingGOOGLE", "vkCreateSharedSwapchainsKHR", "vkSetLocalDimmingAMD",
        "vkGetPhysicalDeviceSurfaceCapabilities2EXT", "vkQueueBindSparse", "vkEnumerateDeviceExtensionProperties",
        "vkGetPhysicalDeviceFeatures2", "vkGetPhysicalDeviceFeatures2KHR", "vkCreateImage", "vkBindImageMemory2",
        "vkCreateWaylandSurfaceKHR", "vkDestroySurfaceKHR", "vkGetPhysicalDeviceSurfaceSupportKHR",
        "vkGetPhysicalDeviceSurfaceCapabilitiesKHR", "vkGetPhysicalDeviceSurfaceCapabilities2KHR",
        "vkGetPhysicalDeviceSurfaceFormatsKHR", "vkGetPhysicalDeviceSurfaceFormats2KHR",
        "vkGetPhysicalDeviceSurfacePresentModesKHR", "vkGetPhysicalDevicePresentRectanglesKHR",
        "vkGetPhysicalDeviceWaylandPresentationSupportKHR"}) {
    const Intercept *row = find_intercept(name);
    ASSERT_NE(row, nullptr) << name;
    EXPECT_NE(row->function, nullptr) << name;
  }
}

TEST(EntryPoints, HidesUnhandledCarriersOnly) {
  EXPECT_TRUE(is_hidden_command("vkAcquireFullScreenExclusiveModeEXT"));
  EXPECT_TRUE(is_hidden_command("vkGetPhysicalDeviceSurfacePresentModes2EXT"));
  EXPECT_FALSE(is_hidden_command("vkQueuePresentKHR"));
  EXPECT_FALSE(is_hidden_command("vkCreateBuffer"));
  EXPECT_FALSE(is_hidden_command("vkCreateXlibSurfaceKHR"));
}

TEST(EntryPoints, GatesFollowWhatTheAppEnabled) {
  EnabledSet app;
  app.api_version = VK_API_VERSION_1_1;
  app.extensions = {"VK_KHR_swapchain"};
  EXPECT_TRUE(app.allows("", 0));
  EXPECT_TRUE(app.allows("VK_KHR_swapchain", 0));
  EXPECT_FALSE(app.allows("VK_KHR_present_wait", 0));
  EXPECT_TRUE(app.allows("", VK_API_VERSION_1_1));
  EXPECT_FALSE(app.allows("", VK_API_VERSION_1_3));
  EXPECT_TRUE(app.allows("VK_KHR_swapchain", VK_API_VERSION_1_3)); // core or extension
  EXPECT_FALSE(app.allows("VK_KHR_synchronization2", VK_API_VERSION_1_3));
}
