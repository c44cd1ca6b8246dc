// The built-in bloom filter, in LevelDB's "leveldb.BuiltinBloomFilter2"
// encoding:
//
//   filter := bit array (m bytes, m * 8 bits) + k (1 byte, the probe count)
//
// Bits: max(64, n * bits_per_key) rounded up to whole bytes. Probes: k =
// bits_per_key * ln 2 (truncated), clamped to [1, 30]. Probe j of a key sets
// bit (h + j * delta) mod bits, with h = Hash(key, seed 0xbc9f1d34) and delta
// = h rotated right by 17 (double hashing), all in 32-bit arithmetic. Bit b
// lives in byte b / 8 at position b % 8. A k above 30 is reserved for future
// encodings and is answered with "may match".
#include <algorithm>
#include <cstdint>

#include "corodb/filter_policy.h"
#include "util/hash.h"

namespace corodb {
namespace {

constexpr uint32_t kBloomSeed = 0xbc9f1d34u;
constexpr size_t kMaxProbes = 30;
constexpr size_t kMinBits = 64;

inline uint32_t BloomHash(Slice key) { return Hash(key.data(), key.size(), kBloomSeed); }
inline uint32_t RotateRight17(uint32_t h) { return (h >> 17) | (h << 15); }

class BloomFilterPolicy final : public FilterPolicy {
 public:
  explicit BloomFilterPolicy(int bits_per_key) : bits_per_key_(std::max(bits_per_key, 0)) {
    // 0.69 ~= ln(2): the probe count that minimizes false positives.
    const auto k = static_cast<size_t>(bits_per_key_ * 0.69);
    probes_ = std::clamp<size_t>(k, 1, kMaxProbes);
  }

  const char* Name() const override { return "leveldb.BuiltinBloomFilter2"; }

  void CreateFilter(std::span<const Slice> keys, std::string* dst) const override {
    size_t bits = std::max(keys.size() * static_cast<size_t>(bits_per_key_), kMinBits);
    const size_t bytes = (bits + 7) / 8;
    bits = bytes * 8;

    const size_t start = dst->size();
    dst->resize(start + bytes, '\0');
    dst->push_back(static_cast<char>(probes_));
    char* array = dst->data() + start;
    for (Slice key : keys) {
      uint32_t h = BloomHash(key);
      const uint32_t delta = RotateRight17(h);
      for (size_t j = 0; j < probes_; ++j) {
        const size_t bit = h % bits;
        array[bit / 8] = static_cast<char>(array[bit / 8] | (1 << (bit % 8)));
        h += delta;
      }
    }
  }

  bool KeyMayMatch(Slice key, Slice filter) const override {
    if (filter.size() < 2) return false;
    const size_t bytes = filter.size() - 1;
    const size_t probes = static_cast<unsigned char>(filter.back());
    if (probes > kMaxProbes) return true;  // reserved for other encodings
    const size_t bits = bytes * 8;
    uint32_t h = BloomHash(key);
    const uint32_t delta = RotateRight17(h);
    for (size_t j = 0; j < probes; ++j) {
      const size_t bit = h % bits;
      if ((static_cast<unsigned char>(filter[bit / 8]) & (1u << (bit % 8))) == 0) return false;
      h += delta;
    }
    return true;
  }

 private:
  int bits_per_key_;
  size_t probes_;
};

}  // namespace

std::shared_ptr<const FilterPolicy> NewBloomFilterPolicy(int bits_per_key) {
  return std::make_shared<BloomFilterPolicy>(bits_per_key);
}

}  // namespace corodb
