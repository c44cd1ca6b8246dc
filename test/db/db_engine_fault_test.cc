// Failures in the engine's background work: injected EIO/ENOSPC in the
// table writes and syncs of flushes and compactions and in MANIFEST writes,
// and power cuts at every sync point of a workload that flushes and
// compacts. Over every backend, the fault backend wrapping a real one.
#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "db_engine_fault_test_util.h"
#include "db_test_util.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "support/temp_dir.h"
#include "util/random.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::GetOrStatus;
using test::OpenOrDie;
using test::Run;
using test::Stat;
using test::TempDir;
using test::TestOptions;
using test::WaitIdle;
using namespace fault_test;

// Where the fault hits.
struct Site {
  std::string name;
  bool compaction;  // false: a flush
  enum Target {
    kTableWrite,
    kSecondTableWrite,
    kTableSync,
    kDirSync,
    kManifestWrite,
    kManifestSync
  } target;
  // The engine removes the unfinished table(s): no MANIFEST names them.
  bool removes_outputs;
};

const std::vector<Site>& Sites() {
  static const std::vector<Site> sites = {
      {"flush table write", false, Site::kTableWrite, true},
      {"flush table sync", false, Site::kTableSync, true},
      {"flush directory sync", false, Site::kDirSync, true},
      {"flush MANIFEST write", false, Site::kManifestWrite, false},
      {"flush MANIFEST sync", false, Site::kManifestSync, false},
      {"compaction output write", true, Site::kTableWrite, true},
      {"compaction second output write", true, Site::kSecondTableWrite, true},
      {"compaction output sync", true, Site::kTableSync, true},
      {"compaction directory sync", true, Site::kDirSync, true},
      {"compaction MANIFEST write", true, Site::kManifestWrite, false},
      {"compaction MANIFEST sync", true, Site::kManifestSync, false},
  };
  return sites;
}

std::vector<std::string> SiteNames() {
  std::vector<std::string> names;
  for (const Site& s : Sites()) names.push_back(s.name);
  return names;
}

void Arm(io::FaultInjectionBackend& fault, const Site& site, int err,
         const std::string& db_dir) {
  auto table = [](const std::string& path) { return path.ends_with(".ldb"); };
  auto manifest = [](const std::string& path) {
    return path.find("/MANIFEST-") != std::string::npos;
  };
  switch (site.target) {
    case Site::kTableWrite:
      fault.FailNthWrite(1, err, table);
      break;
    case Site::kSecondTableWrite:
      // The first write to the second table written from now.
      fault.FailNthWrite(
          1, err,
          [seen = std::make_shared<std::set<std::string>>()](const std::string& path) {
            if (!path.ends_with(".ldb")) return false;
            seen->insert(path);
            return seen->size() == 2;
          });
      break;
    case Site::kTableSync:
      fault.FailNthSync(1, err, table);
      break;
    case Site::kDirSync:
      fault.FailNthSync(1, err,
                        [db_dir](const std::string& path) { return path == db_dir; });
      break;
    case Site::kManifestWrite:
      fault.FailNthWrite(1, err, manifest);
      break;
    case Site::kManifestSync:
      fault.FailNthSync(1, err, manifest);
      break;
  }
}

BOOST_AUTO_TEST_SUITE(DBEngineFaultTest)

