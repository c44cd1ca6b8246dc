#include "util/crc32c.h"

#include <cstring>

#include <boost/crc.hpp>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace corodb::crc32c {
namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t init_crc, const char* data,
                                                       size_t n) {
  uint64_t crc = ~init_crc & 0xffffffffu;
  const char* p = data;
  const char* end = data + n;
  while (p < end && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = _mm_crc32_u8(static_cast<uint32_t>(crc), static_cast<uint8_t>(*p++));
  }
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
    p += 8;
  }
  while (p < end) {
    crc = _mm_crc32_u8(static_cast<uint32_t>(crc), static_cast<uint8_t>(*p++));
  }
  return ~static_cast<uint32_t>(crc);
}
#endif

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

ExtendFn Choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return &ExtendSse42;
#endif
  return &ExtendPortable;
}

const ExtendFn kExtend = Choose();

}  // namespace

uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n) {
  // Reflected CRC-32C; the running state is the complement of the CRC so far.
  // Boost takes the initial remainder unreflected, so reverse the bits.
  uint32_t state = ~init_crc;
  uint32_t unreflected = 0;
  for (int i = 0; i < 32; ++i) unreflected |= ((state >> i) & 1u) << (31 - i);
  boost::crc_optimal<32, 0x1EDC6F41, 0, 0, true, true> crc(unreflected);
  crc.process_bytes(data, n);
  return ~crc.checksum();
}

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) { return kExtend(init_crc, data, n); }

const char* Implementation() { return kExtend == &ExtendPortable ? "boost" : "sse4.2"; }

}  // namespace corodb::crc32c
