// VersionSet: LogAndApply and Recover round trips, damaged CURRENT and
// MANIFEST files, failed MANIFEST writes, live files, counters, threads.
#include "version/version_set.h"

#include <errno.h>

#include <atomic>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/fault_injection_backend.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "support/backends.h"
#include "version/current_file.h"
#include "version_test_util.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::IK;
using test::kMiB;
using test::MakeBackendByName;
using test::Meta;
using test::Numbers;
using test::Run;
using test::VersionEnv;

// Orders user keys backwards; named differently from the bytewise order.
class ReverseComparator final : public Comparator {
 public:
  int Compare(Slice a, Slice b) const override {
    return BytewiseComparator()->Compare(b, a);
  }
  const char* Name() const override { return "test.ReverseComparator"; }
  void FindShortestSeparator(std::string*, Slice) const override {}
  void FindShortSuccessor(std::string*) const override {}
};

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  BOOST_REQUIRE(out.good());
}

// The MANIFEST files in `dir`, by number.
std::vector<uint64_t> ManifestNumbers(const std::string& dir) {
  std::vector<uint64_t> numbers;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(entry.path().filename().string(), &number, &type) &&
        type == io::FileType::kDescriptorFile) {
      numbers.push_back(number);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

// Every record of MANIFEST-`number`, decoded; the test fails on damage.
std::vector<VersionEdit> ReadManifest(VersionEnv& env, uint64_t number) {
  auto file =
      env.fs.Open(io::DescriptorFileName(env.dbname, number), io::OpenMode::kRead);
  BOOST_REQUIRE(file.ok());
  log::Reader reader(**file, nullptr, /*checksum=*/true);
  std::vector<VersionEdit> edits;
  for (;;) {
    std::string record;
    Result<bool> more = Run(reader.ReadRecord(&record));
    BOOST_REQUIRE(more.ok());
    if (!*more) break;
    VersionEdit edit;
    BOOST_REQUIRE(edit.DecodeFrom(record).ok());
    edits.push_back(std::move(edit));
  }
  return edits;
}

// Writes `edits` as MANIFEST-`number` and points CURRENT at it.
void WriteManifest(VersionEnv& env, uint64_t number,
                   const std::vector<VersionEdit>& edits) {
  log::Writer writer;
  std::string bytes;
  for (const VersionEdit& edit : edits) {
    std::string record;
    edit.EncodeTo(&record);
    writer.AddRecord(record, &bytes);
  }
  WriteFileBytes(io::DescriptorFileName(env.dbname, number), bytes);
  BOOST_REQUIRE(Run(SetCurrentFile(env.fs, env.dbname, number)).ok());
}

// An edit with the counters a MANIFEST needs.
VersionEdit CountersEdit() {
  VersionEdit edit;
  edit.SetComparatorName(BytewiseComparator()->Name());
  edit.SetLogNumber(3);
  edit.SetNextFile(10);
  edit.SetLastSequence(7);
  return edit;
}

// The state RecoverRestores... and its neighbours build: three edits adding,
// deleting and moving files, with log numbers and compact pointers.
// Leaves L0 {4}, L1 {5 6 8}, L3 {10}, L4 {7}.
void ApplyThreeEdits(VersionEnv& env) {
  VersionSet& set = *env.vset;
  const uint64_t log = set.NewFileNumber();
  BOOST_REQUIRE(set.NewFileNumber() == 3);
  while (set.next_file_number() < 11) (void)set.NewFileNumber();
  VersionEdit e1;
  e1.SetLogNumber(log);
  e1.AddFile(0, Meta(3, 1000, "a", "m"));
  e1.AddFile(0, Meta(4, 2000, "c", "z"));
  e1.AddFile(1, Meta(5, 3000, "a", "f"));
  e1.AddFile(1, Meta(6, 4000, "g", "p"));
  e1.AddFile(2, Meta(7, 5000, "a", "z"));
  BOOST_REQUIRE(env.Apply(std::move(e1)).ok());
  set.SetLastSequence(500);

  VersionEdit e2;
  e2.RemoveFile(0, 3);
  e2.AddFile(1, Meta(8, 6000, "q", "t"));
  e2.SetCompactPointer(1, IK("f", 50));
  e2.SetPrevLogNumber(log);
  e2.SetLogNumber(9);
  BOOST_REQUIRE(env.Apply(std::move(e2)).ok());

  VersionEdit e3;
  e3.RemoveFile(3, 99);  // not there: ignored, as LevelDB does
  e3.AddFile(3, Meta(10, 7000, "b", "c"));
  e3.RemoveFile(2, 7);
  e3.AddFile(4, Meta(7, 5000, "a", "z"));
  e3.SetCompactPointer(2, IK("z"));
  set.SetLastSequence(900);
  BOOST_REQUIRE(env.Apply(std::move(e3)).ok());
}

// Same files (number, size, keys) at every level.
void CheckSameFiles(const Version& a, const Version& b) {
  for (int level = 0; level < kNumLevels; ++level) {
    BOOST_TEST_CONTEXT("level " << level) {
      BOOST_REQUIRE(a.NumFiles(level) == b.NumFiles(level));
      for (int i = 0; i < a.NumFiles(level); ++i) {
        const FileInfo& x = *a.files(level)[i];
        const FileInfo& y = *b.files(level)[i];
        BOOST_TEST(x.number == y.number);
        BOOST_TEST(x.file_size == y.file_size);
        BOOST_TEST(x.smallest.Encode() == y.smallest.Encode());
        BOOST_TEST(x.largest.Encode() == y.largest.Encode());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE(VersionSetTest)

BOOST_DATA_TEST_CASE(RecoverRestoresWhatLogAndApplyWrote, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  ApplyThreeEdits(env);
  const VersionSet& set = *env.vset;
  const auto v = set.current();
  BOOST_TEST(Numbers(*v, 0) == std::vector<uint64_t>{4});
  BOOST_TEST(Numbers(*v, 1) == (std::vector<uint64_t>{5, 6, 8}));
  BOOST_TEST(Numbers(*v, 2).empty());
  BOOST_TEST(Numbers(*v, 3) == std::vector<uint64_t>{10});
  BOOST_TEST(Numbers(*v, 4) == std::vector<uint64_t>{7});
  BOOST_TEST(set.log_number() == 9u);
  BOOST_TEST(set.prev_log_number() == 2u);

  auto recovered = env.NewSet();
  BOOST_REQUIRE(env.Recover(*recovered).ok());
  CheckSameFiles(*v, *recovered->current());
  BOOST_TEST(recovered->next_file_number() == set.next_file_number());
  BOOST_TEST(recovered->log_number() == 9u);
  BOOST_TEST(recovered->prev_log_number() == 2u);
  BOOST_TEST(recovered->last_sequence() == 900u);
  BOOST_TEST(recovered->manifest_file_number() == set.manifest_file_number());
  BOOST_TEST(recovered->LevelSummary() == "files[ 1 3 0 1 1 0 0 ]");
}

// After Recover, the first LogAndApply writes a new MANIFEST whose first
// record is the whole state (comparator, compact pointers, every file);
// CURRENT names it, and the old MANIFEST is no longer needed.
BOOST_DATA_TEST_CASE(RecoverStartsANewManifestThatSupersedesTheOld,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  ApplyThreeEdits(env);
  const uint64_t old_manifest = env.vset->manifest_file_number();

  auto second = env.NewSet();
  BOOST_REQUIRE(env.Recover(*second).ok());
  // LogAndApply allocates the new MANIFEST's number itself, first.
  const uint64_t expected_number = second->next_file_number();
  VersionEdit edit;
  edit.AddFile(5, Meta(50, 100, "x", "y"));
  BOOST_REQUIRE(env.Apply(*second, std::move(edit)).ok());
  const uint64_t new_manifest = second->manifest_file_number();
  BOOST_TEST(new_manifest > old_manifest);
  BOOST_TEST(new_manifest == expected_number);
  BOOST_TEST(*Run(ReadCurrentFile(env.fs, env.dbname)) == new_manifest);
  // The snapshot, then the edit, which records the next number after the MANIFEST's.
  const std::vector<VersionEdit> records = ReadManifest(env, new_manifest);
  BOOST_REQUIRE(records.size() == 2u);
  BOOST_TEST(*records[1].next_file_number() == new_manifest + 1);
  BOOST_TEST(records[1].new_files().size() == 1u);

  const VersionEdit& snapshot = records[0];
  BOOST_TEST(*snapshot.comparator() == "leveldb.BytewiseComparator");
  BOOST_REQUIRE(snapshot.compact_pointers().size() == 2u);
  BOOST_TEST(snapshot.compact_pointers()[0].first == 1);
  BOOST_TEST(snapshot.compact_pointers()[0].second.Encode() == IK("f", 50).Encode());
  BOOST_TEST(snapshot.compact_pointers()[1].first == 2);
  BOOST_TEST(snapshot.compact_pointers()[1].second.Encode() == IK("z").Encode());
  std::vector<std::string> files;  // "level:number"
  for (const auto& [level, meta] : snapshot.new_files()) {
    files.push_back(std::to_string(level) + ":" + std::to_string(meta.number));
  }
  BOOST_TEST(
      files == (std::vector<std::string>{"0:4", "1:5", "1:6", "1:8", "3:10", "4:7"}),
      boost::test_tools::per_element());

  // The old MANIFEST is superseded: without it, the state is still there.
  BOOST_REQUIRE(io::RemoveFile(io::DescriptorFileName(env.dbname, old_manifest)).ok());
  auto third = env.NewSet();
  BOOST_REQUIRE(env.Recover(*third).ok());
  CheckSameFiles(*second->current(), *third->current());
  BOOST_TEST(Numbers(*third->current(), 5) == std::vector<uint64_t>{50});
  BOOST_TEST(third->last_sequence() == 900u);
  BOOST_TEST(third->log_number() == 9u);
}

BOOST_DATA_TEST_CASE(RecoverFromManifestReadsAnOlderManifestAndLeavesCurrentAlone,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  ApplyThreeEdits(env);
  const uint64_t old_manifest = env.vset->manifest_file_number();
  auto second = env.NewSet();
  BOOST_REQUIRE(env.Recover(*second).ok());
  VersionEdit edit;
  edit.AddFile(5, Meta(50, 100, "x", "y"));
  BOOST_REQUIRE(env.Apply(*second, std::move(edit)).ok());
  const uint64_t new_manifest = second->manifest_file_number();
  BOOST_REQUIRE(new_manifest != old_manifest);
  const std::string current_before = ReadFileBytes(io::CurrentFileName(env.dbname));

  // The old MANIFEST, read by number: the state before file 50 was added.
  auto old_state = env.NewSet();
  bool save_manifest = false;
  Status s = Run(old_state->RecoverFromManifest(old_manifest, &save_manifest));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(Numbers(*old_state->current(), 5).empty());
  BOOST_TEST(Numbers(*old_state->current(), 1) == (std::vector<uint64_t>{5, 6, 8}));
  BOOST_TEST(old_state->manifest_file_number() == old_manifest);
  // The new one by number equals what CURRENT leads to.
  auto by_number = env.NewSet();
  BOOST_REQUIRE(Run(by_number->RecoverFromManifest(new_manifest, &save_manifest)).ok());
  CheckSameFiles(*second->current(), *by_number->current());
  // Nothing was written: CURRENT and the MANIFESTs are as they were.
  BOOST_TEST(ReadFileBytes(io::CurrentFileName(env.dbname)) == current_before);
  BOOST_TEST(ManifestNumbers(env.dbname) == (std::vector<uint64_t>{old_manifest, new_manifest}));
  // A MANIFEST that is not there is the open's error, not CURRENT's Corruption.
  s = Run(env.NewSet()->RecoverFromManifest(new_manifest + 100, &save_manifest));
  BOOST_TEST(s.IsNotFound());
  BOOST_TEST(s.ToString().find("MANIFEST-") != std::string::npos);
}

BOOST_DATA_TEST_CASE(ComparatorMismatchIsInvalidArgument, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  env.AddFile(1, Meta(5, 100, "a", "b"));
  ReverseComparator reverse;
  InternalKeyComparator reverse_icmp(&reverse);
  VersionSet other(env.dbname, env.options, &env.fs, env.table_cache.get(), &reverse_icmp,
                   nullptr);
  const Status s = env.Recover(other);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(s.ToString().find("leveldb.BytewiseComparator") != std::string::npos,
             s.ToString());
  BOOST_TEST(s.ToString().find("test.ReverseComparator") != std::string::npos,
             s.ToString());
  BOOST_TEST(other.current()->NumFiles(1) == 0);
}

BOOST_DATA_TEST_CASE(BadCurrentIsCorruption,
                     bdata::make(BackendNames()) *
                         bdata::make({std::string("MANIFEST-000002"), std::string(""),
                                      std::string("\n"), std::string("MANIFEST-\n"),
                                      std::string("000002.log\n"),
                                      std::string("MANIFEST-000002\n\n")}),
                     backend, contents) {
  VersionEnv env(MakeBackendByName(backend));
  env.AddFile(1, Meta(5, 100, "a", "b"));
  BOOST_REQUIRE(env.vset->manifest_file_number() == 2u);
  WriteFileBytes(io::CurrentFileName(env.dbname), contents);
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find("CURRENT") != std::string::npos, s.ToString());
}

BOOST_DATA_TEST_CASE(CurrentNamingAMissingManifestIsCorruption,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  env.AddFile(1, Meta(5, 100, "a", "b"));
  BOOST_REQUIRE(
      io::RemoveFile(io::DescriptorFileName(env.dbname, env.vset->manifest_file_number()))
          .ok());
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find("CURRENT") != std::string::npos, s.ToString());
}

BOOST_DATA_TEST_CASE(MissingCurrentIsNotFound, bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsNotFound(), s.ToString());
}

// A flipped byte anywhere in a record — its checksum, the first edit, the
// last edit — is Corruption naming the MANIFEST and the offset; nothing is
// installed.
BOOST_DATA_TEST_CASE(FlippedManifestByteIsCorruptionNamingFileAndOffset,
                     bdata::make(BackendNames()) * bdata::make({0, 9, -1}), backend,
                     where) {
  VersionEnv env(MakeBackendByName(backend));
  ApplyThreeEdits(env);
  const std::string path =
      io::DescriptorFileName(env.dbname, env.vset->manifest_file_number());
  std::string bytes = ReadFileBytes(path);
  const size_t offset = where >= 0 ? static_cast<size_t>(where) : bytes.size() - 1;
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  WriteFileBytes(path, bytes);

  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find(path) != std::string::npos, s.ToString());
  BOOST_TEST(s.ToString().find("offset") != std::string::npos, s.ToString());
  BOOST_TEST(set->current()->LevelSummary() == "files[ 0 0 0 0 0 0 0 ]");
}

BOOST_DATA_TEST_CASE(ManifestWithoutCountersIsCorruption,
                     bdata::make(BackendNames()) * bdata::make({0, 1, 2}), backend,
                     missing) {
  VersionEnv env(MakeBackendByName(backend));
  VersionEdit edit;
  edit.SetComparatorName(BytewiseComparator()->Name());
  if (missing != 0) edit.SetNextFile(10);
  if (missing != 1) edit.SetLogNumber(3);
  if (missing != 2) edit.SetLastSequence(7);
  WriteManifest(env, 1, {edit});
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  const char* expected[] = {"no meta-nextfile entry", "no meta-lognumber entry",
                            "no last-sequence-number entry"};
  BOOST_TEST(s.ToString().find(expected[missing]) != std::string::npos, s.ToString());
  BOOST_TEST(s.ToString().find("MANIFEST-000001") != std::string::npos, s.ToString());
}

// Keys carry 56-bit sequence numbers: a MANIFEST whose last sequence is
// past 2^56 - 1 would make later writes wrap to small numbers (older values
// shadowing newer ones), so it is refused; the largest itself is accepted.
BOOST_DATA_TEST_CASE(LastSequencePastTheLargestIsCorruption, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  VersionEdit edit;
  edit.SetComparatorName(BytewiseComparator()->Name());
  edit.SetNextFile(10);
  edit.SetLogNumber(3);
  edit.SetLastSequence(kMaxSequenceNumber + 1);
  WriteManifest(env, 1, {edit});
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find("MANIFEST-000001") != std::string::npos, s.ToString());
  BOOST_TEST(s.ToString().find("last sequence number") != std::string::npos, s.ToString());

  edit.SetLastSequence(kMaxSequenceNumber);
  WriteManifest(env, 11, {edit});
  auto good = env.NewSet();
  const Status ok = env.Recover(*good);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.ToString());
  BOOST_TEST(good->last_sequence() == kMaxSequenceNumber);
}