// A write or sync error in a flush or a compaction (its tables, the
// directory, the MANIFEST): the background error is set, writes fail with
// it, reads return every acknowledged value, unfinished tables are removed
// where the engine promises it. A reopen in the same boot serves every
// acknowledged write, and makes it durable: a power cut right after loses
// none. The database then flushes and compacts again.
BOOST_DATA_TEST_CASE(BackgroundWriteErrorStopsWritesAndLosesNothing,
                     bdata::make(BackendNames()) * bdata::make(SiteNames()) *
                         bdata::make({EIO, ENOSPC}),
                     backend, site_name, err) {
  const Site& site = *std::find_if(Sites().begin(), Sites().end(),
                                   [&](const Site& s) { return s.name == site_name; });
  const FaultDb t(backend);
  const std::string& db_dir = t.db_dir;
  const Options& options = t.options;
  const auto& fault = t.fault;
  Writer writer;
  {
    auto opened = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    DBImpl& impl = Impl(db);
    // A compaction of L0 starts at four tables: three now, the fourth below.
    if (site.compaction) writer.FlushUntilL0Files(db, 3);
    impl.HoldBackgroundForTesting(true);
    writer.FillUntilSwitch(db);  // a memtable waits for its flush
    if (site.compaction) {
      // Let that flush run, and hold the chain again before the compaction
      // it makes due: the hold is set while the flush's table sync is held.
      const uint64_t before = Stat(db, "flushes");
      fault->HoldSyncs();
      impl.HoldBackgroundForTesting(false);
      BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 1; }, 20000));
      impl.HoldBackgroundForTesting(true);
      fault->ReleaseSyncs();
      // Counted after its table is installed: wait for both.
      BOOST_REQUIRE(test::WaitFor(
          [&] {
            return Stat(db, "flushes") == before + 1 &&
                   impl.NumLevelFilesForTesting(0) == 4;
          },
          20000));
    }
    const uint64_t flushes = Stat(db, "flushes"), compactions = Stat(db, "compactions");
    Arm(*fault, site, err, db_dir);
    impl.HoldBackgroundForTesting(false);
    const Status bg = WaitIdle(db);

    BOOST_REQUIRE_MESSAGE(fault->faults_injected() == 1u,
                          "the fault never hit: " << bg.ToString());
    BOOST_TEST(Stat(db, "flushes") == flushes);
    BOOST_TEST(Stat(db, "compactions") == compactions);
    BOOST_TEST(!bg.ok());
    BOOST_TEST(bg.ToString().find(std::strerror(err)) != std::string::npos,
               bg.ToString());
    // Writes fail with the background error; reads keep working.
    for (bool sync : {false, true}) {
      const Status later = Run(db.Put({.sync = sync}, "after", "x"));
      BOOST_TEST(later.ToString() == bg.ToString());
    }
    BOOST_TEST(GetOrStatus(db, "after") == "NOT_FOUND");
    writer.Check(db, "after the failure");
    const int tables = FilesOfType(db_dir, io::FileType::kTableFile);
    BOOST_TEST_MESSAGE(site.name << ": " << tables << " tables on disk, "
                                 << TablesInVersion(db) << " in the current version");
    if (site.removes_outputs) {
      BOOST_TEST(
          tables == TablesInVersion(db),
          "a table no MANIFEST names was left behind; " << TableListing(db, db_dir));
    }
    BOOST_TEST(FilesOfType(db_dir, io::FileType::kTempFile) == 0);
  }
  fault->FailNthWrite(0, 0);
  fault->FailNthSync(0, 0);
  {
    // Same boot: the page cache still holds what the failed syncs covered.
    auto reopened = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
    writer.Check(**reopened, "reopened");
    // The compaction the failure stopped runs now (the next Open then has
    // no work to start: its check below sees only what Open removed).
    const Status idle = WaitIdle(**reopened);
    BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
  }
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, db_dir, backend);
  writer.Check(*db, "after a power cut after the reopen");
  BOOST_TEST(Impl(*db).NumLevelFilesForTesting(0) <
             4);  // no compaction due: nothing races the check
  BOOST_TEST(FilesOfType(db_dir, io::FileType::kTableFile) == TablesInVersion(*db),
             "Open left a table no MANIFEST names; " << TableListing(*db, db_dir));
  // It works: more flushes and a compaction.
  for (int i = 0; i < 12 && (Stat(*db, "flushes") < 2 || Stat(*db, "compactions") < 1);
       ++i) {
    writer.FillUntilSwitch(*db);
    const Status s = WaitIdle(*db);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  BOOST_TEST(Stat(*db, "flushes") >= 2u);
  BOOST_TEST(Stat(*db, "compactions") >= 1u);
  writer.Check(*db, "after more flushes and compactions");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBEngineCleanupTest)

// A compaction's inputs are obsolete once its result is installed: when the
// background is idle after it, no table the MANIFEST does not name is left.
BOOST_DATA_TEST_CASE(CompactionInputsAreRemovedOnceTheResultIsInstalled,
                     bdata::make(BackendNames()), backend) {
  TempDir tmp;
  const std::string db_dir = tmp.Child("db");
  auto db = OpenOrDie(EngineOptions(backend), db_dir, backend);
  Writer writer;
  writer.FlushUntilL0Files(*db, 3);
  BOOST_REQUIRE(Stat(*db, "compactions") == 0u);
  writer.FillUntilSwitch(*db);  // the fourth L0 table: its flush, then a compaction
  const Status idle = WaitIdle(*db);
  BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
  BOOST_REQUIRE(Stat(*db, "compactions") == 1u);
  BOOST_REQUIRE(Impl(*db).NumLevelFilesForTesting(0) == 0);
  BOOST_TEST(FilesOfType(db_dir, io::FileType::kTableFile) == TablesInVersion(*db),
             "compaction inputs left on disk; " << TableListing(*db, db_dir));
  writer.Check(*db, "after the compaction");
}

BOOST_AUTO_TEST_SUITE_END()

// --- Power cuts ---

// One write of the power-cut workload; the value of write i is ValueOf(i).
struct CutOp {
  std::string key;
  bool del = false;
  bool sync = false;
};

