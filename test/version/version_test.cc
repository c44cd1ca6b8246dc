// Version: point lookups through real tables (levels, L0 order, snapshots,
// deletions, the no-I/O path, seek statistics), overlap queries, where a
// flushed memtable goes, approximate offsets, summaries.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "support/backends.h"
#include "version_test_util.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::BuildLevels;
using test::Describe;
using test::IK;
using test::kMiB;
using test::MakeBackendByName;
using test::Meta;
using test::Numbers;
using test::Run;
using test::VersionEnv;

using Entries = std::vector<std::pair<InternalKey, std::string>>;

std::string Get(const Version& v, Slice user_key, SequenceNumber seq = kMaxSequenceNumber,
                GetStats* stats = nullptr) {
  GetStats ignored;
  LookupKey key(user_key, seq);
  return Describe(Run(v.Get(ReadOptions(), key, stats != nullptr ? stats : &ignored)));
}

BOOST_AUTO_TEST_SUITE(VersionTest)

BOOST_DATA_TEST_CASE(GetFindsNewestEntryAtOrBelowTheSequence, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  BOOST_TEST(Numbers(*v, 0) == (std::vector<uint64_t>{5, 7}));
  BOOST_TEST(Get(*v, "k") == "new-k");  // L0: the newer file wins
  BOOST_TEST(Get(*v, "k", 20) == "new-k");
  BOOST_TEST(Get(*v, "k", 19) == "old-k");  // newer entries are invisible
  BOOST_TEST(Get(*v, "k", 9) == "NOT_FOUND");
  BOOST_TEST(Get(*v, "m") == "old-m");    // in the older L0 file only
  BOOST_TEST(Get(*v, "n") == "DELETED");  // the L0 deletion hides L2's value...
  BOOST_TEST(Get(*v, "n", 20) == "n2");   // ...but not from an older snapshot
  BOOST_TEST(Get(*v, "c") == "c1");
  BOOST_TEST(Get(*v, "d") == "d2");  // L1's file covers d but has none
  BOOST_TEST(Get(*v, "r") == "r2");
  BOOST_TEST(Get(*v, "b") == "NOT_FOUND");
  BOOST_TEST(Get(*v, "l") == "NOT_FOUND");
  BOOST_TEST(Get(*v, "zz") == "NOT_FOUND");
  BOOST_TEST(Get(*v, "") == "NOT_FOUND");
}

// TryGet answers only without I/O: nullopt while a table it needs is not
// open; once Get opened the tables and cached their blocks, the same
// answers as Get.
BOOST_DATA_TEST_CASE(TryGetAnswersWithoutIOOrDefers, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  const std::vector<std::pair<std::string, SequenceNumber>> lookups = {
      {"k", kMaxSequenceNumber},
      {"k", 19},
      {"m", kMaxSequenceNumber},
      {"n", kMaxSequenceNumber},
      {"n", 20},
      {"c", kMaxSequenceNumber},
      {"d", kMaxSequenceNumber},
      {"b", kMaxSequenceNumber},
      {"zz", kMaxSequenceNumber}};
  GetStats stats;
  {
    LookupKey key("k", kMaxSequenceNumber);
    BOOST_TEST(!v->TryGet(ReadOptions(), key, &stats).has_value());
  }
  {
    LookupKey key("zz", kMaxSequenceNumber);  // no file covers it: no I/O needed
    auto r = v->TryGet(ReadOptions(), key, &stats);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(Describe(*r) == "NOT_FOUND");
  }
  for (const auto& [user_key, seq] : lookups) {
    BOOST_TEST_CONTEXT(user_key << " @ " << seq) {
      const std::string expected = Get(*v, user_key, seq);
      LookupKey key(user_key, seq);
      auto r = v->TryGet(ReadOptions(), key, &stats);
      BOOST_REQUIRE(r.has_value());
      BOOST_TEST(Describe(*r) == expected);
    }
  }
}

