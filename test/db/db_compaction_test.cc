// Compactions on every I/O backend: what they drop (deletion markers and
// shadowed values, only once nothing older can show through), where flushed
// tables land, that replaced files are deleted, and seek-triggered
// compaction.
//
// Files reach chosen levels by LevelDB's placement rules, not by hooks: a
// memtable whose table overlaps nothing is pushed to level 2, one that
// overlaps level 2 (only) stops at level 1, one that overlaps level 1 stays at
// level 0; tables of a recovered log always go to level 0; deeper levels are
// placed directly (the MANIFEST extended through a VersionSet).
#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "db_engine_test_util.h"
#include "support/temp_dir.h"
#include "version/version_test_util.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::CheckAll;
using test::CountType;
using test::DirFiles;
using test::EngineOptions;
using test::EntriesInTables;
using test::FilesAtLevel;
using test::FlushWithFiller;
using test::GetOrStatus;
using test::kKiB;
using test::LevelSummary;
using test::ListDbFiles;
using test::LiveTables;
using test::Model;
using test::NumKey;
using test::OpenOrDie;
using test::RandomValue;
using test::Run;
using test::SizedValue;
using test::Stat;
using test::TempDir;
using test::WaitIdle;

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBCompactionDropTest)

// Level placement used below, for a memtable flushed into an otherwise
// quiet DB: a table overlapping nothing goes to level 2; one overlapping only
// level 2 stops at level 1; one overlapping level 1 stays at level 0, and four
// of those trigger a level-0 compaction into level 1. A Get that misses the
// level-1 table and hits the level-2 table charges a seek to the level-1
// table; after 100 of them it is compacted into level 2.
Options DropTestOptions(const std::string& backend) {
  Options o = EngineOptions(backend);
  o.filter_policy = nullptr;  // every Get of a key in a table's range reads it
  return o;
}

// Gets of `keys` (each in the range of a table at one level and found only
// deeper) until a seek compaction has run.
void SeekCompact(DB& db, const std::vector<std::string>& keys, const Model& model) {
  const uint64_t before = Stat(db, "seek_compactions");
  for (int round = 0; round < 20 && Stat(db, "seek_compactions") == before; ++round) {
    for (int i = 0; i < 100; ++i) {
      const std::string& k = keys[static_cast<size_t>(i) % keys.size()];
      BOOST_REQUIRE_EQUAL(GetOrStatus(db, k), model.at(k));
    }
    const Status idle = WaitIdle(db);
    BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
  }
  BOOST_REQUIRE_MESSAGE(Stat(db, "seek_compactions") > before,
                        "no seek compaction: " << LevelSummary(db));
}

