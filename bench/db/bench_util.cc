#include "bench_util.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <new>
#include <utility>

namespace corodb::bench {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t at = s.find(sep, start);
    std::string part = s.substr(start, at == std::string::npos ? std::string::npos : at - start);
    if (!part.empty()) out.push_back(std::move(part));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

std::string MakeKey(uint64_t k, int key_size) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(k));
  std::string key(buf);
  if (key_size < 16) return key.substr(16 - static_cast<size_t>(key_size));  // the low digits
  key.resize(static_cast<size_t>(key_size), '0');
  return key;
}

uint64_t FnvHash64(uint64_t v) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (int i = 0; i < 8; ++i) {
    h ^= v & 0xff;
    h *= 1099511628211ULL;
    v >>= 8;
  }
  return h;
}

uint64_t Permute53(uint64_t v) {
  constexpr uint64_t kMask = (uint64_t{1} << 53) - 1;
  // Multiplication by an odd constant and x ^= x >> s are both bijections of
  // [0, 2^53) when the result is masked to 53 bits.
  uint64_t x = v & kMask;
  x = (x * 0x9E3779B97F4A7C15ULL) & kMask;
  x ^= x >> 29;
  x = (x * 0xBF58476D1CE4E5B9ULL) & kMask;
  x ^= x >> 26;
  return x;
}

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

ValueGenerator::ValueGenerator(double ratio) {
  Rng rng(301);
  const int raw = std::max(1, static_cast<int>(100 * ratio));
  while (data_.size() < (1 << 20) + 100 * 1000) {
    // 100-byte pieces made of a `raw`-byte random piece repeated: they
    // compress to about `ratio`.
    std::string piece(static_cast<size_t>(raw), '\0');
    for (char& c : piece) c = static_cast<char>(' ' + rng.Uniform(95));
    std::string chunk;
    while (chunk.size() < 100) chunk += piece;
    data_ += chunk.substr(0, 100);
  }
}

std::string_view ValueGenerator::Get(uint64_t i, int len) const {
  const size_t span = data_.size() - static_cast<size_t>(len);
  const size_t pos = span == 0 ? 0 : (i * 7919) % span;
  return std::string_view(data_).substr(pos, static_cast<size_t>(len));
}

namespace {

constexpr uint64_t kExactTerms = uint64_t{1} << 20;

// Prefix sums sum_{i=1..n} i^-theta for n <= kExactTerms, one table per theta.
std::shared_ptr<const std::vector<double>> PrefixTable(double theta) {
  static std::mutex mu;
  static std::vector<std::pair<double, std::shared_ptr<const std::vector<double>>>> tables;
  const std::lock_guard lock(mu);
  for (const auto& [t, table] : tables) {
    if (t == theta) return table;
  }
  auto table = std::make_shared<std::vector<double>>(kExactTerms + 1);
  double sum = 0;
  (*table)[0] = 0;
  for (uint64_t i = 1; i <= kExactTerms; ++i) {
    sum += std::pow(static_cast<double>(i), -theta);
    (*table)[i] = sum;
  }
  tables.emplace_back(theta, table);
  return table;
}

}  // namespace

double Zeta(uint64_t n, double theta) {
  const auto table = PrefixTable(theta);
  if (n <= kExactTerms) return (*table)[n];
  // sum_{i=a+1..b} f(i) = integral_a^b f + (f(b) - f(a)) / 2
  //                       + (f'(b) - f'(a)) / 12 - (f'''(b) - f'''(a)) / 720 + ...
  const double a = static_cast<double>(kExactTerms);
  const double b = static_cast<double>(n);
  const double integral = theta == 1.0 ? std::log(b / a)
                                       : (std::pow(b, 1 - theta) - std::pow(a, 1 - theta)) / (1 - theta);
  auto f = [&](double x) { return std::pow(x, -theta); };
  auto f1 = [&](double x) { return -theta * std::pow(x, -theta - 1); };
  auto f3 = [&](double x) { return -theta * (theta + 1) * (theta + 2) * std::pow(x, -theta - 3); };
  return (*table)[kExactTerms] + integral + (f(b) - f(a)) / 2 + (f1(b) - f1(a)) / 12 - (f3(b) - f3(a)) / 720;
}

ZipfianGenerator::ZipfianGenerator(uint64_t items, double theta)
    : theta_(theta),
      alpha_(1.0 / (1.0 - theta)),
      zeta2_(Zeta(2, theta)),
      half_pow_theta_(std::pow(0.5, theta)) {
  SetItems(items);
}

