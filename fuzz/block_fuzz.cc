// libFuzzer target: the block reader (Block::Parse) and its iterator
// (BlockIter), with a block builder round trip.
//
// Input: byte 0 bit 0 = internal keys (InternalKeyComparator and key checks)
// or plain bytewise keys; byte 1 = restart interval for the rebuild; the
// rest is the block's contents.
// Invariants checked:
// - a forward scan (SeekToFirst, Next...) yields exactly what an independent
//   decoder of the block format written here yields — the same entries, and
//   Corruption exactly where that decoder finds damage — and never more
//   entries than the block has room for;
// - with internal keys, every key the iterator returns is a well-formed
//   internal key;
// - a well-formed block (restart points at entries that store whole keys,
//   keys strictly increasing) reads backward as the reverse of forward, and
//   Seek(k) lands on k for every key k;
// - the entries of a block that decoded cleanly in increasing order, rebuilt
//   with BlockBuilder, read back (forward, backward and by Seek) as the same
//   entries;
// - with internal keys and the first restart point at 0 (as BlockBuilder
//   writes it), the lazy iterator (a BlockIter over the block's Snappy
//   stream, decoded as it moves) walks forward, the way TableIterator steps,
//   to the same entries and a clean end where the scan ends cleanly, and to
//   Corruption where it meets damage (maybe after entries the scan's bound
//   refused first); on a well-formed block its Seek(k) lands on k and its
//   backward walk is the scan reversed.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <snappy.h>

#include "format/dbformat.h"
#include "fuzz_util.h"
#include "table/block.h"
#include "table/block_builder.h"
#include "util/coding.h"