BOOST_DATA_TEST_CASE(TableDamageIsReportedNotSkipped, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  // Table 8 is gone: a lookup that needs it fails (naming it) instead of
  // going on to level 2.
  BOOST_REQUIRE(io::RemoveFile(io::TableFileName(env.dbname, 8)).ok());
  const std::string r = Get(*v, "d");
  BOOST_TEST(r.find("000008") != std::string::npos, r);
  BOOST_TEST(Get(*v, "k") == "new-k");  // lookups that do not need it still work
}

// Seek statistics as LevelDB's: a lookup that consults two files charges the
// first; when a file's allowed seeks run out, UpdateStats says so once, and
// the file becomes the next (seek-triggered) compaction.
BOOST_DATA_TEST_CASE(SeeksChargeTheFirstFileAndTriggerItsCompaction,
                     bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  GetStats stats;
  BOOST_TEST(Get(*v, "c", kMaxSequenceNumber, &stats) == "c1");  // one file
  BOOST_TEST(stats.seek_file == nullptr);
  BOOST_TEST(Get(*v, "m", kMaxSequenceNumber, &stats) == "old-m");  // 7, then 5
  BOOST_REQUIRE(stats.seek_file != nullptr);
  BOOST_TEST(stats.seek_file->number == 7u);
  BOOST_TEST(stats.seek_file_level == 0);
  BOOST_TEST(Get(*v, "l", kMaxSequenceNumber, &stats) == "NOT_FOUND");  // 7, 5, then 12
  BOOST_REQUIRE(stats.seek_file != nullptr);
  BOOST_TEST(stats.seek_file->number == 7u);  // still the first
  BOOST_TEST(Get(*v, "zz", kMaxSequenceNumber, &stats) == "NOT_FOUND");  // reset: none
  BOOST_TEST(stats.seek_file == nullptr);
  BOOST_TEST(Get(*v, "d", kMaxSequenceNumber, &stats) == "d2");  // 8, then 12
  BOOST_REQUIRE(stats.seek_file != nullptr);
  BOOST_TEST(stats.seek_file->number == 8u);
  BOOST_TEST(stats.seek_file_level == 1);
  // TryGet fills the statistics the same way.
  LookupKey d("d", kMaxSequenceNumber);
  GetStats try_stats;
  auto r = v->TryGet(ReadOptions(), d, &try_stats);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(try_stats.seek_file == stats.seek_file);

  const int allowed = stats.seek_file->allowed_seeks.load();
  BOOST_TEST(allowed == 100);  // small files: LevelDB's minimum
  BOOST_TEST(!env.vset->NeedsCompaction());
  BOOST_TEST(env.vset->PickCompaction() == nullptr);
  for (int i = 1; i < allowed; ++i) {
    BOOST_REQUIRE(Get(*v, "d", kMaxSequenceNumber, &stats) == "d2");
    BOOST_REQUIRE(!v->UpdateStats(stats));
  }
  BOOST_TEST(!env.vset->NeedsCompaction());
  BOOST_TEST(v->UpdateStats(stats));   // the last allowed seek
  BOOST_TEST(!v->UpdateStats(stats));  // once only
  BOOST_TEST(!v->UpdateStats(GetStats{}));
  BOOST_TEST(env.vset->NeedsCompaction());

  std::unique_ptr<Compaction> c = env.vset->PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->is_seek());
  BOOST_TEST(!c->is_manual());
  BOOST_TEST(c->level() == 1);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{8});
  BOOST_TEST(Numbers(c->inputs(1)) == std::vector<uint64_t>{12});  // L2 overlapping a..e
  BOOST_TEST(c->input_version() == v);
}

