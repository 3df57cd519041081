// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include "metnet/simulation/detail/small_vector.hpp"

namespace {

struct Item {
  double value = -1.0;  // a member initialiser, as the simulation's records have
  int tag = 0;
};

}  // namespace

TEST_CASE("small vector keeps pushed items", "[simulation]") {
  metnet::detail::SmallVector<Item, 4> items;
  CHECK(items.empty());
  CHECK(items.push_back({1.5, 1}));
  CHECK(items.push_back({2.5, 2}));
  REQUIRE(items.size() == 2);
  CHECK(items[0].value == 1.5);
  CHECK(items[1].tag == 2);
  double sum = 0.0;
  for (const Item& item : items) {
    sum += item.value;
  }
  CHECK(sum == 4.0);
}

TEST_CASE("small vector drops items past capacity", "[simulation]") {
  metnet::detail::SmallVector<Item, 2> items;
  CHECK(items.push_back({1.0, 1}));
  CHECK(items.push_back({2.0, 2}));
  CHECK_FALSE(items.push_back({3.0, 3}));
  CHECK(items.size() == 2);
  CHECK(items.dropped() == 1);
  CHECK(items[1].value == 2.0);
}

TEST_CASE("small vector copies its items", "[simulation]") {
  metnet::detail::SmallVector<Item, 4> items;
  items.push_back({1.0, 7});
  items.push_back({2.0, 8});
  const metnet::detail::SmallVector<Item, 4> copy = items;
  REQUIRE(copy.size() == 2);
  CHECK(copy[0].tag == 7);
  CHECK(copy[1].value == 2.0);

  metnet::detail::SmallVector<Item, 4> assigned;
  assigned.push_back({9.0, 9});
  assigned = copy;
  REQUIRE(assigned.size() == 2);
  CHECK(assigned[0].value == 1.0);
}