// Phase 1 fills key range "a" (flushes to L2, L1, then L0 and L0->L1
// compactions); phase 2 writes range "b" while reading keys of range "a"
// that do not exist: those reads consult the L0, then the L1 tables of
// range "a" first, whose seek compactions move them into L2.
constexpr size_t kPhase1 = 1200;
constexpr size_t kCutOps = 2500;

const std::vector<CutOp>& CutOps() {
  static const std::vector<CutOp> ops = [] {
    std::vector<CutOp> v;
    for (size_t i = 0; i < kCutOps; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "%c%04d", i < kPhase1 ? 'a' : 'b',
                    static_cast<int>((i * 389) % kKeys));
      v.push_back(CutOp{key, i % 17 == 16, i % 25 == 24});
    }
    return v;
  }();
  return ops;
}

struct CutRun {
  size_t issued = 0;  // ops started: [0, issued)
  size_t acked = 0;   // ops acknowledged: [0, acked); op `acked` failed when < issued
};

// Runs the ops in order, one at a time, until one fails.
CutRun RunCutWorkload(DB& db) {
  const std::vector<CutOp>& ops = CutOps();
  for (size_t i = 0; i < ops.size(); ++i) {
    const WriteOptions wo{.sync = ops[i].sync};
    const Status s = ops[i].del ? Run(db.Delete(wo, ops[i].key))
                                : Run(db.Put(wo, ops[i].key, ValueOf(i)));
    if (i >= kPhase1) {
      char absent[16];
      std::snprintf(absent, sizeof(absent), "a%04dx", static_cast<int>((i * 7) % kKeys));
      (void)GetOrStatus(db, absent);
    }
    if (!s.ok()) return CutRun{i + 1, i};
  }
  return CutRun{ops.size(), ops.size()};
}

// Which write each key's value came from (-1: absent).
using Recovered = std::map<std::string, int64_t>;

// Checks that the database holds the state after a prefix of the ops that
// includes every sync-acknowledged one, and returns it.
Recovered CheckPrefix(DB& db, const CutRun& run, const std::string& when) {
  const std::vector<CutOp>& ops = CutOps();
  std::map<std::string, std::vector<size_t>> writes_of;  // key -> op indices, ascending
  for (size_t i = 0; i < ops.size(); ++i) writes_of[ops[i].key].push_back(i);
  Recovered got;
  int64_t newest = -1;
  for (const auto& [key, indices] : writes_of) {
    const std::string value = GetOrStatus(db, key);
    int64_t index = -1;
    if (value != "NOT_FOUND") {
      index = IndexOf(value);
      const bool known = index >= 0 &&
                         std::binary_search(indices.begin(), indices.end(),
                                            static_cast<size_t>(index)) &&
                         !ops[static_cast<size_t>(index)].del;
      BOOST_REQUIRE_MESSAGE(
          known, when << ": " << key
                      << " holds what no write put there: " << value.substr(0, 40));
    }
    got[key] = index;
    newest = std::max(newest, index);
  }
  int64_t last_sync = -1;
  for (size_t i = 0; i < run.acked; ++i) {
    if (ops[i].sync) last_sync = static_cast<int64_t>(i);
  }
  auto expected = [&](const std::string& key, size_t prefix) -> int64_t {
    const std::vector<size_t>& indices = writes_of.at(key);
    auto it = std::lower_bound(indices.begin(), indices.end(), prefix);
    if (it == indices.begin()) return -1;
    const size_t i = *--it;
    return ops[i].del ? -1 : static_cast<int64_t>(i);
  };
  // The prefix holds every acknowledged sync write and the newest write
  // found, and no write that was never started.
  const size_t lo = static_cast<size_t>(std::max(last_sync, newest) + 1);
  for (size_t prefix = lo; prefix <= run.issued; ++prefix) {
    bool match = true;
    for (const auto& [key, index] : got) {
      if (expected(key, prefix) != index) {
        match = false;
        break;
      }
    }
    if (match) return got;
  }
  std::ostringstream why;
  why << when << ": not the state after any prefix of [" << lo << ", " << run.issued
      << "] writes (" << run.acked << " acknowledged, the last sync one #" << last_sync
      << ", the newest found #" << newest << ")";
  if (lo <= run.issued) {
    for (const auto& [key, index] : got) {
      if (expected(key, lo) != index) {
        why << "; e.g. " << key << " holds #" << index << ", the prefix of " << lo
            << " has #" << expected(key, lo);
        break;
      }
    }
  }
  BOOST_TEST(false, why.str());
  return got;
}

std::string CutKind(const std::string& path, const std::string& db_dir) {
  if (path.empty()) return "none (the workload ended first)";
  if (path == db_dir) return "directory";
  if (path.ends_with(".log")) return "log";
  if (path.ends_with(".ldb")) return "table";
  if (path.find("/MANIFEST-") != std::string::npos) return "MANIFEST";
  if (path.ends_with(".dbtmp")) return "CURRENT";
  return path;
}

