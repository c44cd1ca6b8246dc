// corodb-bench's arithmetic, kept apart from the engines so it can be tested:
// keys, values, the YCSB key distributions, latency percentiles,
// amplification, the live-data ledger and JSON text.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corodb::bench {

// Splits `s` at `sep`, dropping empty parts.
std::vector<std::string> Split(const std::string& s, char sep = ',');

// db_bench's key for number `k`: 16 decimal digits padded with '0' to
// `key_size` bytes; below 16 bytes, the number's last `key_size` digits.
// Keys of one size sort as their numbers (modulo 10^key_size).
std::string MakeKey(uint64_t k, int key_size);

// FNV-1a over the 8 little-endian bytes of `v` (YCSB's key hash).
uint64_t FnvHash64(uint64_t v);

// A bijection of [0, 2^53): YCSB's hashed insert order for key numbers, kept
// collision-free so `record count` loads write exactly that many keys. 2^53
// has 16 decimal digits, so MakeKey keeps every permuted key distinct.
uint64_t Permute53(uint64_t v);

// splitmix64: every worker's own generator (seeded from --seed and its index).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n); n > 0.
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  // Uniform in [0, 1).
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Values that compress to about `ratio` of their size, as db_bench makes them.
class ValueGenerator {
 public:
  explicit ValueGenerator(double ratio);
  // `len` bytes starting at a position derived from `i`; len <= 1 MiB.
  std::string_view Get(uint64_t i, int len) const;

 private:
  std::string data_;
};

// YCSB's zipfian constant.
constexpr double kYcsbZipfianConstant = 0.99;

// sum_{i=1..n} 1 / i^theta, exact (summed) up to 2^20 terms and by the
// Euler-Maclaurin formula beyond (relative error below 1e-12).
double Zeta(uint64_t n, double theta);

// Item numbers in [0, items) with P(i) proportional to 1 / (i + 1)^theta,
// by Gray et al.'s method ("Quickly generating billion-record synthetic
// databases"), which YCSB's ZipfianGenerator uses: exact for items 0 and 1,
// an approximation of the power law beyond.
class ZipfianGenerator {
 public:
  explicit ZipfianGenerator(uint64_t items, double theta = kYcsbZipfianConstant);
  uint64_t Next(Rng& rng) const;
  // Extends (or shrinks) the item count; O(1).
  void SetItems(uint64_t items);
  uint64_t items() const { return items_; }

 private:
  uint64_t items_ = 0;
  double theta_, alpha_, zeta2_, zetan_ = 0, eta_ = 0, half_pow_theta_;
};

// YCSB's request distribution "zipfian": a zipfian draw over 10^10 items,
// hashed (FnvHash64) into [0, items), so the popular keys are scattered over
// the key space instead of being the smallest numbers.
class ScrambledZipfianGenerator {
 public:
  explicit ScrambledZipfianGenerator(uint64_t items);
  uint64_t Next(Rng& rng) const;

 private:
  uint64_t items_;
  ZipfianGenerator zipf_;
};

// YCSB's "latest" (workload D): the most recently inserted records are the
// most popular: latest - zipfian(latest + 1).
class SkewedLatestGenerator {
 public:
  SkewedLatestGenerator() : zipf_(1) {}
  // In [0, latest].
  uint64_t Next(Rng& rng, uint64_t latest);

 private:
  ZipfianGenerator zipf_;
};

// Nearest-rank percentile of ascending `sorted`: the smallest value such that
// at least fraction q of the values are <= it (q in (0, 1]). 0 when empty.
double NearestRank(const std::vector<float>& sorted, double q);

struct LatencySummary {
  double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
// Sorts `values` and summarises them.
LatencySummary Summarize(std::vector<float>& values);

// db_bench-style histogram of ascending `sorted` (microseconds): one line per
// non-empty bucket with count, percent and cumulative percent.
std::string HistogramText(const std::vector<float>& sorted);

// numerator / denominator, or 0 when the denominator is not positive
// (amplification that cannot be known is reported as 0, printed "-").
double Ratio(double numerator, double denominator);

// Bytes the files under `dir` occupy on disk (allocated blocks), recursively.
uint64_t DiskBytes(const std::string& dir);

// Which key numbers are live in one engine's database, and their value sizes,
// so space amplification can be computed without reading the database back.
// Put/Erase may race from many threads; Reserve and LiveBytes may not run
// concurrently with them.
class LiveSet {
 public:
  // Forgets everything (the database was recreated).
  void Clear();
  // Makes ids below `capacity` recordable, keeping what is recorded.
  void Reserve(uint64_t capacity);
  void Put(uint64_t id, uint32_t value_size);
  // Starts loading the slot of `id` into the cache for a Put or Erase to
  // come: the slots are spread over num * 4 bytes, and a write's record,
  // taken on the thread that completed it, would otherwise wait for memory
  // there (an engine thread running many writers pays for all of them).
  void Prefetch(uint64_t id) const {
    if (id < capacity_) __builtin_prefetch(&slots_[id], 1, 1);
  }
  void Erase(uint64_t id);
  // Sum of key_size + value size over live ids.
  uint64_t LiveBytes(int key_size) const;
  uint64_t capacity() const { return capacity_; }
  // Whether a Put named an id at or past the capacity (LiveBytes is then low).
  bool overflowed() const { return overflow_.load(std::memory_order_relaxed); }

 private:
  // Unmaps the slots (mapped for transparent huge pages: a write's record
  // is a store at a random id, which with 4 KiB pages also misses the TLB).
  struct Unmap {
    size_t bytes;
    void operator()(std::atomic<uint32_t>* slots) const;
  };
  std::atomic<bool> overflow_{false};
  // value size + 1 per id; 0: absent.
  std::unique_ptr<std::atomic<uint32_t>[], Unmap> slots_{nullptr, Unmap{0}};
  uint64_t capacity_ = 0;
};

// `s` as a JSON string literal, quotes included.
std::string JsonString(std::string_view s);

}  // namespace corodb::bench