BOOST_DATA_TEST_CASE(OverlappingFilesInAManifestAreCorruption,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  VersionEdit files;
  files.AddFile(1, Meta(5, 100, "a", "m"));
  files.AddFile(1, Meta(6, 100, "k", "z"));
  WriteManifest(env, 1, {CountersEdit(), files});
  auto set = env.NewSet();
  const Status s = env.Recover(*set);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.ToString().find("MANIFEST-000001") != std::string::npos, s.ToString());
  BOOST_TEST(s.ToString().find("overlap") != std::string::npos, s.ToString());

  // The same files at level 0 are fine (level-0 files may overlap), and a
  // deletion of a file that is nowhere is ignored.
  VersionEdit l0;
  l0.AddFile(0, Meta(5, 100, "a", "m"));
  l0.AddFile(0, Meta(6, 100, "k", "z"));
  l0.RemoveFile(2, 77);
  WriteManifest(env, 11, {CountersEdit(), l0});
  auto good = env.NewSet();
  const Status ok = env.Recover(*good);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.ToString());
  BOOST_TEST(Numbers(*good->current(), 0) == (std::vector<uint64_t>{5, 6}));
  // Counters: the MANIFEST's, and never below CURRENT's MANIFEST or the logs.
  BOOST_TEST(good->next_file_number() == 12u);
  BOOST_TEST(good->log_number() == 3u);
  BOOST_TEST(good->last_sequence() == 7u);
}

