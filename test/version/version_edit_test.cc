// VersionEdit: the MANIFEST record encoding, and what a damaged one decodes to.
#include "version/version_edit.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "util/coding.h"

namespace corodb {
namespace {

// VersionEdit tags (LevelDB's), for edits built by hand.
constexpr uint32_t kCompactPointerTag = 5;
constexpr uint32_t kNewFileTag = 7;

std::string IKey(const std::string& user_key, SequenceNumber seq, ValueType type = kTypeValue) {
  std::string encoded;
  AppendInternalKey(&encoded, ParsedInternalKey(user_key, seq, type));
  return encoded;
}

// A new-file entry (level 1, file 12, 4096 bytes) with the given keys.
std::string NewFileEntry(const std::string& smallest, const std::string& largest) {
  std::string edit;
  PutVarint32(&edit, kNewFileTag);
  PutVarint32(&edit, 1);
  PutVarint64(&edit, 12);
  PutVarint64(&edit, 4096);
  PutLengthPrefixedSlice(&edit, smallest);
  PutLengthPrefixedSlice(&edit, largest);
  return edit;
}

BOOST_AUTO_TEST_SUITE(VersionEditTest)

BOOST_AUTO_TEST_CASE(RoundTripsEveryField) {
  VersionEdit edit;
  edit.SetComparatorName("leveldb.BytewiseComparator");
  edit.SetLogNumber(7);
  edit.SetPrevLogNumber(6);
  edit.SetNextFile(20);
  edit.SetLastSequence(1000);
  edit.SetCompactPointer(2, InternalKey("m", 5, kTypeValue));
  edit.RemoveFile(3, 11);
  FileMetaData f;
  f.number = 12;
  f.file_size = 4096;
  f.smallest = InternalKey("a", 9, kTypeValue);
  f.largest = InternalKey("z", 3, kTypeDeletion);
  edit.AddFile(1, f);
  std::string encoded;
  edit.EncodeTo(&encoded);

  VersionEdit decoded;
  const Status s = decoded.DecodeFrom(encoded);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::string again;
  decoded.EncodeTo(&again);
  BOOST_TEST(again == encoded);
  BOOST_TEST(decoded.DebugString() == edit.DebugString());
}

BOOST_AUTO_TEST_CASE(ShortFileKeyIsCorruption) {
  for (bool smallest : {true, false}) {
    const std::string encoded =
        smallest ? NewFileEntry("abc", IKey("z", 1)) : NewFileEntry(IKey("a", 1), "abc");
    VersionEdit edit;
    const Status s = edit.DecodeFrom(encoded);
    BOOST_TEST_CONTEXT("smallest " << smallest) {
      BOOST_REQUIRE(!s.ok());
      BOOST_TEST(s.IsCorruption(), s.ToString());
      BOOST_TEST(s.ToString().find(smallest ? "smallest key" : "largest key") != std::string::npos,
                 s.ToString());
      BOOST_TEST(s.ToString().find("file 12") != std::string::npos, s.ToString());
      BOOST_TEST(edit.new_files().empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(FileKeyWithUnknownTypeIsCorruption) {
  std::string bad = IKey("b", 4);
  bad[bad.size() - 8] = 0x05;  // the tag's low byte is the type
  VersionEdit edit;
  const Status s = edit.DecodeFrom(NewFileEntry(IKey("a", 1), bad));
  BOOST_TEST(s.IsCorruption(), s.ToString());
}

BOOST_AUTO_TEST_CASE(ShortCompactPointerIsCorruption) {
  std::string encoded;
  PutVarint32(&encoded, kCompactPointerTag);
  PutVarint32(&encoded, 2);
  PutLengthPrefixedSlice(&encoded, "k");
  VersionEdit edit;
  const Status s = edit.DecodeFrom(encoded);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find("compaction pointer") != std::string::npos, s.ToString());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