// Level-0 files overlapping each other are gathered transitively: a file
// that widens the range widens it for the whole search.
BOOST_AUTO_TEST_CASE(GetOverlappingInputsWidensLevelZeroRanges) {
  VersionEnv env(MakeBackendByName(BackendNames().front()));
  VersionEdit edit;
  edit.AddFile(0, Meta(1, 100, "a", "c"));
  edit.AddFile(0, Meta(2, 100, "e", "g"));
  edit.AddFile(0, Meta(3, 100, "b", "f"));
  edit.AddFile(0, Meta(4, 100, "h", "i"));
  edit.AddFile(1, Meta(11, 100, "a", "c"));
  edit.AddFile(1, Meta(12, 100, "e", "g"));
  edit.AddFile(1, Meta(13, 100, "h", "i"));
  BOOST_REQUIRE(env.Apply(edit).ok());
  const auto v = env.vset->current();
  const InternalKey a = IK("a"), b = IK("b"), d = IK("d"), f = IK("f"), z = IK("z");
  // [a, b] touches 1 (to c), which touches 3 (to f), which touches 2 (to g).
  BOOST_TEST(Numbers(v->GetOverlappingInputs(0, &a, &b)) ==
             (std::vector<uint64_t>{1, 2, 3}));
  BOOST_TEST(Numbers(v->GetOverlappingInputs(0, &z, nullptr)).empty());
  BOOST_TEST(Numbers(v->GetOverlappingInputs(0, nullptr, nullptr)) ==
             (std::vector<uint64_t>{1, 2, 3, 4}));
  // Deeper levels: just the files overlapping the range.
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &a, &b)) == std::vector<uint64_t>{11});
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &d, &d)).empty());
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &d, &f)) == std::vector<uint64_t>{12});
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, nullptr, &d)) ==
             std::vector<uint64_t>{11});
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &f, nullptr)) ==
             (std::vector<uint64_t>{12, 13}));
  // User keys decide, whatever the sequence numbers.
  const InternalKey c_old = IK("c", 1), c_new = IK("c", 999);
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &c_old, &c_old)) ==
             std::vector<uint64_t>{11});
  BOOST_TEST(Numbers(v->GetOverlappingInputs(1, &c_new, &c_new)) ==
             std::vector<uint64_t>{11});
}

BOOST_DATA_TEST_CASE(OverlapInLevelByUserKeyRange, bdata::make({0, 1}), level) {
  VersionEnv env(MakeBackendByName(BackendNames().front()));
  VersionEdit edit;
  edit.AddFile(level, Meta(1, 100, "c", "e"));
  edit.AddFile(level, Meta(2, 100, "h", "j"));
  BOOST_REQUIRE(env.Apply(edit).ok());
  const auto v = env.vset->current();
  auto overlaps = [&](const char* lo, const char* hi) {
    const Slice l = lo != nullptr ? Slice(lo) : Slice(),
                h = hi != nullptr ? Slice(hi) : Slice();
    return v->OverlapInLevel(level, lo != nullptr ? &l : nullptr,
                             hi != nullptr ? &h : nullptr);
  };
  BOOST_TEST(!overlaps("a", "b"));
  BOOST_TEST(overlaps("a", "c"));
  BOOST_TEST(overlaps("d", "d"));
  BOOST_TEST(overlaps("e", "f"));
  BOOST_TEST(!overlaps("f", "g"));
  BOOST_TEST(overlaps("f", "h"));
  BOOST_TEST(overlaps("a", "z"));
  BOOST_TEST(!overlaps("k", "z"));
  BOOST_TEST(!overlaps(nullptr, "b"));
  BOOST_TEST(overlaps(nullptr, "c"));
  BOOST_TEST(overlaps("j", nullptr));
  BOOST_TEST(!overlaps("k", nullptr));
  BOOST_TEST(overlaps(nullptr, nullptr));
  BOOST_TEST(!v->OverlapInLevel(level + 1, nullptr, nullptr));  // empty level
}

