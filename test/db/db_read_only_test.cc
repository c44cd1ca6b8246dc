// Options::read_only: a database opened read-only reads everything (tables
// at every level, level 0, the logs) and changes nothing in its directory —
// no LOCK taken, no LOG, log, table or MANIFEST written, nothing flushed or
// compacted, nothing deleted — so it can be opened beside a running writer.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <utility>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/sync_db.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;

namespace {

// Every file of `dir` by name, with its bytes.
std::map<std::string, std::string> DirContents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out[entry.path().filename().string()] = bytes.str();
  }
  return out;
}

void CheckUnchanged(const std::map<std::string, std::string>& before, const std::string& dir) {
  const std::map<std::string, std::string> after = DirContents(dir);
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      BOOST_ERROR(name << " was removed");
    } else if (it->second != bytes) {
      BOOST_ERROR(name << " changed: " << bytes.size() << " -> " << it->second.size() << " bytes");
    }
  }
  for (const auto& [name, bytes] : after) {
    if (!before.contains(name)) BOOST_ERROR(name << " was created (" << bytes.size() << " bytes)");
  }
}

// A database with tables at level 0 and deeper, a deletion of a key held
// in a table, and the last writes (a put and a delete) only in the log.
Model WriteLayeredDatabase(const std::string& backend, const std::string& path) {
  const Options options = EngineOptions(backend);
  auto db = OpenOrDie(options, path, backend);
  Model model;
  for (int i = 0; i < 1500; ++i) {
    const std::string key = NumKey("k", i * 7 % 1500);
    model[key] = SizedValue(key, 120);
    BOOST_REQUIRE(Run(db->Put({}, key, model[key])).ok());
  }
  BOOST_REQUIRE(Run(db->CompactRange(nullptr, nullptr)).ok());
  for (int i = 0; i < 300; ++i) {
    const std::string key = NumKey("k", i * 3);
    model[key] = SizedValue(key + "v2", 90);
    BOOST_REQUIRE(Run(db->Put({}, key, model[key])).ok());
  }
  BOOST_REQUIRE(Run(db->Delete({}, NumKey("k", 1))).ok());
  model.erase(NumKey("k", 1));
  FlushWithFiller(*db, "filler", options.write_buffer_size, &model);
  // In the log only (the memtable holds far less than write_buffer_size).
  BOOST_REQUIRE(Run(db->Put({}, "log-only", "in the log")).ok());
  model["log-only"] = "in the log";
  BOOST_REQUIRE(Run(db->Delete({}, NumKey("k", 2))).ok());
  model.erase(NumKey("k", 2));
  BOOST_TEST_MESSAGE(backend << ": written " << LevelSummary(*db));
  BOOST_REQUIRE_GT(FilesAtLevel(*db, 0), 0);
  int deeper = 0;
  for (int level = 1; level < kNumLevels; ++level) deeper += FilesAtLevel(*db, level);
  BOOST_REQUIRE_GT(deeper, 0);
  BOOST_REQUIRE(Run(db->Close()).ok());
  return model;
}

Options ReadOnlyOptions(const std::string& backend) {
  Options options = EngineOptions(backend);
  options.read_only = true;
  options.create_if_missing = false;
  return options;
}

// Every entry of `db` in order, forwards, equals `model`.
void CheckScan(SyncDB& db, const Model& model) {
  std::unique_ptr<SyncIterator> it = db.NewIterator({});
  auto expected = model.begin();
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected, ++n) {
    BOOST_REQUIRE_MESSAGE(expected != model.end(), "extra key " << Printable(std::string(it->key())));
    BOOST_REQUIRE_EQUAL(Printable(std::string(it->key())), Printable(expected->first));
    BOOST_REQUIRE(std::string(it->value()) == expected->second);
  }
  BOOST_TEST(it->status().ok(), it->status().ToString());
  BOOST_TEST(n == model.size());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBReadOnlyTest)

