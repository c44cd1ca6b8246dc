#include "expected_state.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

namespace corodb::stress {
namespace {

constexpr uint64_t kMagic = 0x636f726f73747231ull;  // "corostr1"
constexpr size_t kHeaderBytes = 4096;

static_assert(sizeof(std::atomic<uint64_t>) == 8 && std::atomic<uint64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint32_t>) == 4 && std::atomic<uint32_t>::is_always_lock_free);

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr size_t kValuePrefix = 18;  // "%08x:%08x:"

}  // namespace

KeyWord KeyWord::Decode(uint64_t word) {
  KeyWord w;
  w.committed.gen = static_cast<uint32_t>(word & kMaxGen);
  w.committed.exists = (word >> 30) & 1;
  w.pending_state.gen = static_cast<uint32_t>((word >> 32) & kMaxGen);
  w.pending_state.exists = (word >> 62) & 1;
  w.pending = (word >> 63) & 1;
  return w;
}

uint64_t KeyWord::Encode() const {
  return (committed.gen & kMaxGen) | (uint64_t{committed.exists} << 30) |
         (static_cast<uint64_t>(pending_state.gen & kMaxGen) << 32) |
         (uint64_t{pending_state.exists} << 62) | (uint64_t{pending} << 63);
}

std::string KeyWord::ToString() const {
  std::string s = "committed gen " + std::to_string(committed.gen) +
                  (committed.exists ? " (put)" : " (absent)");
  if (pending) {
    s += ", pending gen " + std::to_string(pending_state.gen) +
         (pending_state.exists ? " (put)" : " (delete)");
  }
  return s;
}

ExpectedState::~ExpectedState() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

std::string ExpectedState::Open(const std::string& path, uint32_t num_keys) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return path + ": " + std::strerror(errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return path + ": " + std::strerror(errno);
  }
  const size_t size = kHeaderBytes + kSlots * sizeof(Slot) + size_t{num_keys} * sizeof(uint64_t);
  const bool fresh = st.st_size == 0;
  if (fresh && ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    ::close(fd);
    return path + ": " + std::strerror(errno);
  }
  if (!fresh && static_cast<size_t>(st.st_size) != size) {
    ::close(fd);
    return path + ": made for another --num_keys (size " + std::to_string(st.st_size) + ")";
  }
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return path + ": mmap: " + std::strerror(errno);
  map_ = map;
  map_size_ = size;
  char* base = static_cast<char*>(map);
  header_ = reinterpret_cast<Header*>(base);
  slots_ = reinterpret_cast<Slot*>(base + kHeaderBytes);
  words_ = reinterpret_cast<std::atomic<uint64_t>*>(base + kHeaderBytes + kSlots * sizeof(Slot));
  num_keys_ = num_keys;
  if (fresh) {  // the file reads as zeros: every key absent at generation 0
    header_->num_keys = num_keys;
    header_->num_slots = kSlots;
    header_->magic = kMagic;
  } else if (header_->magic != kMagic || header_->num_keys != num_keys ||
             header_->num_slots != kSlots) {
    return path + ": not an expected-state file for " + std::to_string(num_keys) + " keys";
  }
  return "";
}

std::string StressKey(uint32_t index) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "key%08u", index);
  return buf;
}

bool ParseStressKey(std::string_view key, uint32_t* index) {
  if (key.size() != 11 || key.substr(0, 3) != "key") return false;
  uint32_t v = 0;
  for (char c : key.substr(3)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  *index = v;
  return true;
}

std::string StressValue(uint32_t index, uint32_t gen) {
  uint64_t h = Mix((uint64_t{index} << 32) | gen);
  // Mostly small values; one in sixteen of 0.5-2 KB.
  const size_t filler = (h & 15) == 0 ? 512 + (h >> 8) % 1536 : (h >> 8) % 160;
  std::string v(kValuePrefix + filler, '\0');
  // snprintf's terminator lands on the first filler byte (or the string's
  // own terminator), which the loop below overwrites.
  std::snprintf(v.data(), kValuePrefix + 1, "%08x:%08x:", index, gen);
  // Half the filler repeats a short pattern (compresses), half is noise.
  for (size_t i = 0; i < filler; ++i) {
    if (i % 8 == 0) h = Mix(h);
    const bool noise = (i / 64) % 2 == 1;
    v[kValuePrefix + i] = noise ? static_cast<char>(h >> (8 * (i % 8))) : static_cast<char>('a' + i % 7);
  }
  return v;
}

bool ParseStressValue(uint32_t index, std::string_view value, uint32_t* gen) {
  if (value.size() < kValuePrefix) return false;
  unsigned parsed_index = 0, parsed_gen = 0;
  const std::string prefix(value.substr(0, kValuePrefix));
  if (std::sscanf(prefix.c_str(), "%8x:%8x:", &parsed_index, &parsed_gen) != 2) return false;
  if (parsed_index != index || parsed_gen > kMaxGen) return false;
  if (value != StressValue(index, parsed_gen)) return false;
  *gen = parsed_gen;
  return true;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && out.size() < 80; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (out.size() >= 80) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return "\"" + out + "\"";
}

std::string CheckRead(uint32_t index, const KeyWord& before, const KeyWord& after,
                      const std::string* value) {
  // Every generation the read may have seen: from the one committed before
  // it started to the newest one marked (pending or committed) after it.
  const uint32_t lo = before.committed.gen;
  uint32_t hi = std::max(after.committed.gen, before.committed.gen);
  if (after.pending) hi = std::max(hi, after.pending_state.gen);
  if (before.pending) hi = std::max(hi, before.pending_state.gen);
  // Whether generation g was a put: known when one of the loaded words names it.
  auto put_at = [&](uint32_t g) -> std::optional<bool> {
    for (const KeyWord* w : {&before, &after}) {
      if (w->committed.gen == g) return w->committed.exists;
      if (w->pending && w->pending_state.gen == g) return w->pending_state.exists;
    }
    return std::nullopt;
  };
  const std::string window = "expected a generation in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]; before the read: " + before.ToString() +
                             "; after: " + after.ToString();
  if (value != nullptr) {
    uint32_t gen;
    if (!ParseStressValue(index, *value, &gen)) return "not a value written for this key; " + window;
    if (gen < lo || gen > hi) return "generation " + std::to_string(gen) + "; " + window;
    if (put_at(gen) == false) return "generation " + std::to_string(gen) + " was a delete; " + window;
    return "";
  }
  for (uint32_t g = lo; g <= hi; ++g) {
    if (put_at(g) != true) return "";  // absent then (or unknown)
  }
  return "NotFound; " + window;
}

}  // namespace corodb::stress