namespace corodb::fuzz {
namespace {

using Entry = std::pair<std::string, std::string>;

// What the reference decoder makes of a block.
struct Decoded {
  bool parses = false;  // the restart array fits
  std::vector<Entry> entries;
  std::vector<uint32_t> entry_offsets;
  std::vector<uint32_t> shared;  // shared-prefix length of each entry
  bool corrupt = false;          // the scan stopped at damage
  std::vector<uint32_t> restarts;
};

// A varint32 of at most 5 bytes before `limit`, as the format defines it.
bool ReadVarint32(const unsigned char*& p, const unsigned char* limit, uint32_t* v) {
  uint64_t value = 0;
  for (int i = 0; i < 5; ++i) {
    if (p >= limit) return false;
    const unsigned char byte = *p++;
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (value > 0xffffffffu) return false;
      *v = static_cast<uint32_t>(value);
      return true;
    }
  }
  return false;
}

uint32_t Fixed32At(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

bool WellFormedInternalKey(std::string_view key) {
  return key.size() >= 8 && static_cast<unsigned char>(key[key.size() - 8]) <= kTypeValue;
}

Decoded Decode(std::string_view block, bool internal_keys) {
  Decoded d;
  if (block.size() < 4) return d;
  const uint64_t num_restarts = Fixed32At(block, block.size() - 4);
  if (num_restarts > (block.size() - 4) / 4) return d;
  d.parses = true;
  const size_t restart_offset = block.size() - 4 * (1 + num_restarts);
  for (uint64_t i = 0; i < num_restarts; ++i)
    d.restarts.push_back(Fixed32At(block, restart_offset + 4 * i));
  if (num_restarts == 0) return d;
  const auto* base = reinterpret_cast<const unsigned char*>(block.data());
  const unsigned char* limit = base + restart_offset;
  const unsigned char* p = base + std::min<size_t>(d.restarts[0], restart_offset);
  std::string key;
  while (p < limit) {
    const auto offset = static_cast<uint32_t>(p - base);
    uint32_t shared = 0, non_shared = 0, value_size = 0;
    if (!ReadVarint32(p, limit, &shared) || !ReadVarint32(p, limit, &non_shared) ||
        !ReadVarint32(p, limit, &value_size) ||
        static_cast<uint64_t>(limit - p) < uint64_t{non_shared} + value_size ||
        shared > key.size()) {
      d.corrupt = true;
      return d;
    }
    key.resize(shared);
    key.append(reinterpret_cast<const char*>(p), non_shared);
    if (internal_keys && !WellFormedInternalKey(key)) {
      d.corrupt = true;
      return d;
    }
    p += non_shared;
    d.entries.emplace_back(key,
                           std::string(reinterpret_cast<const char*>(p), value_size));
    d.entry_offsets.push_back(offset);
    d.shared.push_back(shared);
    p += value_size;
  }
  return d;
}

struct Scan {
  std::vector<Entry> entries;
  Status status;
};

Scan Forward(const table::Block& block, const Comparator* cmp, bool internal_keys,
             size_t cap) {
  table::BlockIter it(&block, cmp, internal_keys);
  Scan scan;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    FUZZ_CHECK(scan.entries.size() < cap, "more entries than the block has room for");
    scan.entries.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  scan.status = it.status();
  return scan;
}

Scan Backward(const table::Block& block, const Comparator* cmp, bool internal_keys,
              size_t cap) {
  table::BlockIter it(&block, cmp, internal_keys);
  Scan scan;
  for (it.SeekToLast(); it.Valid(); it.Prev()) {
    FUZZ_CHECK(scan.entries.size() < cap, "more entries than the block has room for");
    scan.entries.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  scan.status = it.status();
  std::reverse(scan.entries.begin(), scan.entries.end());
  return scan;
}

bool StrictlyIncreasing(const std::vector<Entry>& entries, const Comparator* cmp) {
  for (size_t i = 1; i < entries.size(); ++i) {
    if (cmp->Compare(entries[i - 1].first, entries[i].first) >= 0) return false;
  }
  return true;
}

// Restart points exactly at entries that store their whole key, the first at
// the first entry, increasing: the layout BlockBuilder writes.
bool RestartsWellFormed(const Decoded& d) {
  if (d.restarts.empty() || d.entries.empty() || d.restarts[0] != d.entry_offsets[0])
    return false;
  for (size_t i = 0; i < d.restarts.size(); ++i) {
    if (i > 0 && d.restarts[i] <= d.restarts[i - 1]) return false;
    const auto at =
        std::lower_bound(d.entry_offsets.begin(), d.entry_offsets.end(), d.restarts[i]);
    if (at == d.entry_offsets.end() || *at != d.restarts[i]) return false;
    if (d.shared[static_cast<size_t>(at - d.entry_offsets.begin())] != 0) return false;
  }
  return true;
}

// Backward reading and Seek agree with a forward scan of a well-formed block.
void CheckWellFormed(const table::Block& block, const Comparator* cmp, bool internal_keys,
                     const std::vector<Entry>& entries, size_t cap) {
  const Scan backward = Backward(block, cmp, internal_keys, cap);
  FUZZ_CHECK(backward.status.ok(), backward.status.ToString());
  FUZZ_CHECK(backward.entries == entries, "backward scan differs from forward scan");
  table::BlockIter it(&block, cmp, internal_keys);
  for (const Entry& e : entries) {
    it.Seek(e.first);
    FUZZ_CHECK(it.Valid() && it.key() == Slice(e.first) && it.value() == Slice(e.second),
               "Seek(key) did not land on key");
  }
}

// The lazy iterator over `contents` (compressed here) against the scan of
// the whole block. REQUIRES: internal keys; the first restart point is 0.
void CheckLazy(const std::string& contents, const Comparator* cmp, const Scan& forward,
               bool well_formed, size_t cap) {
  std::string stored;
  snappy::Compress(contents.data(), contents.size(), &stored);
  table::LazyBlock lazy;
  FUZZ_CHECK(lazy.Reset(stored, 1u << 30), "a stream Snappy wrote was refused");
  table::BlockIter it(lazy.stream(), cmp);
  std::vector<Entry> seen;
  for (it.SeekToFirst(); it.Valid();) {
    FUZZ_CHECK(seen.size() < cap, "more entries than the block has room for");
    seen.emplace_back(std::string(it.key()), std::string(it.value()));
    if (it.AtLast()) {
      if (it.status().ok()) it.Next();
      break;
    }
    it.Next();
  }
  if (forward.status.ok()) {
    FUZZ_CHECK(it.status().ok(), "lazy walk: " + it.status().ToString());
    FUZZ_CHECK(seen == forward.entries, "lazy walk differs from the scan");
  } else {
    FUZZ_CHECK(it.status().IsCorruption(), "lazy walk ended cleanly on a damaged block");
  }
  if (!well_formed) return;
  for (const Entry& e : forward.entries) {
    table::LazyBlock fresh;
    FUZZ_CHECK(fresh.Reset(stored, 1u << 30), "a stream Snappy wrote was refused");
    table::BlockIter seek(fresh.stream(), cmp);
    seek.Seek(e.first);
    FUZZ_CHECK(seek.Valid() && seek.key() == Slice(e.first) && seek.value() == Slice(e.second),
               "lazy Seek(key) did not land on key");
  }
  table::LazyBlock back_block;
  FUZZ_CHECK(back_block.Reset(stored, 1u << 30), "a stream Snappy wrote was refused");
  table::BlockIter back(back_block.stream(), cmp);
  std::vector<Entry> reversed;
  for (back.SeekToLast(); back.Valid(); back.Prev()) {
    FUZZ_CHECK(reversed.size() < cap, "more entries than the block has room for");
    reversed.emplace_back(std::string(back.key()), std::string(back.value()));
  }
  std::reverse(reversed.begin(), reversed.end());
  FUZZ_CHECK(back.status().ok() && reversed == forward.entries,
             "lazy backward walk differs from the scan");
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  static const InternalKeyComparator icmp(BytewiseComparator());
  Input in(data, size);
  const bool internal_keys = in.Bool();
  const int restart_interval = 1 + in.Byte() % 32;
  const std::string contents(in.Rest());
  const Comparator* cmp =
      internal_keys ? static_cast<const Comparator*>(&icmp) : BytewiseComparator();
  const size_t cap = contents.size() / 3 + 1;  // an entry takes at least 3 bytes

  const Decoded ref = Decode(contents, internal_keys);
  Result<table::Block> block = table::Block::Parse(contents);
  FUZZ_CHECK(block.ok() == ref.parses, block.status().ToString());
  if (!block.ok()) {
    FUZZ_CHECK(block.status().IsCorruption(), block.status().ToString());
    return 0;
  }

  const Scan forward = Forward(*block, cmp, internal_keys, cap);
  FUZZ_CHECK(forward.entries == ref.entries,
             "forward scan differs from the reference decoder");
  FUZZ_CHECK(forward.status.ok() == !ref.corrupt, forward.status.ToString());
  FUZZ_CHECK(forward.status.ok() || forward.status.IsCorruption(),
             forward.status.ToString());
  for (const Entry& e : forward.entries) {
    FUZZ_CHECK(!internal_keys || WellFormedInternalKey(e.first),
               "malformed internal key returned");
  }
  // Backward and Seek on any block: no crash, and only Corruption as error.
  const Scan backward = Backward(*block, cmp, internal_keys, cap);
  FUZZ_CHECK(backward.status.ok() || backward.status.IsCorruption(),
             backward.status.ToString());
  if (internal_keys && !ref.restarts.empty() && ref.restarts[0] == 0) {
    const bool well_formed = forward.status.ok() && StrictlyIncreasing(forward.entries, cmp) &&
                             RestartsWellFormed(ref);
    CheckLazy(contents, cmp, forward, well_formed, cap);
  }

  if (!forward.status.ok() || !StrictlyIncreasing(forward.entries, cmp)) return 0;
  if (RestartsWellFormed(ref))
    CheckWellFormed(*block, cmp, internal_keys, forward.entries, cap);

  table::BlockBuilder builder(restart_interval);
  for (const Entry& e : forward.entries) builder.Add(e.first, e.second);
  const std::string rebuilt = std::string(builder.Finish());
  const Decoded rebuilt_ref = Decode(rebuilt, internal_keys);
  FUZZ_CHECK(rebuilt_ref.entries == forward.entries && !rebuilt_ref.corrupt,
             "BlockBuilder wrote a block that decodes differently");
  FUZZ_CHECK(forward.entries.empty() || RestartsWellFormed(rebuilt_ref),
             "BlockBuilder wrote misplaced restart points");
  Result<table::Block> again = table::Block::Parse(rebuilt);
  FUZZ_CHECK(again.ok(), again.status().ToString());
  const Scan reread = Forward(*again, cmp, internal_keys, rebuilt.size() / 3 + 1);
  FUZZ_CHECK(reread.status.ok() && reread.entries == forward.entries,
             "rebuilt block reads differently");
  CheckWellFormed(*again, cmp, internal_keys, forward.entries, rebuilt.size() / 3 + 1);
  return 0;
}
