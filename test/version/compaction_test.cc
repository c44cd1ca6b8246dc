// Compaction picking (VersionSet::PickCompaction, CompactRange) and the
// questions a running compaction asks (Compaction): LevelDB's policy.
// Files here are metadata only: picking never opens a table.
#include <boost/test/unit_test.hpp>

#include "support/backends.h"
#include "version_test_util.h"

namespace corodb {
namespace {

using test::BackendNames;
using test::IK;
using test::kMiB;
using test::MakeBackendByName;
using test::Meta;
using test::Numbers;
using test::Run;
using test::VersionEnv;

struct Fixture {
  VersionEnv env{MakeBackendByName(BackendNames().front())};
  VersionSet& set = *env.vset;

  void Add(std::vector<std::pair<int, FileMetaData>> files) {
    VersionEdit edit;
    for (auto& [level, meta] : files) {
      set.MarkFileNumberUsed(meta.number);
      edit.AddFile(level, std::move(meta));
    }
    const Status s = env.Apply(std::move(edit));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  // Installs what `c` would produce when its inputs move down unchanged.
  void ApplyAsMove(Compaction& c) {
    VersionEdit* edit = c.edit();
    c.AddInputDeletions(edit);
    for (int which = 0; which < 2; ++which) {
      for (const FileRef& f : c.inputs(which)) edit->AddFile(c.level() + 1, f->meta());
    }
    const Status s = Run(set.LogAndApply(edit));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
};

BOOST_FIXTURE_TEST_SUITE(CompactionTest, Fixture)

BOOST_AUTO_TEST_CASE(NothingToDoPicksNothing) {
  BOOST_TEST(set.PickCompaction() == nullptr);
  Add({{0, Meta(1, kMiB, "a", "b")}, {1, Meta(2, 9 * kMiB, "a", "b")}});
  BOOST_TEST(!set.NeedsCompaction());
  BOOST_TEST(set.PickCompaction() == nullptr);
}

// Four level-0 files trigger a compaction of the first one and every
// level-0 file overlapping it (transitively), plus the level-1 files
// overlapping all of them.
BOOST_AUTO_TEST_CASE(LevelZeroCompactionGathersOverlappingFiles) {
  Add({{0, Meta(1, kMiB, "a", "c")},
       {0, Meta(2, kMiB, "m", "n")},
       {0, Meta(3, kMiB, "c", "e")},
       {1, Meta(10, kMiB, "a", "b")},
       {1, Meta(11, kMiB, "d", "f")},
       {1, Meta(12, kMiB, "g", "h")},
       {2, Meta(20, kMiB, "a", "z")}});
  BOOST_TEST(!set.NeedsCompaction());  // three level-0 files
  Add({{0, Meta(4, kMiB, "x", "y")}});
  BOOST_TEST(set.NeedsCompaction());
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->level() == 0);
  BOOST_TEST(!c->is_seek());
  BOOST_TEST(!c->is_manual());
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{1, 3}));
  BOOST_TEST(Numbers(c->inputs(1)) == (std::vector<uint64_t>{10, 11}));
  BOOST_TEST(!c->IsTrivialMove());
  BOOST_TEST(c->MaxOutputFileSize() == env.options.max_file_size);
  // The compact pointer: the largest key of the level's inputs, in the edit.
  BOOST_REQUIRE(c->edit()->compact_pointers().size() == 1u);
  BOOST_TEST(c->edit()->compact_pointers()[0].first == 0);
  BOOST_TEST(c->edit()->compact_pointers()[0].second.Encode() == IK("e").Encode());
  // Level 2 (below the output level) holds [a, z].
  BOOST_TEST(!c->IsBaseLevelForKey("m"));
}

// A level over its size limit is compacted one file at a time, each after
// the previous one's largest key (the compact pointer), as long as the
// level stays over the limit.
BOOST_AUTO_TEST_CASE(SizeCompactionsRoundRobinThroughTheLevel) {
  std::vector<std::pair<int, FileMetaData>> files;
  for (int i = 0; i < 7; ++i) {
    const std::string k(1, static_cast<char>('a' + i));
    files.emplace_back(1, Meta(10 + i, 2 * kMiB, k + "0", k + "1"));
  }
  Add(files);  // 14 MiB at level 1: score 1.4
  std::vector<uint64_t> picked;
  while (std::unique_ptr<Compaction> c = set.PickCompaction()) {
    BOOST_REQUIRE(picked.size() < 7u);
    BOOST_TEST(c->level() == 1);
    BOOST_REQUIRE(c->num_input_files(0) == 1);
    BOOST_TEST(c->num_input_files(1) == 0);
    BOOST_TEST(c->IsTrivialMove());
    const FileRef f = c->inputs(0)[0];
    picked.push_back(f->number);
    BOOST_TEST(c->edit()->compact_pointers()[0].second.Encode() == f->largest.Encode());
    ApplyAsMove(*c);
  }
  // 14, 12, 10 MiB were >= the 10 MiB limit; 8 MiB is not.
  BOOST_TEST(picked == (std::vector<uint64_t>{10, 11, 12}));
  BOOST_TEST(Numbers(*set.current(), 2) == (std::vector<uint64_t>{10, 11, 12}));
  BOOST_TEST(!set.NeedsCompaction());
}

// The compact pointer survives in the edit: past the level's last file the
// next pick wraps around to the first.
BOOST_AUTO_TEST_CASE(SizeCompactionWrapsAroundAfterTheLastFile) {
  std::vector<std::pair<int, FileMetaData>> files;
  for (int i = 0; i < 6; ++i) {
    const std::string k(1, static_cast<char>('a' + i));
    files.emplace_back(1, Meta(10 + i, 2 * kMiB, k + "0", k + "1"));
  }
  Add(files);
  VersionEdit edit;
  edit.SetCompactPointer(1, IK("c1", 1));  // after c1@100: the next file is d
  BOOST_REQUIRE(env.Apply(edit).ok());
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{13});
  VersionEdit past;
  past.SetCompactPointer(1, IK("zz"));
  BOOST_REQUIRE(env.Apply(past).ok());
  c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{10});
  // A pick moves the pointer at once: the next pick goes on from there.
  c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{11});
}

