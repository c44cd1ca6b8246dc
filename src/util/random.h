// Small, fast, deterministic pseudo-random generator (Park–Miller, as LevelDB's
// skiplist uses for tower heights). Not thread-safe; one per user.
#pragma once

#include <cstdint>

namespace corodb {

class Random {
 public:
  explicit Random(uint32_t seed) : seed_(seed & 0x7fffffffu) {
    if (seed_ == 0 || seed_ == 2147483647u) seed_ = 1;
  }

  uint32_t Next() {
    constexpr uint32_t kM = 2147483647u;  // 2^31 - 1
    constexpr uint64_t kA = 16807;
    const uint64_t product = seed_ * kA;
    // product % kM without a division, using 2^31 == 1 (mod kM).
    seed_ = static_cast<uint32_t>((product >> 31) + (product & kM));
    if (seed_ > kM) seed_ -= kM;
    return seed_;
  }
  // Uniform in [0, n), n > 0.
  uint32_t Uniform(uint32_t n) { return Next() % n; }
  // True about once every n calls, n > 0.
  bool OneIn(uint32_t n) { return Uniform(n) == 0; }
  // Picks a base uniformly from [0, max_log], then a number in [0, 2^base).
  uint32_t Skewed(int max_log) { return Uniform(1u << Uniform(static_cast<uint32_t>(max_log) + 1)); }

 private:
  uint32_t seed_;
};

}  // namespace corodb
