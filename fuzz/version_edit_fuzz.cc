// libFuzzer target: VersionEdit::DecodeFrom, the decoder of every MANIFEST
// record.
//
// Input: the whole input is one encoded edit.
// Invariants checked:
// - a failed decode is Corruption and leaves the edit empty;
// - a decoded edit holds only what the format allows: levels in
//   [0, kNumLevels), well-formed internal keys for file bounds and
//   compaction pointers;
// - decode -> encode -> decode gives an equal edit (same fields, same
//   DebugString), and encoding that again gives identical bytes.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "version/version_edit.h"

namespace corodb::fuzz {
namespace {

bool SameFiles(const VersionEdit& a, const VersionEdit& b) {
  if (a.new_files().size() != b.new_files().size()) return false;
  for (size_t i = 0; i < a.new_files().size(); ++i) {
    const auto& [la, fa] = a.new_files()[i];
    const auto& [lb, fb] = b.new_files()[i];
    if (la != lb || fa.number != fb.number || fa.file_size != fb.file_size ||
        fa.smallest.Encode() != fb.smallest.Encode() ||
        fa.largest.Encode() != fb.largest.Encode()) {
      return false;
    }
  }
  return true;
}

bool SamePointers(const VersionEdit& a, const VersionEdit& b) {
  if (a.compact_pointers().size() != b.compact_pointers().size()) return false;
  for (size_t i = 0; i < a.compact_pointers().size(); ++i) {
    if (a.compact_pointers()[i].first != b.compact_pointers()[i].first ||
        a.compact_pointers()[i].second.Encode() !=
            b.compact_pointers()[i].second.Encode()) {
      return false;
    }
  }
  return true;
}

bool Equal(const VersionEdit& a, const VersionEdit& b) {
  return a.comparator() == b.comparator() && a.log_number() == b.log_number() &&
         a.prev_log_number() == b.prev_log_number() &&
         a.next_file_number() == b.next_file_number() &&
         a.last_sequence() == b.last_sequence() &&
         a.deleted_files() == b.deleted_files() && SameFiles(a, b) &&
         SamePointers(a, b) && a.DebugString() == b.DebugString();
}

bool WellFormedKey(const InternalKey& key) {
  ParsedInternalKey parsed;
  return ParseInternalKey(key.Encode(), &parsed);
}

bool Empty(const VersionEdit& e) {
  return !e.comparator() && !e.log_number() && !e.prev_log_number() &&
         !e.next_file_number() && !e.last_sequence() && e.compact_pointers().empty() &&
         e.deleted_files().empty() && e.new_files().empty();
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  const Slice input(reinterpret_cast<const char*>(data), size);
  VersionEdit edit;
  edit.SetLogNumber(7);  // DecodeFrom replaces whatever the edit held
  const Status s = edit.DecodeFrom(input);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption(), s.ToString());
    FUZZ_CHECK(Empty(edit), "a failed decode left fields behind");
    return 0;
  }

  for (const auto& [level, meta] : edit.new_files()) {
    FUZZ_CHECK(level >= 0 && level < kNumLevels, "new file at a level out of range");
    FUZZ_CHECK(WellFormedKey(meta.smallest) && WellFormedKey(meta.largest),
               "new file with a malformed bound");
  }
  for (const auto& [level, number] : edit.deleted_files()) {
    FUZZ_CHECK(level >= 0 && level < kNumLevels, "deleted file at a level out of range");
  }
  for (const auto& [level, key] : edit.compact_pointers()) {
    FUZZ_CHECK(level >= 0 && level < kNumLevels,
               "compact pointer at a level out of range");
    FUZZ_CHECK(WellFormedKey(key), "malformed compact pointer");
  }

  std::string encoded;
  edit.EncodeTo(&encoded);
  VersionEdit decoded;
  const Status again = decoded.DecodeFrom(encoded);
  FUZZ_CHECK(again.ok(), "the re-encoding does not decode: " + again.ToString());
  FUZZ_CHECK(Equal(edit, decoded), "decode -> encode -> decode changed the edit");
  std::string encoded_twice;
  decoded.EncodeTo(&encoded_twice);
  FUZZ_CHECK(encoded_twice == encoded, "encoding is not canonical");
  return 0;
}
