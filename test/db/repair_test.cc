// RepairDB on every I/O backend: a database whose MANIFEST is gone or
// damaged comes back with every key from its log and its tables at every
// level; damaged tables keep their readable blocks and go to lost/; torn and
// damaged logs keep their complete records; a leftover log does not shadow
// newer tables; an open database refuses repair; a LevelDB directory
// repaired by corodb opens in both. Through the fault backend: an I/O error
// on a table fails the repair and changes nothing; tables are never read
// through a mapping; after a power cut at any sync, a damaged table and an
// unreadable log are in the directory or in lost/, and kept tables are on
// disk. TableOrderTest: the level-0 order of
// repaired tables (db/repair_order.h) on tables written directly.
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "corodb/sync_db.h"
#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "log/log_writer.h"
#include "db/repair_order.h"
#include "db/table_output.h"
#include "db_engine_fault_test_util.h"
#include "db_engine_test_util.h"
#include "io/fault_injection_backend.h"
#include "io/uring_backend.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::CheckAll;
using test::EngineOptions;
using test::FilesAtLevel;
using test::FlipBit;
using test::FlushWithFiller;
using test::GetOrStatus;
using test::Model;
using test::NumKey;
using test::OpenOrDie;
using test::Run;
using test::SizedValue;
using test::TempDir;
using test::TestOptions;
using test::WaitIdle;

// The live keys and the keys deleted since they were written.
struct Expected {
  Model live;
  std::set<std::string> deleted;

  void Put(const std::string& k, const std::string& v) {
    live[k] = v;
    deleted.erase(k);
  }
  void Delete(const std::string& k) {
    live.erase(k);
    deleted.insert(k);
  }
};

void CheckExpected(DB& db, const Expected& e, const std::string& where) {
  CheckAll(db, e.live, where);
  int bad = 0;
  for (const std::string& k : e.deleted) {
    const std::string got = GetOrStatus(db, k);
    if (got == "NOT_FOUND") continue;
    BOOST_ERROR(where << ": deleted key " << k << " reads " << got.size() << " bytes: \""
                      << test::Printable(got.substr(0, 40)) << "\"");
    BOOST_REQUIRE_MESSAGE(++bad < 5, where << ": too many deleted keys back");
  }
}

std::vector<std::string> FilesOfType(const std::string& dir, io::FileType wanted) {
  std::vector<std::string> out;
  auto names = io::ListDir(dir);
  BOOST_REQUIRE_MESSAGE(names.ok(), names.status().ToString());
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(name, &number, &type) && type == wanted) out.push_back(name);
  }
  return out;
}

// The MANIFEST and CURRENT gone: only repair can open the directory.
void RemoveManifestAndCurrent(const std::string& dir) {
  const std::vector<std::string> manifests =
      FilesOfType(dir, io::FileType::kDescriptorFile);
  BOOST_REQUIRE(!manifests.empty());
  for (const std::string& m : manifests)
    BOOST_REQUIRE(io::RemoveFile(dir + "/" + m).ok());
  BOOST_REQUIRE(io::RemoveFile(io::CurrentFileName(dir)).ok());
}

std::set<std::string> LostFiles(const std::string& dir) {
  auto names = io::ListDir(dir + "/lost");
  if (!names.ok()) return {};
  return std::set<std::string>(names->begin(), names->end());
}

std::string OnlyLog(const std::string& dir) {
  const std::vector<std::string> logs = FilesOfType(dir, io::FileType::kLogFile);
  BOOST_REQUIRE_EQUAL(logs.size(), 1u);
  return dir + "/" + logs[0];
}

Status Repair(const std::string& dir, const Options& options) {
  return Run(RepairDB(dir, options));
}

Status RepairWith(const std::string& dir, const Options& options,
                  std::shared_ptr<io::Backend> backend) {
  return Run(RepairDBWithBackend(dir, options, std::move(backend)));
}

std::shared_ptr<io::FaultInjectionBackend> FaultBackend(const std::string& backend) {
  return std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
}

BOOST_AUTO_TEST_SUITE(RepairTest)

// Random puts, overwrites and deletes over a small key space with 32 KiB
// memtables: flushes and compactions leave tables at level 0 and below
// (often a level-0 table numbered below compaction outputs that hold older
// versions: a flush that pre-empted the compaction), and the last writes
// stay in the log. Without MANIFEST and CURRENT, repair brings back every
// live key with its newest value, and no deleted key.
BOOST_DATA_TEST_CASE(RebuildsTheManifestFromTheLogAndTablesAtEveryLevel,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Expected expected;
  Random rnd(301);
  int i = 0;
  const auto write = [&](DB& db, int n) {
    for (int end = i + n; i < end; ++i) {
      const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(700)));
      if (rnd.OneIn(6)) {
        BOOST_REQUIRE(Run(db.Delete({}, key)).ok());
        expected.Delete(key);
      } else {
        const std::string value =
            SizedValue(key + "@" + std::to_string(i), 50 + rnd.Uniform(250));
        BOOST_REQUIRE(Run(db.Put({}, key, value)).ok());
        expected.Put(key, value);
      }
    }
  };
  {
    auto db = OpenOrDie(options, path, backend);
    write(*db, 6000);
    BOOST_REQUIRE(WaitIdle(*db).ok());
    // A level-0 table on top of the deeper ones (a flush that starts a
    // compaction may empty level 0 again: then more writes).
    for (int round = 0; FilesAtLevel(*db, 0) == 0; ++round) {
      BOOST_REQUIRE(round < 20);
      write(*db, 200);
      BOOST_REQUIRE(WaitIdle(*db).ok());
    }
    int deeper = 0;
    for (int level = 1; level < kNumLevels; ++level) deeper += FilesAtLevel(*db, level);
    BOOST_TEST_MESSAGE("before repair: " << test::LevelSummary(*db));
    BOOST_REQUIRE_GT(FilesAtLevel(*db, 0), 0);
    BOOST_REQUIRE_GT(deeper, 0);
    write(*db, 40);  // in the log
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const std::vector<std::string> logs = FilesOfType(path, io::FileType::kLogFile);
  BOOST_REQUIRE(!logs.empty());
  RemoveManifestAndCurrent(path);
  Options must_exist = options;
  must_exist.create_if_missing = false;
  BOOST_REQUIRE(!test::TryOpen(must_exist, path, test::MakeBackendByName(backend)).ok());

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  for (const std::string& log : logs) BOOST_TEST(LostFiles(path).count(log) == 1);
  auto db = OpenOrDie(options, path, backend);
  CheckExpected(*db, expected, "after repair");
  // And after the compactions of everything repair put at level 0.
  BOOST_REQUIRE(WaitIdle(*db).ok());
  CheckExpected(*db, expected, "after repair and compactions");
}