BOOST_DATA_TEST_CASE(ReadOnlyOpenReadsEveryLevelAndTheLogAndChangesNothing,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Model model = WriteLayeredDatabase(backend, dir.path());
  const std::map<std::string, std::string> before = DirContents(dir.path());

  auto db = OpenOrDie(ReadOnlyOptions(backend), dir.path(), backend);
  // Reads that consult several files charge seeks; read-only, the
  // compaction they would schedule never runs.
  for (int round = 0; round < 3; ++round) CheckAll(*db, model, "read-only");
  BOOST_TEST(GetOrStatus(*db, NumKey("k", 1)) == "NOT_FOUND");
  std::string stats;
  BOOST_TEST(db->GetProperty("leveldb.stats", &stats));

  // Every write is refused, naming the reason; nothing was written.
  const Status put = Run(db->Put({}, "new", "value"));
  BOOST_TEST(put.IsNotSupported(), put.ToString());
  BOOST_TEST(put.ToString().find("read-only") != std::string::npos, put.ToString());
  BOOST_TEST(Run(db->Delete({}, "log-only")).IsNotSupported());
  BOOST_TEST(Run(db->Write({.sync = true}, WriteBatch())).IsNotSupported());
  BOOST_TEST(Run(db->CompactRange(nullptr, nullptr)).IsNotSupported());
  BOOST_TEST(GetOrStatus(*db, "new") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*db, "log-only") == "in the log");
  BOOST_TEST(Stat(*db, "compactions") == 0u);
  BOOST_TEST(Stat(*db, "flushes") == 0u);
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  CheckUnchanged(before, dir.path());

  // The blocking facade: reads and scans through it; writes refused on its
  // fast path too.
  {
    auto sync = SyncDB::Open(ReadOnlyOptions(backend), dir.path());
    BOOST_REQUIRE_MESSAGE(sync.ok(), sync.status().ToString());
    CheckScan(**sync, model);
    BOOST_TEST((*sync)->Put({}, "new", "value").IsNotSupported());
    BOOST_TEST((*sync)->Delete({}, "log-only").IsNotSupported());
    BOOST_REQUIRE((*sync)->Close().ok());
  }
  CheckUnchanged(before, dir.path());

  // A writable open afterwards finds everything as it was.
  auto writable = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  CheckAll(*writable, model, "reopened for writing");
  BOOST_REQUIRE(Run(writable->Close()).ok());
}

BOOST_DATA_TEST_CASE(ReadOnlyOpenWorksBesideAWriterAndSeesWhatItAcknowledged,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto writer = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  Model model;
  for (int i = 0; i < 200; ++i) {
    const std::string key = NumKey("w", i);
    model[key] = SizedValue(key, 300);
    BOOST_REQUIRE(Run(writer->Put({}, key, model[key])).ok());
  }
  BOOST_REQUIRE(WaitIdle(*writer).ok());
  // A second writable open is refused: the writer holds the LOCK.
  BOOST_TEST(!TryOpen(EngineOptions(backend), dir.path(), MakeBackendByName(backend)).ok());

  auto reader = OpenOrDie(ReadOnlyOptions(backend), dir.path(), backend);
  CheckAll(*reader, model, "read-only beside the writer");
  // A write after the read-only open is not in its view; the writer goes on.
  BOOST_REQUIRE(Run(writer->Put({}, "later", "x")).ok());
  BOOST_TEST(GetOrStatus(*reader, "later") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*writer, "later") == "x");
  BOOST_REQUIRE(Run(reader->Close()).ok());
  BOOST_REQUIRE(Run(writer->Close()).ok());
}

BOOST_DATA_TEST_CASE(ReadOnlyOpenOfAMissingDatabaseCreatesNothing, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.path() + "/missing";
  Options options = ReadOnlyOptions(backend);
  options.create_if_missing = true;  // ignored when read-only
  auto db = TryOpen(options, path, MakeBackendByName(backend));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().IsInvalidArgument(), db.status().ToString());
  BOOST_TEST(db.status().ToString().find(path) != std::string::npos, db.status().ToString());
  BOOST_TEST(!std::filesystem::exists(path));
}

