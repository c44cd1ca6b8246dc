// CRC-32C (Castagnoli), as LevelDB checksums log records and table blocks,
// plus LevelDB's mask: a stored CRC is masked so that computing the CRC of a
// string that contains embedded CRCs stays well behaved.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
// start-up), Boost.CRC otherwise. Both paths give identical results.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corodb::crc32c {

// CRC-32C of `init_crc`'s message followed by data[0, n).
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

// CRC-32C of data[0, n).
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

constexpr uint32_t kMaskDelta = 0xa282ead8u;

// The masked form of `crc` that LevelDB stores on disk.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

// Inverse of Mask().
inline uint32_t Unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// Which implementation Extend() uses: "sse4.2" or "boost". For tests and logs.
const char* Implementation();

// The portable path, exposed so tests can compare both paths on any machine.
uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n);

}  // namespace corodb::crc32c