// A MANIFEST with flipped bytes does not open; repair rebuilds it.
BOOST_DATA_TEST_CASE(RebuildsACorruptManifest, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Expected expected;
  {
    auto db = OpenOrDie(options, path, backend);
    Random rnd(17);
    for (int i = 0; i < 2000; ++i) {
      const std::string key = NumKey("m", static_cast<int>(rnd.Uniform(500)));
      const std::string value = SizedValue(key + "@" + std::to_string(i), 200);
      BOOST_REQUIRE(Run(db->Put({}, key, value)).ok());
      expected.Put(key, value);
    }
    BOOST_REQUIRE(WaitIdle(*db).ok());
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const std::vector<std::string> manifests =
      FilesOfType(path, io::FileType::kDescriptorFile);
  BOOST_REQUIRE_EQUAL(manifests.size(), 1u);
  const std::string manifest = path + "/" + manifests[0];
  const uint64_t size = *io::GetFileSize(manifest);
  for (uint64_t at = 10; at < size; at += size / 4 + 1) FlipBit(manifest, at);
  {
    auto broken = test::TryOpen(options, path, test::MakeBackendByName(backend));
    BOOST_REQUIRE_MESSAGE(!broken.ok(), "a MANIFEST with flipped bytes opened");
    BOOST_TEST_MESSAGE("before repair: " << broken.status().ToString());
  }
  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(LostFiles(path).count(manifests[0]) == 1);
  auto db = OpenOrDie(options, path, backend);
  CheckExpected(*db, expected, "after repair");
}

// Three tables that do not overlap, of 100 keys each with prefixes a, b and
// c (and a filler key inside each range), written to `path` and closed.
// Returns each prefix's keys and values, and in *table_of each prefix's
// table file.
std::map<std::string, Model> WriteThreeTables(
    const std::string& path, const Options& options, const std::string& backend,
    std::map<std::string, std::string>* table_of) {
  std::map<std::string, Model> groups;
  {
    auto db = OpenOrDie(options, path, backend);
    for (const std::string prefix : {"a", "b", "c"}) {
      for (int i = 0; i < 100; ++i) {
        const std::string key = NumKey(prefix, i);
        groups[prefix][key] = SizedValue(key, 120);
        BOOST_REQUIRE(Run(db->Put({}, key, groups[prefix][key])).ok());
      }
      FlushWithFiller(*db, prefix + "zzz", options.write_buffer_size, &groups[prefix]);
    }
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const test::DirFiles files = test::ListDbFiles(path);
  BOOST_REQUIRE_EQUAL(files.tables.size(), 3u);
  for (const auto& [prefix, model] : groups) {
    const std::vector<test::TableEntry> entries =
        test::EntriesInTables(path, files.tables, options, model.begin()->first);
    BOOST_REQUIRE_EQUAL(entries.size(), 1u);
    (*table_of)[prefix] = io::TableFileName(path, entries[0].file);
  }
  return groups;
}

// One bit flipped in the first data block of b's table: repair keeps a's
// and c's tables whole, copies the readable blocks of b's, moves the
// damaged file to lost/, and the database opens with every key of the
// intact tables and the keys of b's undamaged blocks.
BOOST_DATA_TEST_CASE(KeepsIntactTablesAndTheReadableBlocksOfADamagedOne,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  const std::string damaged = table_of["b"];
  uint64_t damaged_number = 0;
  io::FileType type;
  BOOST_REQUIRE(
      io::ParseFileName(damaged.substr(path.size() + 1), &damaged_number, &type));
  const uint64_t damaged_size = *io::GetFileSize(damaged);
  FlipBit(damaged, 20);  // inside the first data block (blocks start at offset 0)
  {
    const InternalKeyComparator icmp(BytewiseComparator());
    io::FileSystem fs(test::MakeBackendByName("threadpool"));
    table::TableOptions verified = table::TableOptionsForDb(options, &icmp, nullptr);
    verified.paranoid_checks = true;
    const Result<std::vector<test::TableEntry>> read =
        Run(test::ScanTableForKey(&fs, damaged, damaged_number, verified, "b000000"));
    BOOST_REQUIRE_MESSAGE(!read.ok(), "the flipped bit did not damage the first block");
  }

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  const std::string damaged_name = damaged.substr(path.size() + 1);
  BOOST_REQUIRE(LostFiles(path).count(damaged_name) == 1);
  BOOST_TEST(*io::GetFileSize(path + "/lost/" + damaged_name) == damaged_size);
  BOOST_TEST(!io::FileExists(damaged));
  BOOST_TEST(test::ListDbFiles(path).tables.size() == 3u);  // a, c and b's copy

  auto db = OpenOrDie(options, path, backend);
  CheckAll(*db, groups["a"], "table a");
  CheckAll(*db, groups["c"], "table c");
  int b_back = 0;
  for (const auto& [k, v] : groups["b"]) {
    const std::string got = GetOrStatus(*db, k);
    BOOST_REQUIRE_MESSAGE(got == v || got == "NOT_FOUND",
                          k << " reads " << got.size() << " bytes");
    b_back += got == v ? 1 : 0;
  }
  BOOST_TEST(GetOrStatus(*db, "b000000") == "NOT_FOUND");  // in the damaged block
  BOOST_TEST(GetOrStatus(*db, "b000099") == groups["b"]["b000099"]);  // in a later one
  BOOST_TEST(b_back > 50);
  BOOST_TEST_MESSAGE(b_back << " of " << groups["b"].size() << " b entries recovered");
}

// c's table cut in half (its footer gone) cannot be opened: it goes to
// lost/ as it is, and the database opens with a's and b's keys.
BOOST_DATA_TEST_CASE(MovesATableThatCannotBeOpenedToLost, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  const std::string cut = table_of["c"];
  const uint64_t half = *io::GetFileSize(cut) / 2;
  std::filesystem::resize_file(cut, half);

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  const std::string cut_name = cut.substr(path.size() + 1);
  BOOST_REQUIRE(LostFiles(path).count(cut_name) == 1);
  BOOST_TEST(*io::GetFileSize(path + "/lost/" + cut_name) == half);
  BOOST_TEST(test::ListDbFiles(path).tables.size() == 2u);
  auto db = OpenOrDie(options, path, backend);
  CheckAll(*db, groups["a"], "table a");
  CheckAll(*db, groups["b"], "table b");
  for (const auto& [k, v] : groups["c"])
    BOOST_REQUIRE(GetOrStatus(*db, k) == "NOT_FOUND");
}

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// An I/O error on a table is not damage: EMFILE opening it, EIO reading its
// footer or its first data block. Repair fails with that error, naming the
// file, and changes nothing: the table stays where it is, nothing goes to
// lost/, CURRENT still names the old MANIFEST. The database opens as
// before, and repair can run again.
BOOST_DATA_TEST_CASE(AnIOErrorOnATableFailsTheRepairAndChangesNothing,
                     bdata::make(BackendNames()) *
                         bdata::make(std::vector<std::string>{"open", "footer", "block"}),
                     backend, fault_at) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  const std::string b = table_of["b"];
  const std::string b_name = b.substr(path.size() + 1);
  const uint64_t b_size = *io::GetFileSize(b);
  const std::vector<std::string> manifests =
      FilesOfType(path, io::FileType::kDescriptorFile);
  const std::string current = Contents(io::CurrentFileName(path));

  auto fault = FaultBackend(backend);
  const auto is_b = [b_name](const std::string& p) { return p.ends_with("/" + b_name); };
  if (fault_at == "open") {
    fault->FailOpens(EMFILE, is_b);
  } else {
    const bool footer = fault_at == "footer";
    fault->FailReads(EIO, [=](const std::string& p, uint64_t offset, uint64_t len) {
      return is_b(p) && (footer ? offset + len >= b_size : offset == 0);
    });
  }
  const Status s = RepairWith(path, options, fault);
  BOOST_TEST_MESSAGE(fault_at << ": " << s.ToString());
  BOOST_TEST(fault->faults_injected() > 0u);
  BOOST_TEST(s.IsIOError(), s.ToString());
  BOOST_TEST(s.ToString().find(b_name) != std::string::npos, s.ToString());
  BOOST_TEST(io::FileExists(b));
  BOOST_TEST(LostFiles(path).empty());
  BOOST_TEST(FilesOfType(path, io::FileType::kDescriptorFile) == manifests);
  BOOST_TEST(Contents(io::CurrentFileName(path)) == current);
  {
    auto db = OpenOrDie(options, path, backend);
    for (const auto& [prefix, model] : groups)
      CheckAll(*db, model, "before repair " + prefix);
  }
  const Status again = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(again.ok(), again.ToString());
  auto db = OpenOrDie(options, path, backend);
  for (const auto& [prefix, model] : groups)
    CheckAll(*db, model, "after repair " + prefix);
}

// Repairs copies of `original` through a fault backend that cuts the power
// right after the k-th sync, for k = 1, 2, ... until a repair ends before
// its cut (that one must succeed). `arm` sets up more faults first. After
// each repair, the copy is rolled back to what was durable (the directory
// and lost/ tracked) and handed to `check`.
void RepairAcrossPowerCuts(const std::string& original, const Options& options,
                           const std::string& backend,
                           const std::function<void(io::FaultInjectionBackend&)>& arm,
                           const std::function<void(const std::string& dir)>& check) {
  for (int k = 1;; ++k) {
    BOOST_REQUIRE_MESSAGE(k < 100, "repair did not end in 100 syncs");
    TempDir tmp("corodb-cut");
    const std::string dir = tmp.Child("db");
    std::filesystem::copy(original, dir, std::filesystem::copy_options::recursive);
    std::string cut_after;
    {
      auto fault = FaultBackend(backend);
      BOOST_REQUIRE(fault->TrackDirectory(dir).ok());
      BOOST_REQUIRE(fault->TrackDirectory(dir + "/lost").ok());
      arm(*fault);
      fault->CutPowerAfterSyncs(k);
      const Status s = RepairWith(dir, options, fault);
      cut_after = fault->power_cut_after_path();
      if (cut_after.empty()) BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
      const Status dropped = fault->DropUnsyncedData();
      BOOST_REQUIRE_MESSAGE(dropped.ok(), dropped.ToString());
    }
    BOOST_TEST_CONTEXT("power cut after sync " << k << " of " << cut_after) {
      check(dir);
    }
    if (cut_after.empty()) break;
  }
}

// A DB closed with `n` records (keys w000000..., 300-byte values) only in its
// log, which spans two 32 KiB blocks. Returns the log's name.
std::string WriteOnlyALog(const std::string& path, const Options& options,
                          const std::string& backend, int n) {
  Options big = options;
  big.write_buffer_size = 4 << 20;  // everything stays in the log
  auto db = OpenOrDie(big, path, backend);
  for (int i = 0; i < n; ++i) {
    BOOST_REQUIRE(Run(db->Put({}, NumKey("w", i), SizedValue(NumKey("w", i), 300))).ok());
  }
  BOOST_REQUIRE(Run(db->Close()).ok());
  const std::string log = OnlyLog(path);
  BOOST_REQUIRE_GT(*io::GetFileSize(log), 32768u);
  return log.substr(path.size() + 1);
}

// Makes `log_name` unreadable for repair: its open fails with EMFILE, or
// its second 32 KiB block with EIO (the records of the first one convert).
void FailLog(io::FaultInjectionBackend& fault, const std::string& log_name,
             const std::string& how) {
  const auto is_log = [log_name](const std::string& p) {
    return p.ends_with("/" + log_name);
  };
  if (how == "open") {
    fault.FailOpens(EMFILE, is_log);
  } else {
    fault.FailReads(EIO, [is_log](const std::string& p, uint64_t offset, uint64_t) {
      return is_log(p) && offset >= 32768;
    });
  }
}

// A log that repair cannot open, or whose reading ends with an I/O error, is
// not fully converted: it is in lost/ before the MANIFEST that puts the log
// number above it (so the next Open would delete it from the directory) is
// written. After a power cut at every sync of the repair, the database
// opens, and each of the log's records reads back or the log is in lost/.
BOOST_DATA_TEST_CASE(ALogNotFullyReadIsInLostBeforeTheManifest,
                     bdata::make(BackendNames()) *
                         bdata::make(std::vector<std::string>{"open", "read"}),
                     backend, how) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  constexpr int kRecords = 200;
  const std::string log_name = WriteOnlyALog(path, options, backend, kRecords);
  const std::string log_bytes = Contents(path + "/" + log_name);
  RepairAcrossPowerCuts(
      path, options, backend,
      [&](io::FaultInjectionBackend& fault) { FailLog(fault, log_name, how); },
      [&](const std::string& db_dir) {
        const bool in_lost = Contents(db_dir + "/lost/" + log_name) == log_bytes;
        auto db = OpenOrDie(options, db_dir, backend);
        int missing = 0;
        for (int i = 0; i < kRecords; ++i) {
          missing +=
              GetOrStatus(*db, NumKey("w", i)) == SizedValue(NumKey("w", i), 300) ? 0 : 1;
        }
        BOOST_TEST_MESSAGE(missing << " records missing, log in lost/: " << in_lost);
        BOOST_TEST((missing == 0 || in_lost), missing << " records neither in the "
                                                         "database nor in lost/");
      });
}