// A writer's compaction may delete a table the read-only view names: a read
// of it is an IOError naming the file, never NotFound ("no such key").
BOOST_DATA_TEST_CASE(AReadOfATableDeletedMeanwhileIsAnIOErrorNamingIt, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const Model model = WriteLayeredDatabase(backend, dir.path());
  auto db = OpenOrDie(ReadOnlyOptions(backend), dir.path(), backend);
  for (uint64_t number : ListDbFiles(dir.path()).tables) {
    std::filesystem::remove(io::TableFileName(dir.path(), number));
  }
  const Result<std::string> got = Run(db->Get({}, NumKey("k", 4)));  // only in tables
  BOOST_REQUIRE(!got.ok());
  BOOST_TEST(!got.status().IsNotFound(), got.status().ToString());
  BOOST_TEST(got.status().IsIOError(), got.status().ToString());
  BOOST_TEST(got.status().ToString().find(".ldb") != std::string::npos, got.status().ToString());
  BOOST_TEST(GetOrStatus(*db, "log-only") == "in the log");  // the memtables still answer
  BOOST_REQUIRE(Run(db->Close()).ok());
}

namespace {

// Puts `count` keys "<prefix>000000".. with 100-byte values; what was written.
Model PutKeys(DB& db, const std::string& prefix, int count) {
  Model model;
  for (int i = 0; i < count; ++i) {
    const std::string key = NumKey(prefix, i);
    model[key] = SizedValue(key, 100);
    BOOST_REQUIRE(Run(db.Put({}, key, model[key])).ok());
  }
  return model;
}

// Opens `dir` read-only with `between` run once between the recovery's
// MANIFEST read and its directory listing (where a writer can interfere).
std::unique_ptr<DBImpl> OpenReadOnlyWithWriterBetween(const std::string& backend,
                                                      const std::string& dir,
                                                      std::function<void()> between) {
  auto impl = std::make_unique<DBImpl>(ReadOnlyOptions(backend), dir, MakeBackendByName(backend));
  bool ran = false;
  impl->read_only_recovery_hook_for_testing = [&] {
    if (!std::exchange(ran, true)) between();
  };
  const Status s = Run(boost::asio::co_spawn(impl->engine_executor(), impl->OpenOnEngine(),
                                             boost::asio::use_awaitable));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE(ran);
  return impl;
}

}  // namespace

// The writer flushes its log into a table, logs the edit and deletes the
// log after the read-only recovery read the MANIFEST: the open must still
// see every write (it recovers again), not replay the new log alone.
BOOST_DATA_TEST_CASE(AFlushDuringTheReadOnlyOpenLosesNoWrite, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const Options options = EngineOptions(backend);
  auto writer = OpenOrDie(options, dir.path(), backend);
  Model model = PutKeys(*writer, "a", 50);
  const int logs_before = ListDbFiles(dir.path()).logs;
  auto reader = OpenReadOnlyWithWriterBetween(backend, dir.path(), [&] {
    FlushWithFiller(*writer, "filler", options.write_buffer_size, &model);
    BOOST_REQUIRE(Run(writer->Put({}, "after-flush", "x")).ok());
    model["after-flush"] = "x";
  });
  BOOST_TEST(ListDbFiles(dir.path()).logs <= logs_before);  // the old log was deleted
  CheckAll(*reader, model, "read-only open across a flush");
  BOOST_REQUIRE(Run(reader->Close()).ok());
  BOOST_REQUIRE(Run(writer->Close()).ok());
}

// The writer reopens (a new MANIFEST; the old one and the old log deleted)
// after the read-only recovery read CURRENT: not Corruption, every write.
BOOST_DATA_TEST_CASE(AWriterReopeningDuringTheReadOnlyOpenIsNotCorruption,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = EngineOptions(backend);
  auto writer = OpenOrDie(options, dir.path(), backend);
  Model model = PutKeys(*writer, "b", 50);
  auto reader = OpenReadOnlyWithWriterBetween(backend, dir.path(), [&] {
    BOOST_REQUIRE(Run(writer->Close()).ok());
    writer.reset();
    writer = OpenOrDie(options, dir.path(), backend);
  });
  CheckAll(*reader, model, "read-only open across a writer's reopen");
  BOOST_REQUIRE(Run(reader->Close()).ok());
  BOOST_REQUIRE(Run(writer->Close()).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test