// The victim is written at level 2, then deleted (or overwritten) in a table
// at level 1, then four level-0 tables are compacted into level 1 (the marker
// must survive: level 2 still holds the key), then level 1 is compacted into
// level 2 (now the marker and every older value must go). After each step,
// and after reopening, the victim reads as its last write.
void CheckVictimThroughCompactions(const std::string& backend, bool delete_victim) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = DropTestOptions(backend);
  const std::string victim = NumKey("d", 50);
  Model model;
  auto db = OpenOrDie(options, path, backend);
  auto check = [&](const std::string& where) {
    CheckAll(*db, model, where);
    BOOST_TEST(
        GetOrStatus(*db, victim) == (model.count(victim) ? model[victim] : "NOT_FOUND"),
        where);
  };
  auto reopen_and_check = [&](const std::string& where) {
    BOOST_REQUIRE(Run(db->Close()).ok());
    db.reset();
    db = OpenOrDie(options, path, backend);
    check(where + ", reopened");
  };

  // 1. Every key d0..d99 (values v1) in one table, pushed to level 2.
  for (int i = 0; i < 100; ++i) {
    const std::string k = NumKey("d", i);
    model[k] = SizedValue("v1-" + k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 0) == 0 && FilesAtLevel(*db, 1) == 0,
      LevelSummary(*db));
  check("value at level 2");

  // 2. The victim deleted (or overwritten), with the odd keys, at level 1.
  if (delete_victim) {
    BOOST_REQUIRE(Run(db->Delete({}, victim)).ok());
    model.erase(victim);
  } else {
    model[victim] = SizedValue("v2-" + victim, 100);
    BOOST_REQUIRE(Run(db->Put({}, victim, model[victim])).ok());
  }
  for (int i = 1; i < 100; i += 2) {
    const std::string k = NumKey("d", i);
    model[k] = SizedValue("v2-" + k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1,
                        LevelSummary(*db));
  {
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    BOOST_TEST(entries.size() == 2u, test::Describe(entries));
    BOOST_TEST(CountType(entries, kTypeDeletion) == (delete_victim ? 1 : 0),
               test::Describe(entries));
  }
  check("second write at level 1");
  reopen_and_check("second write at level 1");

  // 3. Four level-0 tables (overwrites of the odd keys, and of the victim
  //    when it is overwritten) compacted with level 1 into level 1.
  const uint64_t compactions_before = Stat(*db, "compactions");
  for (int t = 0; t < 4; ++t) {
    if (!delete_victim) {
      model[victim] = SizedValue("v" + std::to_string(3 + t) + "-" + victim, 100);
      BOOST_REQUIRE(Run(db->Put({}, victim, model[victim])).ok());
    }
    for (int i = 1; i < 100; i += 2) {
      const std::string k = NumKey("d", i);
      model[k] = SizedValue("v" + std::to_string(3 + t) + "-" + k, 100);
      BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
    }
    FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  }
  BOOST_REQUIRE_MESSAGE(Stat(*db, "compactions") > compactions_before, LevelSummary(*db));
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 0) == 0 && FilesAtLevel(*db, 1) >= 1 && FilesAtLevel(*db, 2) == 1,
      LevelSummary(*db));
  {
    // Level 2 still holds the old value: the marker above it must stay.
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    BOOST_TEST(CountType(entries, kTypeDeletion) == (delete_victim ? 1 : 0),
               test::Describe(entries));
    BOOST_TEST(CountType(entries, kTypeValue) == 1 + (delete_victim ? 0 : 1),
               test::Describe(entries));
  }
  check("after the level-0 compaction");
  reopen_and_check("after the level-0 compaction");

  // 4. Level 1 compacted into level 2 by seeks: Gets of even keys miss
  //    level 1 and hit level 2.
  std::vector<std::string> even;
  for (int i = 0; i < 100; i += 2) {
    if (NumKey("d", i) != victim) even.push_back(NumKey("d", i));
  }
  SeekCompact(*db, even, model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 0 && FilesAtLevel(*db, 2) >= 1,
                        LevelSummary(*db));
  {
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    if (delete_victim) {
      BOOST_TEST(entries.empty(), "the marker (or a value under it) is still in a table: "
                                      << test::Describe(entries) << "; "
                                      << LevelSummary(*db));
    } else {
      BOOST_REQUIRE_MESSAGE(entries.size() == 1u, test::Describe(entries)
                                                      << "; " << LevelSummary(*db));
      BOOST_TEST(entries[0].type == kTypeValue);
      BOOST_TEST(entries[0].value == model[victim]);
    }
  }
  check("after the level-1 compaction");
  reopen_and_check("after the level-1 compaction");
}

BOOST_DATA_TEST_CASE(DeletedKeyNeverComesBackAfterItsMarkerIsCompactedAway,
                     bdata::make(BackendNames()), backend) {
  CheckVictimThroughCompactions(backend, /*delete_victim=*/true);
}

BOOST_DATA_TEST_CASE(ShadowedValuesNeverComeBackAndAreDropped,
                     bdata::make(BackendNames()), backend) {
  CheckVictimThroughCompactions(backend, /*delete_victim=*/false);
}

// Tables placed at chosen levels of a closed DB (its MANIFEST extended
// through a VersionSet, as the version tests do). Entries: user key,
// sequence, deletion or value.
struct PlacedEntry {
  std::string key;
  SequenceNumber sequence;
  std::optional<std::string> value;  // nullopt: a deletion marker
};
struct PlacedTable {
  int level;
  std::vector<PlacedEntry> entries;  // increasing keys
};

