// SPDX-License-Identifier: MIT
#pragma once
// A fixed-capacity vector on the stack, so generating an event allocates
// nothing. push_back beyond the capacity drops the element and counts it;
// the capacities are chosen so that this does not happen in practice.
// Elements past size() are never constructed, so an empty vector costs
// nothing to create even when the element type has member initialisers.

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

namespace metnet::detail {

template <class T, std::size_t Capacity>
class SmallVector {
  // Elements are never destroyed, and copying the raw storage copies them.
  static_assert(std::is_trivially_destructible_v<T> && std::is_trivially_copyable_v<T>,
                "SmallVector holds trivially copyable, trivially destructible elements only");

 public:
  SmallVector() noexcept {}  // leaves the storage uninitialised on purpose
  SmallVector(const SmallVector& other) noexcept : size_(other.size_), dropped_(other.dropped_) {
    std::uninitialized_copy(other.begin(), other.end(), data());
  }
  SmallVector& operator=(const SmallVector& other) noexcept {
    size_ = other.size_;
    dropped_ = other.dropped_;
    std::uninitialized_copy(other.begin(), other.end(), data());
    return *this;
  }

  bool push_back(const T& value) noexcept {
    if (size_ == Capacity) {
      ++dropped_;
      return false;
    }
    std::construct_at(data() + size_, value);
    ++size_;
    return true;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t dropped() const noexcept { return dropped_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }

 private:
  T* data() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }
  const T* data() const noexcept { return std::launder(reinterpret_cast<const T*>(storage_)); }

  alignas(T) std::byte storage_[sizeof(T) * Capacity];
  std::size_t size_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace metnet::detail
