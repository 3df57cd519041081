// SPDX-License-Identifier: MIT
#pragma once
// A fixed-capacity vector on the stack, so generating an event allocates
// nothing. push_back beyond the capacity drops the element and counts it;
// the capacities are chosen so that this does not happen in practice.

#include <array>
#include <cstddef>

namespace metnet::detail {

template <class T, std::size_t Capacity>
class SmallVector {
 public:
  bool push_back(const T& value) noexcept {
    if (size_ == Capacity) {
      ++dropped_;
      return false;
    }
    data_[size_++] = value;
    return true;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t dropped() const noexcept { return dropped_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_.data(); }
  T* end() noexcept { return data_.data() + size_; }
  const T* begin() const noexcept { return data_.data(); }
  const T* end() const noexcept { return data_.data() + size_; }

 private:
  std::array<T, Capacity> data_{};
  std::size_t size_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace metnet::detail