// When the move of such a log to lost/ fails (here lost/ is a file), repair
// fails before the MANIFEST: the database opens as before, with the log.
BOOST_DATA_TEST_CASE(ALogThatCannotMoveToLostFailsTheRepair, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  constexpr int kRecords = 200;
  const std::string log_name = WriteOnlyALog(path, options, backend, kRecords);
  std::ofstream(path + "/lost") << "not a directory";
  auto fault = FaultBackend(backend);
  FailLog(*fault, log_name, "open");
  const Status s = RepairWith(path, options, fault);
  BOOST_TEST_MESSAGE(s.ToString());
  BOOST_TEST(!s.ok());
  BOOST_TEST(io::FileExists(path + "/" + log_name));
  {
    auto db = OpenOrDie(options, path, backend);
    for (int i = 0; i < kRecords; ++i) {
      BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("w", i)),
                          SizedValue(NumKey("w", i), 300));
    }
  }
  BOOST_REQUIRE(io::RemoveFile(path + "/lost").ok());
  const Status again = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(again.ok(), again.ToString());
}

// EIO or ENOSPC at a step of pointing CURRENT at the repaired MANIFEST: the
// repair fails with it and leaves no temp file; the database opens with
// every key (through the old MANIFEST, or the new one when only the
// directory sync after the rename failed), and a repair run again succeeds.
BOOST_DATA_TEST_CASE(ACurrentFileErrorFailsTheRepairAndLosesNothing,
                     bdata::make(BackendNames()) *
                         bdata::make(fault_test::SiteNames(fault_test::CurrentSites())) *
                         bdata::make({EIO, ENOSPC}),
                     backend, site_name, err) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  const std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  auto fault = FaultBackend(backend);
  fault_test::ArmCurrentSite(*fault, fault_test::SiteNamed(fault_test::CurrentSites(), site_name), err, path);
  const Status s = RepairWith(path, options, fault);
  BOOST_TEST(fault->faults_injected() == 1u);
  BOOST_TEST(s.IsIOError(), s.ToString());
  BOOST_TEST(s.ToString().find(std::strerror(err)) != std::string::npos, s.ToString());
  BOOST_TEST(FilesOfType(path, io::FileType::kTempFile).empty());
  {
    auto db = OpenOrDie(options, path, backend);
    for (const auto& [prefix, model] : groups)
      CheckAll(*db, model, "after the failed repair " + prefix);
  }
  const Status again = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(again.ok(), again.ToString());
  auto db = OpenOrDie(options, path, backend);
  for (const auto& [prefix, model] : groups)
    CheckAll(*db, model, "after repair " + prefix);
}