// A user key split across two files of a level (as compactions may leave
// it) is not an overlap: the files are ordered by internal key.
BOOST_DATA_TEST_CASE(FilesSharingABoundaryUserKeyAreNotAnOverlap,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  VersionEdit files;
  files.AddFile(1, FileMetaData{6, 100, IK("k", 40), IK("z", 1)});
  files.AddFile(1, FileMetaData{5, 100, IK("a", 1), IK("k", 50)});
  BOOST_REQUIRE(env.Apply(files).ok());
  BOOST_TEST(Numbers(*env.vset->current(), 1) == (std::vector<uint64_t>{5, 6}));
  auto set = env.NewSet();
  BOOST_REQUIRE(env.Recover(*set).ok());
  BOOST_TEST(Numbers(*set->current(), 1) == (std::vector<uint64_t>{5, 6}));
}

// Files at level 0 are kept by number, oldest first, whatever their keys or
// the order of the edit; deeper levels by smallest key, whatever their numbers.
BOOST_DATA_TEST_CASE(LevelsAreOrdered, bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  VersionEdit edit;
  edit.AddFile(0, Meta(9, 100, "a", "b"));
  edit.AddFile(0, Meta(4, 100, "x", "z"));
  edit.AddFile(1, Meta(3, 100, "x", "z"));
  edit.AddFile(1, Meta(8, 100, "a", "b"));
  BOOST_REQUIRE(env.Apply(edit).ok());
  env.AddFile(0, Meta(6, 100, "c", "d"));
  env.AddFile(1, Meta(7, 100, "c", "d"));
  BOOST_TEST(Numbers(*env.vset->current(), 0) == (std::vector<uint64_t>{4, 6, 9}));
  BOOST_TEST(Numbers(*env.vset->current(), 1) == (std::vector<uint64_t>{8, 7, 3}));
  auto set = env.NewSet();
  BOOST_REQUIRE(env.Recover(*set).ok());
  BOOST_TEST(Numbers(*set->current(), 0) == (std::vector<uint64_t>{4, 6, 9}));
  BOOST_TEST(Numbers(*set->current(), 1) == (std::vector<uint64_t>{8, 7, 3}));
}

