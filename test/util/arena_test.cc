#include "util/arena.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "util/random.h"

namespace corodb {
namespace {

BOOST_AUTO_TEST_SUITE(ArenaTest)

BOOST_AUTO_TEST_CASE(StartsEmpty) {
  Arena arena;
  BOOST_TEST(arena.MemoryUsage() == 0u);
}

BOOST_AUTO_TEST_CASE(AllocationsKeepTheirBytesAndUsageCoversThem) {
  Arena arena;
  Random rnd(301);
  std::vector<std::pair<size_t, char*>> allocated;
  size_t total = 0;
  for (int i = 0; i < 5000; ++i) {
    size_t size =
        (i % 500 == 0) ? 6000 : (rnd.OneIn(10) ? rnd.Uniform(1000) : rnd.Uniform(20));
    if (size == 0) size = 1;
    char* p = rnd.OneIn(4) ? arena.AllocateAligned(size) : arena.Allocate(size);
    for (size_t b = 0; b < size; ++b) p[b] = static_cast<char>(i % 256);
    allocated.emplace_back(size, p);
    total += size;
    BOOST_REQUIRE(arena.MemoryUsage() >= total);
  }
  // Generous but real bound on waste: the arena uses 4 KiB blocks.
  BOOST_TEST(arena.MemoryUsage() <= total * 2 + 4096);
  for (size_t i = 0; i < allocated.size(); ++i) {
    const auto [size, p] = allocated[i];
    for (size_t b = 0; b < size; ++b) {
      if (static_cast<uint8_t>(p[b]) != i % 256)
        BOOST_FAIL("allocation " << i << " overwritten");
    }
  }
}

BOOST_AUTO_TEST_CASE(AlignedAllocationsAreAligned) {
  Arena arena;
  for (size_t size : {1u, 3u, 8u, 13u, 100u, 2000u, 5000u}) {
    (void)arena.Allocate(1);  // misalign the bump pointer
    char* p = arena.AllocateAligned(size);
    BOOST_TEST(reinterpret_cast<uintptr_t>(p) % 8 == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