// An intact table whose contents never reached the disk (its writer died
// before its sync; here rewritten through the fault backend, unsynced) is
// synced by repair before the MANIFEST names it: a power cut right after
// repair loses none of it.
BOOST_DATA_TEST_CASE(KeptTablesAreDurableBeforeTheManifestNamesThem,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  auto fault = FaultBackend(backend);
  {
    const std::string bytes = Contents(table_of["a"]);
    io::FileSystem fs(fault);
    auto file = fs.Open(table_of["a"], io::OpenMode::kCreate);
    BOOST_REQUIRE(file.ok());
    BOOST_REQUIRE(Run((*file)->Append(std::span<const char>(bytes))).ok());
  }
  const Status s = RepairWith(path, options, fault);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, path, backend);
  for (const auto& [prefix, model] : groups) CheckAll(*db, model, "table " + prefix);
}

// A damaged table goes to lost/ only once its copy is durable, and the move
// is durable before the MANIFEST: after a power cut at every sync of the
// repair, the original is in the directory or in lost/, and a repair run
// again brings back every key of the intact tables and of the damaged one's
// readable blocks.
BOOST_DATA_TEST_CASE(ADamagedTableIsNeverLostAcrossAPowerCut, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  std::map<std::string, Model> groups =
      WriteThreeTables(path, options, backend, &table_of);
  const std::string damaged_name = table_of["b"].substr(path.size() + 1);
  FlipBit(table_of["b"], 20);  // inside the first data block
  const std::string damaged = Contents(table_of["b"]);
  RepairAcrossPowerCuts(
      path, options, backend, [](io::FaultInjectionBackend&) {},
      [&](const std::string& db_dir) {
        BOOST_TEST((Contents(db_dir + "/" + damaged_name) == damaged ||
                    Contents(db_dir + "/lost/" + damaged_name) == damaged),
                   damaged_name << " is gone");
        const Status s = Repair(db_dir, options);
        BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
        auto db = OpenOrDie(options, db_dir, backend);
        CheckAll(*db, groups["a"], "table a");
        CheckAll(*db, groups["c"], "table c");
        BOOST_TEST(GetOrStatus(*db, "b000099") == groups["b"]["b000099"]);
      });
}