BOOST_DATA_TEST_CASE(LogAndApplyRefusesBadEditsBeforeWriting, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  env.AddFile(1, Meta(5, 100, "a", "m"));
  const auto before = env.vset->current();
  const std::string manifest =
      io::DescriptorFileName(env.dbname, env.vset->manifest_file_number());
  const std::string bytes = ReadFileBytes(manifest);

  VersionEdit overlap;
  overlap.AddFile(1, Meta(6, 100, "k", "z"));
  Status s = env.Apply(overlap);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());

  VersionEdit bad_level;
  bad_level.AddFile(kNumLevels, Meta(7, 100, "x", "y"));
  s = env.Apply(bad_level);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());

  VersionEdit old_log;
  old_log.SetLogNumber(env.vset->next_file_number());  // not allocated yet
  s = env.Apply(old_log);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());

  BOOST_TEST(env.vset->current() == before);
  BOOST_TEST(ReadFileBytes(manifest) == bytes);
  // The MANIFEST is still open: the next edit is appended to it.
  const uint64_t manifest_number = env.vset->manifest_file_number();
  env.AddFile(2, Meta(8, 100, "a", "z"));
  BOOST_TEST(env.vset->manifest_file_number() == manifest_number);
  BOOST_TEST(ReadFileBytes(manifest).size() > bytes.size());
}

