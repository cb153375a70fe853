// The entry-point table and the registry-generated list of handle-carrying commands.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "handle_commands.hpp"
#include "intercepts.hpp"
#include "state.hpp"

using namespace sfw::layer;

// tests/unit/handle_commands.list: every handle-carrying command, marked `handled` or `hidden`.
static std::map<std::string, std::string> reviewed_carriers() {
  std::map<std::string, std::string> list;
  std::ifstream in(SFW_HANDLE_COMMANDS_LIST);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, what;
    fields >> name >> what;
    list[name] = what;
  }
  return list;
}

// The table is checked against a list kept by hand, not against itself: a row dropped from
// layer/entrypoints.hpp (the command would silently become hidden) fails here.
TEST(EntryPoints, TableMatchesTheReviewedCarrierList) {
  const std::map<std::string, std::string> reviewed = reviewed_carriers();
  ASSERT_FALSE(reviewed.empty()) << "cannot read " << SFW_HANDLE_COMMANDS_LIST;
  std::set<std::string> registry(kHandleCarryingCommands.begin(), kHandleCarryingCommands.end());
  for (const std::string &name : registry)
    EXPECT_EQ(reviewed.count(name), 1u) << name << " carries a swapchain or surface (vk.xml) but is not in "
                                        << SFW_HANDLE_COMMANDS_LIST << ": review it and add it";
  for (const auto &[name, what] : reviewed) {
    EXPECT_EQ(registry.count(name), 1u) << name << " is listed but the registry has no such carrier";
    ASSERT_TRUE(what == "handled" || what == "hidden") << name << ": " << what;
    const bool handled = find_intercept(name.c_str()) != nullptr;
    EXPECT_EQ(handled, what == "handled") << name << " is listed as " << what;
    EXPECT_EQ(is_hidden_command(name.c_str()), what == "hidden") << name;
  }
}

TEST(EntryPoints, NoCoreCommandIsHidden) {
  ASSERT_FALSE(kCoreHandleCarryingCommands.empty());
  for (std::string_view name : kCoreHandleCarryingCommands) {
    std::string n(name);
    EXPECT_FALSE(is_hidden_command(n.c_str())) << n << " is core Vulkan: GetProcAddr must answer it";
    EXPECT_NE(find_intercept(n.c_str()), nullptr) << n;
  }
}

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
