// SPDX-License-Identifier: MIT
#pragma once
// A heap allocation counter for tests. Including this header replaces
// malloc, calloc and realloc for the whole executable with counting versions
// that forward to glibc's __libc_* functions. Eigen's aligned buffers and
// operator new both call malloc, so every heap allocation is counted while an
// AllocationCounter is alive. Include it from one source file per
// test executable only, because it defines these functions.

#include <cstddef>

namespace metnet::test::detail {

inline bool counting = false;
inline std::size_t allocations = 0;

}  // namespace metnet::test::detail

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Under a sanitizer, which owns malloc, its allocator hooks count instead.
// Declared here because GCC ships no <sanitizer/allocator_interface.h>;
// the function is part of the ASan and TSan runtimes of GCC and Clang.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace metnet::test::detail {

inline void count_allocation(const volatile void*, std::size_t) {
  if (counting) {
    ++allocations;
  }
}

inline void ignore_free(const volatile void*) {}

inline const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free);

}  // namespace metnet::test::detail
#else
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
}

extern "C" void* malloc(std::size_t size) {
  if (metnet::test::detail::counting) {
    ++metnet::test::detail::allocations;
  }
  return __libc_malloc(size);
}

extern "C" void* calloc(std::size_t count, std::size_t size) {
  if (metnet::test::detail::counting) {
    ++metnet::test::detail::allocations;
  }
  return __libc_calloc(count, size);
}

extern "C" void* realloc(void* pointer, std::size_t size) {
  if (metnet::test::detail::counting) {
    ++metnet::test::detail::allocations;
  }
  return __libc_realloc(pointer, size);
}
#endif

namespace metnet::test {

// Counts the heap allocations made during its lifetime.
class AllocationCounter {
 public:
  AllocationCounter() {
    detail::allocations = 0;
    detail::counting = true;
  }
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;
  ~AllocationCounter() { detail::counting = false; }
  std::size_t count() const { return detail::allocations; }
};

}  // namespace metnet::test