enum class Fault {
  kNewManifestWrite,
  kNewManifestSync,
  kCurrentWrite,
  kCurrentSync,
  kDirectorySync,  // after CURRENT was renamed: it names the new MANIFEST
  kAppendWrite,
  kAppendSync,
};

std::ostream& operator<<(std::ostream& os, Fault f) { return os << static_cast<int>(f); }

// A failed MANIFEST write installs nothing; the next LogAndApply starts a new
// MANIFEST and succeeds; Recover then sees only what succeeded. The first
// five faults hit the new MANIFEST the first LogAndApply after Recover
// starts, the last two an append to the open one.
BOOST_DATA_TEST_CASE(FailedManifestWriteInstallsNothing,
                     bdata::make(BackendNames()) *
                         bdata::make({Fault::kNewManifestWrite, Fault::kNewManifestSync,
                                      Fault::kCurrentWrite, Fault::kCurrentSync,
                                      Fault::kDirectorySync, Fault::kAppendWrite,
                                      Fault::kAppendSync}),
                     backend, fault) {
  auto faults = std::make_shared<io::FaultInjectionBackend>(MakeBackendByName(backend));
  VersionEnv env(faults);
  env.AddFile(1, Meta(10, 100, "a", "b"));
  VersionSet* set = env.vset.get();
  std::unique_ptr<VersionSet> reopened;
  const bool appending = fault == Fault::kAppendWrite || fault == Fault::kAppendSync;
  if (!appending) {
    reopened = env.NewSet();
    BOOST_REQUIRE(env.Recover(*reopened).ok());
    set = reopened.get();
  }
  const uint64_t manifest_before = set->manifest_file_number();
  const auto before = set->current();

  switch (fault) {
    case Fault::kNewManifestWrite:
      faults->FailNthWrite(1, EIO);
      break;
    case Fault::kNewManifestSync:
      faults->FailNthSync(1, EIO);
      break;
    case Fault::kCurrentWrite:
      faults->FailNthWrite(2, EIO);
      break;
    case Fault::kCurrentSync:
      faults->FailNthSync(2, EIO);
      break;
    case Fault::kDirectorySync:
      faults->FailNthSync(3, EIO);
      break;
    case Fault::kAppendWrite:
      faults->FailNthWrite(1, EIO);
      break;
    case Fault::kAppendSync:
      faults->FailNthSync(1, EIO);
      break;
  }
  VersionEdit failing;
  failing.AddFile(2, Meta(20, 100, "c", "d"));
  const Status s = env.Apply(*set, failing);
  BOOST_TEST(s.IsIOError(), s.ToString());
  BOOST_TEST(faults->faults_injected() == 1u);
  BOOST_TEST(set->current() == before);
  // A new MANIFEST stays only when CURRENT names it (its directory sync failed).
  const uint64_t named = *Run(ReadCurrentFile(env.fs, env.dbname));
  if (fault == Fault::kDirectorySync) {
    BOOST_TEST(named > manifest_before);
    BOOST_TEST(
        ManifestNumbers(env.dbname) == (std::vector<uint64_t>{manifest_before, named}),
        boost::test_tools::per_element());
  } else {
    BOOST_TEST(named == manifest_before);
    BOOST_TEST(ManifestNumbers(env.dbname) == std::vector<uint64_t>{manifest_before},
               boost::test_tools::per_element());
  }
  BOOST_TEST(set->manifest_file_number() == named);

  VersionEdit next;
  next.AddFile(3, Meta(30, 100, "e", "f"));
  BOOST_REQUIRE(env.Apply(*set, next).ok());
  BOOST_TEST(set->manifest_file_number() > named);  // a new MANIFEST...
  BOOST_TEST(*Run(ReadCurrentFile(env.fs, env.dbname)) == set->manifest_file_number());
  auto recovered = env.NewSet();
  BOOST_REQUIRE(env.Recover(*recovered).ok());
  const auto v = recovered->current();
  BOOST_TEST(Numbers(*v, 1) == std::vector<uint64_t>{10});
  BOOST_TEST(Numbers(*v, 2).empty());  // ...without the failed edit
  BOOST_TEST(Numbers(*v, 3) == std::vector<uint64_t>{30});
}