void PlaceTables(const std::string& backend, const std::string& path,
                 const std::vector<PlacedTable>& tables, SequenceNumber last_sequence) {
  test::VersionEnv env(test::MakeBackendByName(backend), BytewiseComparator(), path);
  BOOST_REQUIRE(env.Recover(*env.vset).ok());
  VersionEdit edit;
  for (const PlacedTable& t : tables) {
    std::vector<std::pair<InternalKey, std::string>> entries;
    for (const PlacedEntry& e : t.entries) {
      entries.emplace_back(
          InternalKey(e.key, e.sequence, e.value ? kTypeValue : kTypeDeletion),
          e.value.value_or(""));
    }
    edit.AddFile(t.level, env.WriteTable(env.vset->NewFileNumber(), entries));
  }
  env.vset->SetLastSequence(last_sequence);
  const Status s = env.Apply(std::move(edit));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// Deletion markers at level 1 over values at level 3 — at the first and the
// last key of a level-3 table — survive a compaction of level 1 into level 2
// (level 3 still holds the keys); a marker over a value at level 2 only, in
// the gap between level-3 tables, is dropped there with the value. Then the
// level-2 table is compacted into level 3: markers and values meet and all go.
// No deleted key reads again at any point, or after reopening.
BOOST_DATA_TEST_CASE(MarkersStayUntilTheyMeetEveryOlderValue, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = DropTestOptions(backend);
  { auto db = OpenOrDie(options, path, backend); }
  const std::vector<std::string> deep_victims = {NumKey("m", 45), NumKey("m", 50),
                                                 NumKey("m", 70)};
  const std::string shallow_victim = NumKey("m", 75);
  Model model;
  std::vector<PlacedTable> tables;
  // Level 3: four tables with gaps; "x" keys are there only.
  auto level3 = [&](int from, int to, std::vector<int> victims) {
    PlacedTable t{3, {}};
    for (int i = from; i <= to; ++i) {
      const bool victim = std::find(victims.begin(), victims.end(), i) != victims.end();
      if (victim) {
        t.entries.push_back({NumKey("m", i), 10, SizedValue("old", 100)});
      } else if (i == from || i == to || i % 3 == 0) {
        const std::string k = NumKey("m", i) + "x";
        t.entries.push_back({k, 10, SizedValue(k, 100)});
        model[k] = SizedValue(k, 100);
      }
    }
    tables.push_back(std::move(t));
  };
  level3(1, 20, {});
  level3(30, 45, {45});
  level3(50, 70, {50, 70});
  level3(80, 99, {});
  // Level 2: the even keys, and the shallow victim's value.
  PlacedTable l2{2, {}};
  for (int i = 0; i < 100; ++i) {
    const std::string k = NumKey("m", i);
    if (k == shallow_victim) {
      l2.entries.push_back({k, 20, SizedValue("old", 100)});
    } else if (i % 2 == 0 && i != 50 && i != 70) {
      l2.entries.push_back({k, 20, SizedValue(k, 100)});
      model[k] = SizedValue(k, 100);
    }
  }
  tables.push_back(std::move(l2));
  // Level 1: the markers, among odd keys from 41 to 79.
  PlacedTable l1{1, {}};
  for (int i = 41; i <= 79; ++i) {
    const std::string k = NumKey("m", i);
    const bool victim =
        k == shallow_victim ||
        std::find(deep_victims.begin(), deep_victims.end(), k) != deep_victims.end();
    if (victim) {
      l1.entries.push_back({k, 30, std::nullopt});
    } else if (i % 2 == 1) {
      l1.entries.push_back({k, 30, SizedValue(k, 100)});
      model[k] = SizedValue(k, 100);
    }
  }
  tables.push_back(std::move(l1));
  PlaceTables(backend, path, tables, 100);

  auto db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 3) == 4,
      LevelSummary(*db));
  std::vector<std::string> all_victims = deep_victims;
  all_victims.push_back(shallow_victim);
  auto check = [&](const std::string& where) {
    CheckAll(*db, model, where);
    for (const std::string& v : all_victims) {
      BOOST_TEST(GetOrStatus(*db, v) == "NOT_FOUND", where << ": " << v << " came back");
    }
  };
  auto markers = [&](const std::string& key) {
    return CountType(EntriesInTables(path, LiveTables(*db), options, key), kTypeDeletion);
  };
  check("as placed");

  // Level 1 into level 2: Gets of even keys inside level 1's range.
  std::vector<std::string> even;
  for (int i = 42; i <= 78; i += 2) {
    if (model.count(NumKey("m", i))) even.push_back(NumKey("m", i));
  }
  SeekCompact(*db, even, model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 0, LevelSummary(*db));
  for (const std::string& v : deep_victims) {
    BOOST_TEST(markers(v) == 1,
               v << ": the marker over level 3 was dropped (or doubled)");
  }
  BOOST_TEST(EntriesInTables(path, LiveTables(*db), options, shallow_victim).empty(),
             "the marker over a level-2 value only (or the value) is still there");
  check("after level 1 into level 2");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  check("after level 1 into level 2, reopened");

  // Level 2 into level 3: Gets of "x" keys, which only level 3 holds.
  std::vector<std::string> deep_only;
  for (const auto& [k, v] : model) {
    if (k.back() == 'x' && k > NumKey("m", 0) && k < NumKey("m", 99))
      deep_only.push_back(k);
  }
  const uint64_t seeks_before = Stat(*db, "seek_compactions");
  SeekCompact(*db, deep_only, model);
  BOOST_TEST(Stat(*db, "seek_compactions") > seeks_before);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 2) == 0, LevelSummary(*db));
  for (const std::string& v : all_victims) {
    const auto entries = EntriesInTables(path, LiveTables(*db), options, v);
    BOOST_TEST(entries.empty(), v << ": " << test::Describe(entries));
  }
  check("after level 2 into level 3");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  check("after level 2 into level 3, reopened");
}