// SetupOtherInputs: the level's inputs grow to the whole range of the
// compaction when that adds no level + 1 file and the total stays under
// 25 * max_file_size.
BOOST_AUTO_TEST_CASE(InputsExpandWhenTheNextLevelStaysTheSame) {
  Add({{1, Meta(1, 6 * kMiB, "a", "b")},
       {1, Meta(2, 6 * kMiB, "c", "d")},
       {2, Meta(10, 10 * kMiB, "a", "d")}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{1, 2}));
  BOOST_TEST(Numbers(c->inputs(1)) == std::vector<uint64_t>{10});
  BOOST_TEST(c->edit()->compact_pointers()[0].second.Encode() == IK("d").Encode());
  // The set's pointer moved too: the next pick starts after d (wraps to 1).
  std::unique_ptr<Compaction> next = set.PickCompaction();
  BOOST_TEST(Numbers(next->inputs(0)) == (std::vector<uint64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(InputsDoNotExpandWhenTheNextLevelWouldGrow) {
  Add({{1, Meta(1, 6 * kMiB, "a", "b")},
       {1, Meta(2, 6 * kMiB, "c", "d")},
       {2, Meta(10, 2 * kMiB, "a", "c")},
       {2, Meta(11, 2 * kMiB, "d", "e")}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{1});
  BOOST_TEST(Numbers(c->inputs(1)) == std::vector<uint64_t>{10});
  BOOST_TEST(c->edit()->compact_pointers()[0].second.Encode() == IK("b").Encode());
}

BOOST_AUTO_TEST_CASE(InputsDoNotExpandPastTheSizeLimit) {
  // 6 + 6 + 38 = 50 MiB is not under 25 * 2 MiB.
  Add({{1, Meta(1, 6 * kMiB, "a", "b")},
       {1, Meta(2, 6 * kMiB, "c", "d")},
       {2, Meta(10, 38 * kMiB, "a", "d")}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == std::vector<uint64_t>{1});
  BOOST_TEST(Numbers(c->inputs(1)) == std::vector<uint64_t>{10});
}

// A user key split across two files of a level moves down whole: the file
// holding its older entries joins the inputs.
BOOST_AUTO_TEST_CASE(FilesSharingAUserKeyAreCompactedTogether) {
  Add({{1, FileMetaData{1, 6 * kMiB, IK("a", 100), IK("k", 50)}},
       {1, FileMetaData{2, 6 * kMiB, IK("k", 40), IK("p", 100)}},
       {1, FileMetaData{3, 1 * kMiB, IK("q", 100), IK("r", 100)}}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{1, 2}));
  BOOST_TEST(c->edit()->compact_pointers()[0].second.Encode() == IK("p", 100).Encode());
}

// A trivial move: one file, nothing at level + 1, at most 10 * max_file_size
// of level + 2 overlapping.
BOOST_AUTO_TEST_CASE(TrivialMoveNeedsNoNextLevelOverlapAndFewGrandparents) {
  struct Case {
    std::vector<std::pair<int, FileMetaData>> others;
    bool trivial;
    const char* what;
  };
  const std::vector<Case> cases = {
      {{}, true, "alone"},
      {{{3, Meta(20, 10 * kMiB, "a", "c")}, {3, Meta(21, 10 * kMiB, "d", "e")}},
       true,
       "grandparents at the limit"},
      {{{3, Meta(20, 10 * kMiB, "a", "c")}, {3, Meta(21, 11 * kMiB, "d", "e")}},
       false,
       "grandparents over the limit"},
      {{{3, Meta(20, 30 * kMiB, "x", "z")}}, true, "grandparents elsewhere"},
      {{{2, Meta(10, 1 * kMiB, "b", "c")}}, false, "next level overlaps"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      Fixture f;
      auto files = c.others;
      files.emplace_back(1, Meta(1, 12 * kMiB, "a", "m"));
      f.Add(files);
      std::unique_ptr<Compaction> picked = f.set.PickCompaction();
      BOOST_REQUIRE(picked != nullptr);
      BOOST_TEST(picked->level() == 1);
      BOOST_TEST(picked->IsTrivialMove() == c.trivial);
    }
  }
}

// The output ends before a key once the keys written so far overlap more
// than 10 * max_file_size of level + 2; the first key overlaps nothing
// before it.
BOOST_AUTO_TEST_CASE(ShouldStopBeforeSplitsAtTheGrandparentLimit) {
  std::vector<std::pair<int, FileMetaData>> files = {{1, Meta(1, 12 * kMiB, "a", "z")}};
  const char* ranges[][2] = {{"b", "c"}, {"d", "e"}, {"f", "g"}, {"h", "i"}, {"j", "k"}};
  for (int i = 0; i < 5; ++i) {
    files.emplace_back(3, Meta(30 + i, 8 * kMiB, ranges[i][0], ranges[i][1]));
  }
  Add(files);
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->level() == 1);
  BOOST_TEST(!c->IsTrivialMove());  // 40 MiB of grandparents
  BOOST_TEST(!c->ShouldStopBefore(IK("a").Encode()));
  BOOST_TEST(!c->ShouldStopBefore(IK("c5").Encode()));  // past [b, c]: 8 MiB
  BOOST_TEST(!c->ShouldStopBefore(IK("e5").Encode()));  // 16 MiB
  BOOST_TEST(c->ShouldStopBefore(IK("g5").Encode()));   // 24 MiB: stop, start over
  BOOST_TEST(!c->ShouldStopBefore(IK("i5").Encode()));  // 8 MiB
  BOOST_TEST(!c->ShouldStopBefore(IK("k5").Encode()));  // 16 MiB
  BOOST_TEST(!c->ShouldStopBefore(IK("z").Encode()));

  // Files passed before the first key are not charged.
  std::unique_ptr<Compaction> again = set.CompactRange(1, nullptr, nullptr);
  BOOST_REQUIRE(again != nullptr);
  BOOST_TEST(!again->ShouldStopBefore(IK("g5").Encode()));  // b..g passed, uncharged
  BOOST_TEST(!again->ShouldStopBefore(IK("i5").Encode()));  // 8 MiB
  BOOST_TEST(!again->ShouldStopBefore(IK("k5").Encode()));  // 16 MiB
}

// Whether a deletion marker may be dropped: no level below level + 1 has a
// file whose range holds the key. Keys come in order.
BOOST_AUTO_TEST_CASE(IsBaseLevelForKeyLooksBelowTheOutputLevel) {
  Add({{1, Meta(1, 12 * kMiB, "a", "z")},
       {2, Meta(2, 1 * kMiB, "b", "b")},  // the output level does not count
       {3, Meta(3, 1 * kMiB, "d", "f")},
       {4, Meta(4, 1 * kMiB, "m", "n")},
       {6, Meta(6, 1 * kMiB, "q", "q")}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->level() == 1);
  const std::vector<std::pair<const char*, bool>> keys = {
      {"a", true},  {"b", true},  {"d", false}, {"e", false}, {"f", false}, {"g", true},
      {"m", false}, {"n", false}, {"o", true},  {"q", false}, {"r", true},  {"z", true}};
  for (const auto& [key, base] : keys) {
    BOOST_TEST_CONTEXT(key) { BOOST_TEST(c->IsBaseLevelForKey(key) == base); }
  }
}

BOOST_AUTO_TEST_CASE(AddInputDeletionsRemovesBothLevelsInputs) {
  Add({{1, Meta(1, 12 * kMiB, "a", "m")}, {2, Meta(2, kMiB, "b", "c")}});
  std::unique_ptr<Compaction> c = set.PickCompaction();
  BOOST_REQUIRE(c != nullptr);
  VersionEdit edit;
  c->AddInputDeletions(&edit);
  BOOST_TEST(
      (edit.deleted_files() == std::set<std::pair<int, uint64_t>>{{1, 1}, {2, 2}}));
}

// CompactRange: the files overlapping the range; at levels >= 1 cut after the
// file that brings the total to max_file_size; never cut at level 0.
BOOST_AUTO_TEST_CASE(CompactRangeTakesAboutOneOutputFileAtATime) {
  Add({{0, Meta(1, kMiB, "a", "c")},
       {0, Meta(2, kMiB, "b", "d")},
       {0, Meta(3, kMiB, "c", "e")},
       {1, Meta(11, kMiB, "a", "b")},
       {1, Meta(12, kMiB, "c", "d")},
       {1, Meta(13, kMiB, "e", "f")},
       {1, Meta(14, kMiB, "g", "h")}});
  std::unique_ptr<Compaction> c = set.CompactRange(1, nullptr, nullptr);
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->is_manual());
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{11, 12}));
  const InternalKey e = IK("e"), z = IK("z"), x = IK("x");
  c = set.CompactRange(1, &e, &z);
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{13, 14}));
  c = set.CompactRange(0, nullptr, nullptr);
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(Numbers(c->inputs(0)) == (std::vector<uint64_t>{1, 2, 3}));
  BOOST_TEST(Numbers(c->inputs(1)) == (std::vector<uint64_t>{11, 12, 13}));
  BOOST_TEST(set.CompactRange(1, &x, &z) == nullptr);
  BOOST_TEST(set.CompactRange(2, nullptr, nullptr) == nullptr);
  BOOST_TEST(set.CompactRange(kNumLevels - 1, nullptr, nullptr) == nullptr);
}

BOOST_AUTO_TEST_CASE(MaxNextLevelOverlappingBytes) {
  Add({{1, Meta(1, kMiB, "a", "c")},
       {1, Meta(2, kMiB, "d", "f")},
       {2, Meta(10, 3 * kMiB, "a", "b")},
       {2, Meta(11, 5 * kMiB, "c", "e")},
       {3, Meta(20, 9 * kMiB, "x", "y")}});
  BOOST_TEST(set.MaxNextLevelOverlappingBytes() == 8 * kMiB);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