void ZipfianGenerator::SetItems(uint64_t items) {
  items = std::max<uint64_t>(items, 1);
  if (items == items_) return;
  items_ = items;
  zetan_ = Zeta(items, theta_);
  const double n = static_cast<double>(items);
  // eta is 0/0 for one or two items; Next never reaches it then.
  eta_ = items <= 2 ? 0 : (1 - std::pow(2.0 / n, 1 - theta_)) / (1 - zeta2_ / zetan_);
}

uint64_t ZipfianGenerator::Next(Rng& rng) const {
  const double u = rng.NextDouble();
  const double uz = u * zetan_;
  if (uz < 1.0 || items_ == 1) return 0;
  if (uz < 1.0 + half_pow_theta_ || items_ == 2) return 1;
  const double v = static_cast<double>(items_) * std::pow(eta_ * u - eta_ + 1, alpha_);
  return std::min<uint64_t>(items_ - 1, static_cast<uint64_t>(v));
}

ScrambledZipfianGenerator::ScrambledZipfianGenerator(uint64_t items)
    : items_(std::max<uint64_t>(items, 1)), zipf_(10'000'000'000ULL) {}

uint64_t ScrambledZipfianGenerator::Next(Rng& rng) const { return FnvHash64(zipf_.Next(rng)) % items_; }

uint64_t SkewedLatestGenerator::Next(Rng& rng, uint64_t latest) {
  zipf_.SetItems(latest + 1);
  return latest - zipf_.Next(rng);
}

double NearestRank(const std::vector<float>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : std::min(sorted.size(), static_cast<size_t>(rank)) - 1;
  return sorted[index];
}

LatencySummary Summarize(std::vector<float>& values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.p50 = NearestRank(values, 0.50);
  s.p99 = NearestRank(values, 0.99);
  s.p999 = NearestRank(values, 0.999);
  s.max = values.back();
  double sum = 0;
  for (const float v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  return s;
}

std::string HistogramText(const std::vector<float>& sorted) {
  // Bucket limits 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 25, ... like
  // db_bench: about 12 per decade.
  static const double kSteps[] = {1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9};
  std::string out;
  if (sorted.empty()) return out;
  size_t i = 0;
  double low = 0;
  double cumulative = 0;
  const double total = static_cast<double>(sorted.size());
  for (double decade = 1; i < sorted.size(); decade *= 10) {
    for (const double step : kSteps) {
      const double high = step * decade;
      size_t count = 0;
      while (i < sorted.size() && sorted[i] < high) {
        ++count;
        ++i;
      }
      if (count > 0) {
        cumulative += static_cast<double>(count);
        char line[128];
        std::snprintf(line, sizeof(line), "[ %10.1f, %10.1f ) %10zu %7.3f%% %7.3f%%\n", low, high, count,
                      100.0 * static_cast<double>(count) / total, 100.0 * cumulative / total);
        out += line;
      }
      low = high;
      if (i == sorted.size()) break;
    }
  }
  return out;
}

double Ratio(double numerator, double denominator) { return denominator > 0 ? numerator / denominator : 0; }

uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

void LiveSet::Clear() {
  overflow_ = false;
  for (uint64_t i = 0; i < capacity_; ++i) slots_[i].store(0, std::memory_order_relaxed);
}

void LiveSet::Unmap::operator()(std::atomic<uint32_t>* slots) const {
  if (slots != nullptr) ::munmap(slots, bytes);
}

void LiveSet::Reserve(uint64_t capacity) {
  if (capacity <= capacity_) return;
  const size_t bytes = capacity * sizeof(std::atomic<uint32_t>);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without it, 4 KiB pages
  std::unique_ptr<std::atomic<uint32_t>[], Unmap> slots(static_cast<std::atomic<uint32_t>*>(p), Unmap{bytes});
  for (uint64_t i = 0; i < capacity; ++i) {
    new (&slots[i]) std::atomic<uint32_t>(i < capacity_ ? slots_[i].load(std::memory_order_relaxed) : 0);
  }
  slots_ = std::move(slots);
  capacity_ = capacity;
}

void LiveSet::Put(uint64_t id, uint32_t value_size) {
  if (id < capacity_) {
    slots_[id].store(value_size + 1, std::memory_order_relaxed);
  } else {
    overflow_.store(true, std::memory_order_relaxed);
  }
}

void LiveSet::Erase(uint64_t id) {
  if (id < capacity_) slots_[id].store(0, std::memory_order_relaxed);
}

uint64_t LiveSet::LiveBytes(int key_size) const {
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < capacity_; ++i) {
    const uint32_t v = slots_[i].load(std::memory_order_relaxed);
    if (v != 0) bytes += static_cast<uint64_t>(key_size) + (v - 1);
  }
  return bytes;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace corodb::bench