// 4000 puts of 1000-byte random values to `keys` keys named `prefix` + a
// number, recorded in `model`: enough for flushes and compactions with
// EngineOptions.
void PutRandom(DB& db, Random& rnd, Model& model, const std::string& prefix, int keys) {
  for (int i = 0; i < 4000; ++i) {
    const std::string k = NumKey(prefix, static_cast<int>(rnd.Uniform(keys)));
    model[k] = RandomValue(rnd, 1000);
    BOOST_REQUIRE(Run(db.Put({}, k, model[k])).ok());
  }
}

// After flushes and compactions have replaced many tables and logs, the
// directory holds exactly the live tables, one log and one MANIFEST — also
// after a reopen.
BOOST_DATA_TEST_CASE(ObsoleteFilesAreDeleted, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Random rnd(17);
  Model model;
  auto db = OpenOrDie(options, path, backend);
  PutRandom(*db, rnd, model, "o", 800);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  const uint64_t flushes = Stat(*db, "flushes");
  BOOST_REQUIRE_GT(Stat(*db, "compactions"), 0u);
  auto check_files = [&](const std::string& where) {
    const DirFiles files = ListDbFiles(path);
    const std::set<uint64_t> live = LiveTables(*db);
    BOOST_TEST(files.tables == live, where << ": tables in the directory "
                                           << test::Numbers(files.tables) << ", live "
                                           << test::Numbers(live));
    BOOST_TEST(files.logs == 1, where);
    BOOST_TEST(files.manifests == 1, where);
    BOOST_TEST(files.temps == 0, where);
    return files;
  };
  const DirFiles files = check_files("after compactions");
  // Most tables ever written are gone (each flush wrote one).
  BOOST_TEST(files.tables.size() < flushes);
  CheckAll(*db, model, "before reopen");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  check_files("after reopen");
  CheckAll(*db, model, "after reopen");
}

// Options::compaction_readahead_size sizes the reads of compaction input
// and nothing else: at 0 (a block per read), at 4 KiB (about four of these
// 1 KiB blocks) and at the default (a whole 64 KiB table), the same writes
// compact into the same contents, and the average read is a block, at most
// 4 KiB, and more than 4 KiB.
BOOST_DATA_TEST_CASE(CompactionReadaheadSizeChangesOnlyHowInputIsRead,
                     bdata::make(BackendNames()), backend) {
  std::vector<double> bytes_per_read;
  for (const size_t readahead : {size_t{0}, size_t{4096}, Options().compaction_readahead_size}) {
    BOOST_TEST_CONTEXT("compaction_readahead_size " << readahead) {
      TempDir dir;
      const std::string path = dir.Child("db");
      Options options = EngineOptions(backend);
      options.compaction_readahead_size = readahead;
      Random rnd(23);
      Model model;
      auto db = OpenOrDie(options, path, backend);
      PutRandom(*db, rnd, model, "r", 800);
      BOOST_REQUIRE(WaitIdle(*db).ok());
      const uint64_t reads = Stat(*db, "compaction_input_reads");
      BOOST_REQUIRE_GT(reads, 0u);
      bytes_per_read.push_back(static_cast<double>(Stat(*db, "compaction_input_read_bytes")) /
                               static_cast<double>(reads));
      CheckAll(*db, model, "after compactions");
      BOOST_REQUIRE(Run(db->Close()).ok());
      db.reset();
      db = OpenOrDie(options, path, backend);
      CheckAll(*db, model, "after reopen");
    }
  }
  BOOST_REQUIRE_EQUAL(bytes_per_read.size(), 3u);
  BOOST_TEST_MESSAGE("bytes per compaction read: " << bytes_per_read[0] << ", "
                     << bytes_per_read[1] << ", " << bytes_per_read[2]);
  BOOST_TEST(bytes_per_read[0] <= 2048.0);  // one block (1 KiB, snappy) per read
  BOOST_TEST(bytes_per_read[1] <= 4096.0);
  BOOST_TEST(bytes_per_read[1] > bytes_per_read[0]);
  BOOST_TEST(bytes_per_read[2] > 4096.0);
}

