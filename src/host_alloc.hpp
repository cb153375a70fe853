// Host memory for the layer's own state, through the app's VkAllocationCallbacks where it gave them:
// a swapchain's state with the callbacks of vkCreateSwapchainKHR (or the device's), the device's state
// and the temporaries of queue calls with the device's.
//
// HostStl<T> is the standard-library allocator for that state. It takes its callbacks, by value, from the
// ScopedHostAllocator active on this thread when the container (or object) is made, and keeps them for
// its life, so members made inside vkCreateSwapchainKHR later grow through the same callbacks from any
// thread. With no scope active it uses operator new. A failed allocation throws std::bad_alloc; every
// entry point turns that into VK_ERROR_OUT_OF_HOST_MEMORY.
//
// Not routed: libwayland's own allocations (wl_proxy and its marshalling buffers) and the driver's (the
// layer passes the app's callbacks down where a Vulkan call takes them).
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sfw {

class HostAllocator {
public:
  HostAllocator() noexcept = default; // operator new
  HostAllocator(const VkAllocationCallbacks *callbacks, VkSystemAllocationScope scope) noexcept
      : user_(callbacks ? callbacks->pUserData : nullptr), allocate_(callbacks ? callbacks->pfnAllocation : nullptr),
        free_(callbacks ? callbacks->pfnFree : nullptr), scope_(scope) {
    if (allocate_ == nullptr || free_ == nullptr) allocate_ = nullptr, free_ = nullptr, user_ = nullptr;
  }
  HostAllocator with_scope(VkSystemAllocationScope scope) const noexcept {
    HostAllocator copy = *this;
    copy.scope_ = scope;
    return copy;
  }
  // The allocator of the innermost ScopedHostAllocator on this thread, or operator new.
  static HostAllocator current() noexcept;

  void *allocate(std::size_t size, std::size_t align) const {
    if (allocate_ == nullptr) return ::operator new(size, std::align_val_t(align));
    void *p = allocate_(user_, size, align < alignof(std::max_align_t) ? alignof(std::max_align_t) : align, scope_);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void free(void *p, std::size_t size, std::size_t align) const noexcept {
    if (p == nullptr) return;
    if (free_ == nullptr) ::operator delete(p, size, std::align_val_t(align));
    else free_(user_, p);
  }
  // Memory from one may be freed by the other (the scope is only a hint to the app).
  bool operator==(const HostAllocator &o) const noexcept {
    return allocate_ == o.allocate_ && free_ == o.free_ && user_ == o.user_;
  }

private:
  void *user_ = nullptr;
  PFN_vkAllocationFunction allocate_ = nullptr;
  PFN_vkFreeFunction free_ = nullptr;
  VkSystemAllocationScope scope_ = VK_SYSTEM_ALLOCATION_SCOPE_OBJECT;
};

namespace detail {
inline thread_local HostAllocator current_host_allocator{}; // trivially destructible: no TLS destructor
} // namespace detail
inline HostAllocator HostAllocator::current() noexcept { return detail::current_host_allocator; }

// Makes `allocator` the one new HostStl containers and host_new objects take on this thread.
class ScopedHostAllocator {
public:
  explicit ScopedHostAllocator(HostAllocator allocator) noexcept : previous_(detail::current_host_allocator) {
    detail::current_host_allocator = allocator;
  }
  ~ScopedHostAllocator() { detail::current_host_allocator = previous_; }
  ScopedHostAllocator(const ScopedHostAllocator &) = delete;
  ScopedHostAllocator &operator=(const ScopedHostAllocator &) = delete;

private:
  HostAllocator previous_;
};

template <typename T> struct HostStl {
  using value_type = T;
  // Assignment and swap carry the callbacks along with the memory they allocated.
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  HostStl() noexcept : host(HostAllocator::current()) {}
  explicit HostStl(HostAllocator h) noexcept : host(h) {}
  template <typename U> HostStl(const HostStl<U> &other) noexcept : host(other.host) {}

  T *allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T *>(host.allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T *p, std::size_t n) noexcept { host.free(p, n * sizeof(T), alignof(T)); }
  template <typename U> bool operator==(const HostStl<U> &o) const noexcept { return host == o.host; }

  HostAllocator host;
};

template <typename T> using Vector = std::vector<T, HostStl<T>>;
using HostString = std::basic_string<char, std::char_traits<char>, HostStl<char>>;
template <typename K, typename V>
using HostMap = std::unordered_map<K, V, std::hash<K>, std::equal_to<K>, HostStl<std::pair<const K, V>>>;

// Owner of one object made with host_new: destroyed and freed through the callbacks it was made with.
template <typename T> struct HostDelete {
  HostAllocator host;
  void operator()(T *p) const noexcept {
    if (p == nullptr) return;
    p->~T();
    host.free(p, sizeof(T), alignof(T));
  }
};
template <typename T> using HostUnique = std::unique_ptr<T, HostDelete<T>>;

// `make` placement-constructs a T in the memory it is given (a callable, so classes can keep their
// constructors private and still be made here from their own static functions).
template <typename T, typename Make> HostUnique<T> host_new_with(Make &&make) {
  HostAllocator host = HostAllocator::current();
  void *memory = host.allocate(sizeof(T), alignof(T));
  try {
    return HostUnique<T>(make(memory), HostDelete<T>{host});
  } catch (...) {
    host.free(memory, sizeof(T), alignof(T));
    throw;
  }
}
template <typename T, typename... Args> HostUnique<T> host_new(Args &&...args) {
  return host_new_with<T>([&](void *memory) { return new (memory) T(std::forward<Args>(args)...); });
}

} // namespace sfw