// LevelDB's rule: level 0 when the range overlaps level 0; otherwise down
// while the next level does not overlap it and the level after holds at
// most 10 * max_file_size of it, to level 2 at most.
BOOST_AUTO_TEST_CASE(PickLevelForMemTableOutputFollowsLevelDB) {
  const uint64_t max_file = 2 * kMiB;
  struct Case {
    std::vector<std::pair<int, FileMetaData>> files;
    int expected;
    const char* what;
  };
  const std::vector<Case> cases = {
      {{}, 2, "nothing overlaps"},
      {{{0, Meta(1, 100, "c", "d")}}, 0, "overlaps level 0"},
      {{{0, Meta(1, 100, "x", "y")}}, 2, "level 0 elsewhere"},
      {{{1, Meta(1, 100, "a", "c")}}, 0, "overlaps level 1"},
      {{{2, Meta(1, 100, "d", "z")}}, 1, "overlaps level 2"},
      {{{2, Meta(1, 21 * kMiB, "x", "z")}}, 2, "level 2 elsewhere"},
      {{{2, Meta(1, 11 * kMiB, "a", "c")}, {2, Meta(2, 10 * kMiB, "d", "e")}},
       0,
       "level 2 overlap over the grandparent limit"},
      {{{3, Meta(1, 21 * kMiB, "a", "z")}}, 1, "level 3 overlap over the limit"},
      {{{3, Meta(1, 20 * kMiB, "a", "z")}}, 2, "level 3 overlap at the limit"},
      {{{4, Meta(1, 500 * kMiB, "a", "z")}}, 2, "deeper levels do not count"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      VersionEnv env(MakeBackendByName(BackendNames().front()));
      VersionEdit edit;
      for (const auto& [level, meta] : c.files) edit.AddFile(level, meta);
      BOOST_REQUIRE(env.Apply(edit).ok());
      BOOST_TEST(env.vset->current()->PickLevelForMemTableOutput("c", "e", max_file) ==
                 c.expected);
    }
  }
}

BOOST_DATA_TEST_CASE(ApproximateOffsetsFollowKeyOrder, bdata::make(BackendNames()),
                     backend) {
  VersionEnv env(MakeBackendByName(backend));
  env.options.compression = CompressionType::kNoCompression;
  auto entries = [](const std::string& prefix, int n) {
    Entries e;
    for (int i = 0; i < n; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "%04d", i);
      e.emplace_back(IK(prefix + key, 1), std::string(100, 'v'));
    }
    return e;
  };
  VersionEdit edit;
  const FileMetaData l1 = env.WriteTable(20, entries("k", 1000));
  const FileMetaData l2 = env.WriteTable(21, entries("z", 100));
  edit.AddFile(1, l1);
  edit.AddFile(2, l2);
  BOOST_REQUIRE(env.Apply(edit).ok());
  const auto v = env.vset->current();
  auto offset = [&](const std::string& user_key) {
    const InternalKey key = IK(user_key, kMaxSequenceNumber, kValueTypeForSeek);
    return Run(v->ApproximateOffsetOf(key));
  };
  BOOST_TEST(offset("a") == 0u);
  const uint64_t middle = offset("k0500");
  BOOST_TEST(middle > l1.file_size * 4 / 10);
  BOOST_TEST(middle < l1.file_size * 6 / 10);
  BOOST_TEST(offset("k0250") < middle);
  BOOST_TEST(offset("y") == l1.file_size);
  BOOST_TEST(offset("z0050") > l1.file_size);
  BOOST_TEST(offset("zz") == l1.file_size + l2.file_size);
}

BOOST_AUTO_TEST_CASE(SummariesListTheFiles) {
  VersionEnv env(MakeBackendByName(BackendNames().front()));
  VersionEdit edit;
  edit.AddFile(0, Meta(3, 100, "a", "b"));
  edit.AddFile(0, Meta(4, 100, "a", "b"));
  edit.AddFile(2, Meta(5, 1234, "c", "d", 7));
  BOOST_REQUIRE(env.Apply(edit).ok());
  const auto v = env.vset->current();
  BOOST_TEST(v->LevelSummary() == "files[ 2 0 1 0 0 0 0 ]");
  BOOST_TEST(env.vset->LevelSummary() == v->LevelSummary());
  const std::string debug = v->DebugString();
  BOOST_TEST(debug.find("--- level 2 ---\n 5:1234['c' @ 7 : 1 .. 'd' @ 7 : 1]\n") !=
                 std::string::npos,
             debug);
  BOOST_TEST(v->NumLevelBytes(2) == 1234u);
  BOOST_TEST(v->number() > 1u);
}

BOOST_AUTO_TEST_CASE(LevelSizesAreLevelDBs) {
  BOOST_TEST(MaxBytesForLevel(1) == 10.0 * kMiB);
  BOOST_TEST(MaxBytesForLevel(2) == 100.0 * kMiB);
  BOOST_TEST(MaxBytesForLevel(6) == 1000000.0 * kMiB);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