// leveldb.stats is LevelDB's table (a row per level with files or
// compaction time, its file count the level's); corodb.stats' per-level
// bytes written add up to the flush and compaction bytes, and its cache and
// amplification figures follow from its counters.
BOOST_DATA_TEST_CASE(StatsPropertiesAccountForEveryFlushAndCompaction,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Random rnd(23);
  Model model;
  auto db = OpenOrDie(EngineOptions(backend), path, backend);
  for (int i = 0; i < 4000; ++i) {
    const std::string k = NumKey("s", static_cast<int>(rnd.Uniform(800)));
    model[k] = RandomValue(rnd, 1000);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  CheckAll(*db, model, "reads for the cache counters");
  BOOST_REQUIRE_GT(Stat(*db, "compactions"), 0u);

  std::string leveldb_stats;
  BOOST_REQUIRE(db->GetProperty("leveldb.stats", &leveldb_stats));
  std::istringstream in(leveldb_stats);
  std::string line;
  std::getline(in, line);
  BOOST_TEST(line == "                               Compactions");
  std::getline(in, line);
  BOOST_TEST(line == "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)");
  std::getline(in, line);
  BOOST_TEST(line == std::string(50, '-'));
  std::set<int> rows;
  while (std::getline(in, line)) {
    int level = -1, files = -1;
    double size_mb = -1, seconds = -1, read_mb = -1, write_mb = -1;
    BOOST_REQUIRE_MESSAGE(std::sscanf(line.c_str(), "%d %d %lf %lf %lf %lf", &level, &files,
                                      &size_mb, &seconds, &read_mb, &write_mb) == 6,
                          "row: " << line);
    BOOST_REQUIRE(level >= 0 && level < kNumLevels);
    std::string expected_files;
    BOOST_REQUIRE(db->GetProperty("leveldb.num-files-at-level" + std::to_string(level),
                                  &expected_files));
    BOOST_TEST(files == std::stoi(expected_files), "level " << level);
    rows.insert(level);
  }
  std::string corodb_stats;
  BOOST_REQUIRE(db->GetProperty("corodb.stats", &corodb_stats));
  std::istringstream cin(corodb_stats);
  while (std::getline(cin, line) && line.rfind("level files", 0) != 0) {
  }
  uint64_t written = 0, read = 0, compactions = 0;
  for (int level = 0; level < kNumLevels; ++level) {
    BOOST_REQUIRE(std::getline(cin, line));
    int l = -1, files = -1;
    unsigned long long bytes = 0, count = 0, micros = 0, rbytes = 0, wbytes = 0;
    BOOST_REQUIRE_MESSAGE(std::sscanf(line.c_str(), "%d %d %llu %llu %llu %llu %llu", &l, &files,
                                      &bytes, &count, &micros, &rbytes, &wbytes) == 7,
                          "row: " << line);
    BOOST_TEST(l == level);
    // A level with files or compaction time has a leveldb.stats row.
    BOOST_TEST((files > 0 || micros > 0) == (rows.count(level) == 1), "level " << level);
    written += wbytes;
    read += rbytes;
    if (level > 0) compactions += count;
  }
  BOOST_TEST(written == Stat(*db, "flush_bytes") + Stat(*db, "compaction_bytes_written"));
  BOOST_TEST(read > 0u);
  BOOST_TEST(compactions >= Stat(*db, "compactions"));
  BOOST_TEST(Stat(*db, "block_cache_hits") + Stat(*db, "block_cache_misses") > 0u);
  BOOST_TEST(Stat(*db, "table_cache_hits") > 0u);
  const double amp = static_cast<double>(Stat(*db, "wal_bytes") + Stat(*db, "flush_bytes") +
                                         Stat(*db, "compaction_bytes_written")) /
                     static_cast<double>(Stat(*db, "wal_bytes"));
  const size_t at = corodb_stats.find("write_amplification: ");
  BOOST_REQUIRE(at != std::string::npos);
  BOOST_TEST(std::stod(corodb_stats.substr(at + 21)) == amp, boost::test_tools::tolerance(0.01));
  BOOST_TEST(amp > 2.0);  // the log, the flushes and the compactions
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBLevelPlacementTest)

// A flushed memtable's table goes to level 2 when it overlaps nothing, stops
// at level 1 over level 2, stays at level 0 over level 1 — and over level 0
// even when nothing below overlaps it: newer data never lands below older.
BOOST_DATA_TEST_CASE(FlushedTablesLandByLevelDBsRules, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.filter_policy = nullptr;
  Model model;
  auto db = OpenOrDie(options, path, backend);
  auto put = [&](const std::string& k, const std::string& v) {
    model[k] = v;
    BOOST_REQUIRE(Run(db->Put({}, k, v)).ok());
  };
  for (int i = 0; i < 20; ++i) put(NumKey("p", i), "v1");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 0 0 1 0 0 0 0 ]", "overlapping nothing");

  put(NumKey("p", 5), "v2");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 0 1 1 0 0 0 0 ]", "overlapping level 2");

  put(NumKey("p", 6), "v2");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 1 1 1 0 0 0 0 ]", "overlapping level 1");
  CheckAll(*db, model, "p keys");

  // A level-0 table of its own range (a recovered log's), then a newer
  // version of its key: only level 0 overlaps.
  put("q", "v1");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE_MESSAGE(LevelSummary(*db) == "files[ 2 1 1 0 0 0 0 ]", LevelSummary(*db));
  put("q", "v2");
  FlushWithFiller(*db, "q~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 3 1 1 0 0 0 0 ]", "overlapping level 0 only");
  BOOST_TEST(GetOrStatus(*db, "q") == "v2");
  CheckAll(*db, model, "after the last flush");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  CheckAll(*db, model, "reopened");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBSeekCompactionTest)