// In a new directory (no CURRENT yet), a failed first MANIFEST is removed.
BOOST_DATA_TEST_CASE(FailedFirstManifestIsRemoved, bdata::make(BackendNames()), backend) {
  auto faults = std::make_shared<io::FaultInjectionBackend>(MakeBackendByName(backend));
  VersionEnv env(faults);
  faults->FailNthSync(1, EIO);
  VersionEdit failing;
  failing.AddFile(2, Meta(20, 100, "c", "d"));
  const Status s = env.Apply(failing);
  BOOST_TEST(s.IsIOError(), s.ToString());
  BOOST_TEST(ManifestNumbers(env.dbname).empty());
  BOOST_TEST(!io::FileExists(io::CurrentFileName(env.dbname)));
  BOOST_TEST(env.vset->manifest_file_number() == 0u);
  env.AddFile(3, Meta(30, 100, "e", "f"));
  auto recovered = env.NewSet();
  BOOST_REQUIRE(env.Recover(*recovered).ok());
  BOOST_TEST(recovered->LevelSummary() == "files[ 0 0 0 1 0 0 0 ]");
}

BOOST_DATA_TEST_CASE(AddLiveFilesKeepsFilesOfHeldVersions, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  VersionSet& set = *env.vset;
  env.AddFile(1, Meta(5, 100, "a", "b"));
  std::shared_ptr<const Version> held = set.current();
  VersionEdit edit;
  edit.RemoveFile(1, 5);
  edit.AddFile(1, Meta(6, 100, "a", "b"));
  BOOST_REQUIRE(env.Apply(edit).ok());

  std::set<uint64_t> live;
  set.AddLiveFiles(&live);
  BOOST_TEST(live == (std::set<uint64_t>{5, 6}), boost::test_tools::per_element());
  held.reset();
  live.clear();
  set.AddLiveFiles(&live);
  BOOST_TEST(live == std::set<uint64_t>{6}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(FileNumbersAndSequences) {
  VersionEnv env(MakeBackendByName(BackendNames().front()));
  VersionSet& set = *env.vset;
  BOOST_TEST(set.NewFileNumber() == 2u);
  set.MarkFileNumberUsed(100);
  BOOST_TEST(set.next_file_number() == 101u);
  set.MarkFileNumberUsed(50);
  BOOST_TEST(set.NewFileNumber() == 101u);
  BOOST_TEST(set.NewFileNumber() == 102u);
  set.SetLastSequence(42);
  BOOST_TEST(set.last_sequence() == 42u);
  BOOST_TEST(set.current() != nullptr);
  BOOST_TEST(set.manifest_file_number() == 0u);
  env.AddFile(1, Meta(5, 100, "a", "b"));
  BOOST_TEST(set.manifest_file_number() == 103u);
  BOOST_TEST(set.NumLevelFiles(1) == 1);
  BOOST_TEST(set.NumLevelBytes(1) == 100u);
  auto recovered = env.NewSet();
  BOOST_REQUIRE(env.Recover(*recovered).ok());
  BOOST_TEST(recovered->next_file_number() == 104u);
  BOOST_TEST(recovered->last_sequence() == 42u);
}

// Readers on other threads (current, live files, counters, seek charges)
// while one coroutine applies edits and picks compactions: ThreadSanitizer
// checks the locking; the readers check that what they see is consistent.
BOOST_AUTO_TEST_CASE(ReadersOnOtherThreadsSeeConsistentVersions) {
  VersionEnv env(MakeBackendByName(BackendNames().front()));
  VersionSet& set = *env.vset;
  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0};
  auto reader = [&] {
    while (!done.load()) {
      const auto v = set.current();
      std::set<uint64_t> live;
      set.AddLiveFiles(&live);
      for (const FileRef& f : v->files(1)) {
        if (!live.contains(f->number)) ++inconsistent;
        GetStats stats;
        stats.seek_file = f;
        stats.seek_file_level = 1;
        (void)v->UpdateStats(stats);
      }
      if (v->NumFiles(1) > set.NumLevelFiles(1)) ++inconsistent;  // files only grow
      (void)set.NeedsCompaction();
      (void)set.LevelSummary();
      (void)set.log_number();
      (void)set.manifest_file_number();
      (void)set.NewFileNumber();
    }
  };
  std::thread t1(reader), t2(reader);
  for (int i = 0; i < 40; ++i) {
    const std::string k = "k" + std::to_string(100 + i);
    env.AddFile(1, Meta(set.NewFileNumber(), 1000, k + "a", k + "b"));
    set.SetLastSequence(set.last_sequence() + 10);
    (void)set.PickCompaction();
  }
  done = true;
  t1.join();
  t2.join();
  BOOST_TEST(inconsistent.load() == 0);
  BOOST_TEST(set.NumLevelFiles(1) == 40);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