// Repair reads tables through the backend whatever Options::mmap_reads
// says, never through a mapping (a bad sector in a mapped table raises
// SIGBUS, which would kill every repair run): on two copies of a directory,
// repair with mmap_reads and without does the same table reads. (A read
// filter that fails nothing counts them; no read bypasses it.)
BOOST_DATA_TEST_CASE(ReadsTablesThroughTheBackendNeverMapped, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  std::map<std::string, std::string> table_of;
  WriteThreeTables(path, options, backend, &table_of);
  std::map<bool, uint64_t> table_reads;  // by mmap_reads
  for (const bool mmap_reads : {false, true}) {
    const std::string copy = dir.Child(mmap_reads ? "mapped" : "unmapped");
    std::filesystem::copy(path, copy, std::filesystem::copy_options::recursive);
    auto fault = FaultBackend(backend);
    uint64_t& reads = table_reads[mmap_reads];  // counted under the backend's lock
    fault->FailReads(EIO, [&reads](const std::string& p, uint64_t, uint64_t) {
      reads += p.ends_with(".ldb") ? 1 : 0;
      return false;
    });
    options.mmap_reads = mmap_reads;
    const Status s = RepairWith(copy, options, fault);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  BOOST_TEST_MESSAGE("table reads: " << table_reads[false] << " without mmap_reads, "
                                     << table_reads[true] << " with");
  BOOST_TEST(table_reads[false] > 3u * 4u);  // footer, index, metaindex, filter, blocks
  BOOST_TEST(table_reads[true] == table_reads[false]);
}

// A log cut in the middle of a record: every record before it is back,
// none after it.
BOOST_DATA_TEST_CASE(KeepsEveryCompleteRecordOfATornLog, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 4 << 20;  // everything stays in the log
  std::vector<uint64_t> ends;           // log size after each record
  std::string log;
  {
    // Written without a mapping of the log (a backend that sees every
    // write): the file's size after each Put is where its record ends.
    auto opened = test::TryOpen(options, path,
                                std::make_shared<io::FaultInjectionBackend>(
                                    test::MakeBackendByName(backend)));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    std::unique_ptr<DB> db = std::move(opened).value();
    log = OnlyLog(path);
    for (int i = 0; i < 200; ++i) {
      BOOST_REQUIRE(
          Run(db->Put({}, NumKey("t", i), SizedValue(NumKey("t", i), 300))).ok());
      ends.push_back(*io::GetFileSize(log));
    }
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  BOOST_REQUIRE_EQUAL(*io::GetFileSize(log), ends.back());
  const int kept = 150;  // records 0..149 whole, 150 torn
  std::filesystem::resize_file(log, (ends[kept - 1] + ends[kept]) / 2);

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  auto db = OpenOrDie(options, path, backend);
  for (int i = 0; i < 200; ++i) {
    const std::string got = GetOrStatus(*db, NumKey("t", i));
    if (i < kept) {
      BOOST_REQUIRE_MESSAGE(got == SizedValue(NumKey("t", i), 300),
                            "record " << i << " lost");
    } else {
      BOOST_REQUIRE_MESSAGE(got == "NOT_FOUND",
                            "record " << i << " after the tear: " << got);
    }
  }
}

// One bit flipped in the fourth 32 KiB block of a log: the records that
// touch that block are skipped, every record before and after it is back.
BOOST_DATA_TEST_CASE(SkipsDamagedLogRecordsAndKeepsTheRest, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 4 << 20;
  std::vector<uint64_t> ends;
  std::string log;
  constexpr int kRecords = 300;
  {
    // Written without a mapping of the log (a backend that sees every
    // write): the file's size after each Put is where its record ends.
    auto opened = test::TryOpen(options, path,
                                std::make_shared<io::FaultInjectionBackend>(
                                    test::MakeBackendByName(backend)));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    std::unique_ptr<DB> db = std::move(opened).value();
    log = OnlyLog(path);
    for (int i = 0; i < kRecords; ++i) {
      BOOST_REQUIRE(
          Run(db->Put({}, NumKey("r", i), SizedValue(NumKey("r", i), 1000))).ok());
      ends.push_back(*io::GetFileSize(log));
    }
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  constexpr uint64_t kBlock = 32768;
  const uint64_t damage = 3 * kBlock + kBlock / 2;
  BOOST_REQUIRE_GT(ends.back(), 5 * kBlock);
  FlipBit(log, damage);

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  auto db = OpenOrDie(options, path, backend);
  int skipped = 0;
  for (int i = 0; i < kRecords; ++i) {
    const uint64_t start = i == 0 ? 0 : ends[i - 1];
    const uint64_t end = ends[i];
    const std::string got = GetOrStatus(*db, NumKey("r", i));
    if (end <= 3 * kBlock || start >= 4 * kBlock) {
      BOOST_REQUIRE_MESSAGE(got == SizedValue(NumKey("r", i), 1000),
                            "record " << i << " lost");
    } else if (start <= damage && damage < end) {
      BOOST_REQUIRE_MESSAGE(got == "NOT_FOUND", "the damaged record " << i << " is back");
    }
    skipped += got == "NOT_FOUND" ? 1 : 0;
  }
  BOOST_TEST_MESSAGE(skipped << " records skipped");
}

// A log left behind after its memtable was flushed (a crash before its
// deletion) holds older versions than the tables written after it; as a
// table it gets the highest number, and level 0 reads the highest number
// first. Repair renumbers the tables so newer versions outrank it.
BOOST_DATA_TEST_CASE(ALeftoverLogDoesNotShadowNewerTables, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  TempDir saved("corodb-saved-log");
  std::string log_name;
  Expected expected;
  {
    auto db = OpenOrDie(options, path, backend);
    for (int i = 0; i < 50; ++i) {
      BOOST_REQUIRE(Run(db->Put({}, NumKey("o", i), "old" + std::to_string(i))).ok());
    }
    BOOST_REQUIRE(Run(db->Put({}, "deleted-later", "old")).ok());
    const std::string log = OnlyLog(path);
    log_name = log.substr(path.size() + 1);
    std::filesystem::copy_file(log, saved.Child(log_name));
    FlushWithFiller(*db, "filler", options.write_buffer_size, nullptr);
    BOOST_REQUIRE(!io::FileExists(log));  // obsolete once flushed
    for (int i = 0; i < 50; ++i) {
      BOOST_REQUIRE(Run(db->Put({}, NumKey("o", i), "new" + std::to_string(i))).ok());
      expected.Put(NumKey("o", i), "new" + std::to_string(i));
    }
    BOOST_REQUIRE(Run(db->Delete({}, "deleted-later")).ok());
    expected.Delete("deleted-later");
    FlushWithFiller(*db, "filler2", options.write_buffer_size, nullptr);
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  std::filesystem::copy_file(saved.Child(log_name), path + "/" + log_name);
  RemoveManifestAndCurrent(path);

  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  auto db = OpenOrDie(options, path, backend);
  CheckExpected(*db, expected, "after repair");
}

// Repair takes the LOCK: it fails while the database is open, touching
// nothing (not even the LOG), and works once it is closed.
BOOST_DATA_TEST_CASE(RefusesAnOpenDatabase, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  auto db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE(Run(db->Put({}, "k", "v")).ok());
  const std::vector<std::string> manifests =
      FilesOfType(path, io::FileType::kDescriptorFile);

  const Status s = Repair(path, options);
  BOOST_TEST_MESSAGE(s.ToString());
  BOOST_REQUIRE(s.IsIOError());
  BOOST_TEST(s.ToString().find("lock") != std::string::npos);
  BOOST_TEST(!io::FileExists(io::OldInfoLogFileName(path)));  // the LOG was not reopened
  BOOST_TEST(!io::FileExists(path + "/lost"));
  BOOST_TEST(FilesOfType(path, io::FileType::kDescriptorFile) == manifests);
  BOOST_TEST(GetOrStatus(*db, "k") == "v");

  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  BOOST_REQUIRE(Repair(path, options).ok());
  db = OpenOrDie(options, path, backend);
  BOOST_TEST(GetOrStatus(*db, "k") == "v");
}

// The blocking facade: SyncDB::Repair, then SyncDB::Open.
BOOST_DATA_TEST_CASE(SyncDBRepairsToo, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = TestOptions(backend);
  {
    auto db = SyncDB::Open(options, path);
    BOOST_REQUIRE(db.ok());
    BOOST_REQUIRE((*db)->Put({}, "sync", "repaired").ok());
    BOOST_REQUIRE((*db)->Close().ok());
  }
  RemoveManifestAndCurrent(path);
  Options must_exist = options;
  must_exist.create_if_missing = false;
  BOOST_REQUIRE(!SyncDB::Open(must_exist, path).ok());
  const Status s = SyncDB::Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  auto db = SyncDB::Open(options, path);
  BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  BOOST_TEST((*db)->Get({}, "sync").value() == "repaired");
}

// With Options::engine_context, repair runs there (as a DB's recovery
// would): with io_uring, its I/O goes through that context's ring.
BOOST_DATA_TEST_CASE(RunsOnTheGivenEngineContext, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  boost::asio::io_context engine;
  auto work = boost::asio::make_work_guard(engine);
  std::thread engine_thread([&engine] { engine.run(); });
  Options options = TestOptions(backend);
  options.engine_context = &engine;
  {
    auto db = OpenOrDie(options, path, backend);
    BOOST_REQUIRE(Run(db->Put({}, "engine", "context")).ok());
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  RemoveManifestAndCurrent(path);
  const uint64_t started = io::RingStatsOf(engine).started;
  const Status s = Repair(path, options);
  const uint64_t repair_ops = io::RingStatsOf(engine).started - started;
  work.reset();
  engine_thread.join();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  if (backend == "uring") BOOST_TEST(repair_ops > 0u);
  options.engine_context = nullptr;
  auto db = OpenOrDie(options, path, backend);
  BOOST_TEST(GetOrStatus(*db, "engine") == "context");
}

// --- A directory written by the real LevelDB ---

leveldb::Slice L(const std::string& s) { return leveldb::Slice(s.data(), s.size()); }

leveldb::Options LevelDBOptions() {
  leveldb::Options lo;
  lo.write_buffer_size = 64 << 10;
  lo.max_file_size = 64 << 10;
  lo.block_size = 1024;
  lo.compression = leveldb::kSnappyCompression;
  return lo;
}

// LevelDB writes (flushes and compactions: tables at level 0 and below, the
// last writes in its log); its MANIFEST and CURRENT are deleted; corodb
// repairs. The repaired directory opens in LevelDB (paranoid_checks) and in
// corodb (each on its own copy), with every key and no deleted one.
BOOST_DATA_TEST_CASE(RepairsALevelDBDirectoryThatBothThenOpen,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const std::string copy = dir.Child("copy");
  Expected expected;
  {
    leveldb::Options lo = LevelDBOptions();
    lo.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    BOOST_REQUIRE(leveldb::DB::Open(lo, path, &raw).ok());
    std::unique_ptr<leveldb::DB> ldb(raw);
    Random rnd(99);
    for (int i = 0; i < 8000; ++i) {
      // Everything written so far to the deeper levels; then more tables.
      if (i == 5000) ldb->CompactRange(nullptr, nullptr);
      const std::string key = NumKey("l", static_cast<int>(rnd.Uniform(1500)));
      if (rnd.OneIn(7)) {
        BOOST_REQUIRE(ldb->Delete({}, L(key)).ok());
        expected.Delete(key);
      } else {
        const std::string value =
            SizedValue(key + "@" + std::to_string(i), 100 + rnd.Uniform(200));
        BOOST_REQUIRE(ldb->Put({}, L(key), L(value)).ok());
        expected.Put(key, value);
      }
    }
    std::string level0, level1;
    BOOST_REQUIRE(ldb->GetProperty("leveldb.num-files-at-level0", &level0));
    BOOST_REQUIRE(ldb->GetProperty("leveldb.num-files-at-level1", &level1));
    BOOST_TEST_MESSAGE("LevelDB: " << level0 << " files at level 0, " << level1
                                   << " at 1");
    BOOST_REQUIRE_GT(std::stoi(level1), 0);
  }
  BOOST_REQUIRE(!FilesOfType(path, io::FileType::kLogFile).empty());
  RemoveManifestAndCurrent(path);

  const Status s = Repair(path, TestOptions(backend));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::filesystem::copy(path, copy, std::filesystem::copy_options::recursive);

  {
    leveldb::Options lo = LevelDBOptions();
    lo.paranoid_checks = true;
    leveldb::DB* raw = nullptr;
    const leveldb::Status ls = leveldb::DB::Open(lo, path, &raw);
    BOOST_REQUIRE_MESSAGE(
        ls.ok(), "LevelDB cannot open the repaired directory: " << ls.ToString());
    std::unique_ptr<leveldb::DB> ldb(raw);
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    for (const auto& [k, v] : expected.live) {
      std::string got;
      const leveldb::Status gs = ldb->Get(ro, L(k), &got);
      BOOST_REQUIRE_MESSAGE(gs.ok(), "LevelDB: " << k << ": " << gs.ToString());
      BOOST_REQUIRE_MESSAGE(got == v, "LevelDB: " << k << " reads an old value");
    }
    for (const std::string& k : expected.deleted) {
      std::string got;
      BOOST_REQUIRE_MESSAGE(ldb->Get(ro, L(k), &got).IsNotFound(),
                            "LevelDB: " << k << " is back");
    }
  }
  auto db = OpenOrDie(TestOptions(backend), copy, backend);
  CheckExpected(*db, expected, "corodb after repair");
}


// rev4: e5746e7 makes recovery skip (or, paranoid, refuse) a logged batch
// whose sequences run past 2^56 - 1, but Repairer::ApplyRecord still
// inserts it with wrapped tags, raises its max_sequence to 2^56, and then
// drops every later, well-formed record of the log as "do not follow".
BOOST_DATA_TEST_CASE(BatchPastTheLargestSequenceIsSkippedAsDamage, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = TestOptions(backend);
  {
    auto db = OpenOrDie(options, path, backend);
    BOOST_REQUIRE(Run(db->Put({}, "a", "old")).ok());  // sequence 1
  }
  auto names = io::ListDir(path);
  BOOST_REQUIRE(names.ok());
  uint64_t log_number = 0;
  for (const auto& n : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(n, &number, &type) && type == io::FileType::kLogFile) {
      log_number = std::max(log_number, number);
    }
  }
  BOOST_REQUIRE(log_number > 0);
  const std::string log_path = io::LogFileName(path, log_number);
  std::string data;
  {
    std::ifstream in(log_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    data = ss.str();
  }
  WriteBatch forged;
  forged.Put("x", "1");
  forged.Put("y", "2");  // sequence 2^56: past the largest
  WriteBatchInternal::SetSequence(&forged, kMaxSequenceNumber);
  WriteBatch after;
  after.Put("b", "after");
  WriteBatchInternal::SetSequence(&after, 2);
  log::Writer writer(data.size());
  writer.AddRecord(WriteBatchInternal::Contents(forged), &data);
  writer.AddRecord(WriteBatchInternal::Contents(after), &data);
  {
    std::ofstream out(log_path, std::ios::binary | std::ios::trunc);
    out << data;
  }
  const Status s = Repair(path, options);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  auto db = OpenOrDie(options, path, backend);
  BOOST_TEST(GetOrStatus(*db, "a") == "old");
  BOOST_TEST(GetOrStatus(*db, "b") == "after");  // as lenient recovery keeps it
  BOOST_TEST(GetOrStatus(*db, "x") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*db, "y") == "NOT_FOUND");  // not at a wrapped sequence 0
}

BOOST_AUTO_TEST_SUITE_END()

// --- TableOrder on tables written directly ---

// Writes table `number` in `dir` holding a value for each (user key,
// sequence) of `entries`.
boost::asio::awaitable<Result<RepairedTable>> WriteTable(
    const io::FileSystem* fs, std::string dir, uint64_t number,
    std::vector<std::pair<std::string, SequenceNumber>> entries,
    const table::TableOptions* options) {
  std::vector<std::string> keys;
  for (const auto& [user_key, sequence] : entries) {
    keys.emplace_back(InternalKey(user_key, sequence, kTypeValue).Encode());
  }
  std::sort(keys.begin(), keys.end(),
            [options](const std::string& a, const std::string& b) {
              return options->comparator->Compare(a, b) < 0;
            });
  TableOutput out(*options, *fs, dir);
  if (Status s = out.Open(number); !s.ok()) co_return s;
  RepairedTable t;
  for (const std::string& key : keys) {
    if (Status s = co_await out.Add(key, "v"); !s.ok()) co_return s;
    ParsedInternalKey parsed;
    BOOST_REQUIRE(ParseInternalKey(key, &parsed));
    t.max_sequence = std::max(t.max_sequence, parsed.sequence);
    ++t.entries;
  }
  if (Status s = co_await out.Finish(&t.meta); !s.ok()) co_return s;
  co_return t;
}

class TableOrderFixture {
 public:
  TableOrderFixture()
      : icmp_(BytewiseComparator()),
        options_(table::TableOptionsForDb(Options(), &icmp_, nullptr)),
        fs_(test::MakeBackendByName("threadpool")) {}

  void Add(uint64_t number, std::vector<std::pair<std::string, SequenceNumber>> entries) {
    Result<RepairedTable> t =
        Run(WriteTable(&fs_, dir_.path(), number, std::move(entries), &options_));
    BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    tables_.push_back(*t);
  }

  // The file numbers, oldest first.
  std::vector<uint64_t> Order(uint64_t* conflicts) {
    TableOrder order(fs_, dir_.path(), icmp_, options_, nullptr);
    Result<std::vector<size_t>> indexes = Run(order.Compute(tables_));
    BOOST_REQUIRE_MESSAGE(indexes.ok(), indexes.status().ToString());
    std::vector<uint64_t> numbers;
    for (size_t i : *indexes) numbers.push_back(tables_[i].meta.number);
    *conflicts = order.conflicts();
    return numbers;
  }

 private:
  TempDir dir_{"corodb-order"};
  const InternalKeyComparator icmp_;
  const table::TableOptions options_;
  io::FileSystem fs_;
  std::vector<RepairedTable> tables_;
};

BOOST_AUTO_TEST_SUITE(TableOrderTest)

BOOST_AUTO_TEST_CASE(TablesInAValidOrderKeepIt) {
  TableOrderFixture f;
  f.Add(4, {{"a", 1}, {"b", 2}, {"c", 3}});
  f.Add(7, {{"b", 10}, {"d", 11}});  // newer b, higher number
  f.Add(9, {{"x", 5}});              // overlaps nothing
  uint64_t conflicts = 9;
  BOOST_TEST(f.Order(&conflicts) == (std::vector<uint64_t>{4, 7, 9}));
  BOOST_TEST(conflicts == 0u);
}

BOOST_AUTO_TEST_CASE(ATableWithNewerVersionsOutranksAHigherNumberedOne) {
  TableOrderFixture f;
  f.Add(3, {{"k", 20}, {"m", 21}});          // the newest k and m
  f.Add(5, {{"k", 4}, {"m", 5}, {"z", 6}});  // older versions, higher number
  f.Add(6, {{"k", 20}, {"n", 1}});           // the same newest k: no constraint
  uint64_t conflicts = 9;
  const std::vector<uint64_t> order = f.Order(&conflicts);
  BOOST_TEST(conflicts == 0u);
  BOOST_REQUIRE_EQUAL(order.size(), 3u);
  const auto rank = [&](uint64_t n) {
    return std::find(order.begin(), order.end(), n) - order.begin();
  };
  BOOST_TEST(rank(3) > rank(5));  // 3 must be looked up first
  BOOST_TEST(rank(6) > rank(5));
}

BOOST_AUTO_TEST_CASE(ContradictoryTablesAreCountedAndAllPlaced) {
  TableOrderFixture f;
  f.Add(2, {{"a", 10}, {"b", 1}});  // newest a
  f.Add(3, {{"a", 5}, {"b", 8}});   // newest b
  uint64_t conflicts = 0;
  std::vector<uint64_t> order = f.Order(&conflicts);
  BOOST_TEST(conflicts == 1u);
  std::sort(order.begin(), order.end());
  BOOST_TEST(order == (std::vector<uint64_t>{2, 3}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