// A level-1 table over a level-2 table: each Get of a key only level 2 holds
// consults both and charges a seek to the level-1 table, which holds 100
// (LevelDB: max(100, size / 16 KiB)). The 100th such Get makes it a seek
// compaction candidate, and the compaction moves it into level 2.
BOOST_DATA_TEST_CASE(HundredSeeksCompactTheFirstTableConsulted,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.filter_policy = nullptr;
  options.write_buffer_size = 64 * kKiB;
  Model model;
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (int i = 0; i < 200; i += 2) {
    const std::string k = NumKey("a", i);
    model[k] = SizedValue(k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "a~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 2) == 1, LevelSummary(*db));
  for (int i = 1; i < 200; i += 2) {
    const std::string k = NumKey("a", i);
    model[k] = SizedValue(k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "a~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 0) == 0,
      LevelSummary(*db));
  BOOST_REQUIRE_EQUAL(Stat(*db, "seek_compactions"), 0u);

  // 99 seeks: not yet. (Even keys from 2 on: a000000 is below the level-1
  // table's range, so its Get consults level 2 alone.)
  for (int n = 0; n < 99; ++n) {
    const std::string k = NumKey("a", 2 + (2 * n) % 198);
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, k), model[k]);
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 0u);
  BOOST_TEST(FilesAtLevel(*db, 1) == 1, LevelSummary(*db));
  // Gets answered by the level-1 table alone charge nothing.
  for (int i = 1; i < 200; i += 2)
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("a", i)), model[NumKey("a", i)]);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 0u);

  // The 100th.
  BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("a", 198)), model[NumKey("a", 198)]);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 1u);
  BOOST_TEST(Stat(*db, "compactions") >= 1u);
  BOOST_TEST(FilesAtLevel(*db, 1) == 0, LevelSummary(*db));
  BOOST_TEST(FilesAtLevel(*db, 2) >= 1, LevelSummary(*db));
  CheckAll(*db, model, "after the seek compaction");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