BOOST_AUTO_TEST_SUITE(DBEnginePowerCutTest)

// A power cut right after the k-th sync of a workload of sync and non-sync
// puts and deletes that flushes and compacts (L0->L1, and L1->L2 through
// seek compactions), for every k from the first of its sync points to the
// last: every sync-acknowledged write survives, and the database holds the
// state after a prefix of the writes. A second power cut right after the
// reopen changes nothing.
BOOST_DATA_TEST_CASE(PowerCutAtEverySyncPointKeepsAPrefix, bdata::make(BackendNames()),
                     backend) {
  const Options options = EngineOptions(backend);
  uint64_t sync_points = 0;
  {
    TempDir tmp;
    const std::string db_dir = tmp.Child("db");
    auto fault =
        std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
    BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());
    auto opened = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    const uint64_t before = fault->successful_syncs();
    const CutRun run = RunCutWorkload(db);
    BOOST_REQUIRE(run.acked == kCutOps);
    BOOST_REQUIRE(WaitIdle(db).ok());
    sync_points = fault->successful_syncs() - before;
    std::string summary;
    BOOST_REQUIRE(db.GetProperty("corodb.level-summary", &summary));
    const uint64_t flushes = Stat(db, "flushes"), compactions = Stat(db, "compactions"),
                   by_seeks = Stat(db, "seek_compactions"),
                   moves = Stat(db, "trivial_moves");
    opened->reset();
    // Which levels the compactions read (from the info log: a report, not a check).
    std::ifstream log(db_dir + "/LOG");
    std::map<std::string, int> from_level;
    for (std::string line; std::getline(log, line);) {
      const size_t at = line.find("compacted ");
      if (at == std::string::npos) continue;
      const size_t l0 = line.find('@', at), plus = line.find(" + ", at);
      if (l0 != std::string::npos && plus != std::string::npos) {
        ++from_level["L" + line.substr(l0 + 1, plus - l0 - 1)];
      }
    }
    std::ostringstream levels;
    for (const auto& [level, n] : from_level)
      levels << " " << n << " from " << level << ";";
    BOOST_TEST_MESSAGE(backend << ": " << sync_points << " sync points, " << flushes
                               << " flushes, " << compactions << " compactions ("
                               << by_seeks << " by seeks, " << moves << " trivial moves;"
                               << levels.str() << ") " << summary);
    BOOST_TEST(flushes >= 10u);
    BOOST_TEST(compactions >= 2u);
    BOOST_TEST(by_seeks >= 1u);
  }
  BOOST_REQUIRE(sync_points >= 100u);
  BOOST_TEST_MESSAGE(backend << ": a power cut after each of them");
  std::map<std::string, int> kinds;
  for (uint64_t k = 1; k <= sync_points; ++k) {
    BOOST_TEST_CONTEXT("power cut after sync " << k) {
      TempDir tmp;
      const std::string db_dir = tmp.Child("db");
      auto fault =
          std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
      BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());
      CutRun run;
      {
        auto opened = test::TryOpen(options, db_dir, fault);
        BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
        fault->CutPowerAfterSyncs(static_cast<int>(k));
        run = RunCutWorkload(**opened);
      }
      const std::string kind = CutKind(fault->power_cut_after_path(), db_dir);
      ++kinds[kind];
      BOOST_REQUIRE(fault->DropUnsyncedData().ok());
      Recovered first;
      {
        // The reopen, and a second power cut right after it.
        auto again =
            std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
        BOOST_REQUIRE(again->TrackDirectory(db_dir).ok());
        auto reopened = test::TryOpen(options, db_dir, again);
        BOOST_REQUIRE_MESSAGE(
            reopened.ok(),
            "after a cut after a " << kind << " sync: " << reopened.status().ToString());
        first = CheckPrefix(**reopened, run, "after a cut after a " + kind + " sync");
        reopened->reset();
        BOOST_REQUIRE(again->DropUnsyncedData().ok());
      }
      auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
      BOOST_REQUIRE_MESSAGE(db.ok(), "after a second cut: " << db.status().ToString());
      const Recovered second =
          CheckPrefix(**db, run, "after a second cut right after the reopen");
      BOOST_TEST((second == first),
                 "the second cut changed what the first reopen served");
    }
  }
  std::ostringstream counts;
  for (const auto& [kind, n] : kinds) counts << " " << kind << ": " << n << ";";
  BOOST_TEST_MESSAGE(backend << ": cuts after a sync of" << counts.str());
  for (const char* kind : {"log", "table", "MANIFEST", "directory"}) {
    BOOST_TEST(kinds[kind] > 0, "no power cut right after a " << kind << " sync");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
