// LevelDB's 32-bit hash (a Murmur-like mix). Its exact values matter: the
// bloom filter probes it, and filters must stay readable by LevelDB.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corodb {

uint32_t Hash(const char* data, size_t n, uint32_t seed);

}  // namespace corodb
