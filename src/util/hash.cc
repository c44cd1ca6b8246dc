#include "util/hash.h"

#include "util/coding.h"

namespace corodb {

uint32_t Hash(const char* data, size_t n, uint32_t seed) {
  constexpr uint32_t kMul = 0xc6a4a793u;
  constexpr int kShift = 24;
  uint32_t h = seed ^ static_cast<uint32_t>(n * kMul);
  const char* p = data;
  const char* end = data + n;
  for (; end - p >= 4; p += 4) {
    h += DecodeFixed32(p);
    h *= kMul;
    h ^= (h >> 16);
  }
  // Tail: up to three bytes, read unsigned (checked against libleveldb's
  // bloom filters; a signed read would break filter compatibility).
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  switch (end - p) {
    case 3:
      h += static_cast<uint32_t>(u[2]) << 16;
      [[fallthrough]];
    case 2:
      h += static_cast<uint32_t>(u[1]) << 8;
      [[fallthrough]];
    case 1:
      h += u[0];
      h *= kMul;
      h ^= (h >> kShift);
      break;
    default:
      break;
  }
  return h;
}

}  // namespace corodb
