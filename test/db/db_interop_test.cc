// Directories shared with the real LevelDB (Debian's libleveldb): a corodb
// directory opens in LevelDB with every key readable, a LevelDB directory
// opens in corodb, and the two take turns on one directory through flushes
// and compactions, each checking every key the other wrote.
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>

#include <map>
#include <set>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "db_test_util.h"
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
namespace asio = boost::asio;

std::map<std::string, std::string> SampleData(int n, uint32_t seed) {
  Random rnd(seed);
  std::map<std::string, std::string> data;
  data[""] = "empty key";
  data[std::string("\0\x01\xff", 3)] = std::string("\0binary\xff", 8);
  for (int i = 0; i < n; ++i) {
    std::string key = "key" + std::to_string(rnd.Uniform(1000000));
    data[key] = std::string(rnd.Uniform(300), static_cast<char>('a' + i % 26));
  }
  return data;
}

BOOST_AUTO_TEST_SUITE(LevelDBInteropTest)

BOOST_DATA_TEST_CASE(CorodbDirectoryOpensInLevelDB, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const auto data = SampleData(500, 7);
  {
    auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
    for (const auto& [k, v] : data) BOOST_REQUIRE(Run(db->Put({}, k, v)).ok());
    BOOST_REQUIRE(Run(db->Delete({}, "key-deleted")).ok());
    BOOST_REQUIRE(Run(db->Put({.sync = true}, "last", "one")).ok());
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  leveldb::DB* raw = nullptr;
  leveldb::Options lo;
  leveldb::Status s = leveldb::DB::Open(lo, dir.Child("db"), &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<leveldb::DB> ldb(raw);
  for (const auto& [k, v] : data) {
    std::string got;
    BOOST_REQUIRE(ldb->Get({}, k, &got).ok());
    BOOST_TEST(got == v);
  }
  std::string last;
  BOOST_TEST(ldb->Get({}, "last", &last).ok());
  BOOST_TEST(last == "one");
}

BOOST_DATA_TEST_CASE(LevelDBLogOnlyDirectoryOpensInCorodb, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const auto data = SampleData(500, 8);
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options lo;
    lo.create_if_missing = true;
    BOOST_REQUIRE(leveldb::DB::Open(lo, dir.Child("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> ldb(raw);
    leveldb::WriteBatch batch;
    for (const auto& [k, v] : data) batch.Put(k, v);
    batch.Put("gone", "x");
    batch.Delete("gone");
    leveldb::WriteOptions wo;
    wo.sync = true;
    BOOST_REQUIRE(ldb->Write(wo, &batch).ok());
    BOOST_REQUIRE(ldb->Put(wo, "after", "batch").ok());
  }
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  for (const auto& [k, v] : data) BOOST_TEST(GetOrStatus(*db, k) == v);
  BOOST_TEST(GetOrStatus(*db, "gone") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*db, "after") == "batch");
  // corodb keeps writing to it.
  BOOST_TEST(Run(db->Put({}, "corodb", "too")).ok());
  db.reset();
  db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "corodb") == "too");
  BOOST_TEST(GetOrStatus(*db, "after") == "batch");
}

// --- Taking turns ---

// What both databases must hold: live keys and values, and keys deleted
// since (which must not come back).
struct SharedModel {
  std::map<std::string, std::string> live;
  std::set<std::string> deleted;

  void Put(const std::string& k, const std::string& v) {
    live[k] = v;
    deleted.erase(k);
  }
  void Delete(const std::string& k) {
    if (live.erase(k) > 0) deleted.insert(k);
  }
};

// One random update: a put (new key or overwrite) or a delete of a live key.
struct Update {
  bool is_delete = false;
  std::string key;
  std::string value;
};

Update RandomUpdate(Random& rnd, const SharedModel& model) {
  Update u;
  if (!model.live.empty() && rnd.OneIn(4)) {
    // Delete a live key: pick near a random point of the key space.
    auto it = model.live.lower_bound("k" + std::to_string(rnd.Uniform(10)));
    if (it == model.live.end()) it = model.live.begin();
    u.is_delete = true;
    u.key = it->first;
    return u;
  }
  switch (rnd.Uniform(20)) {
    case 0:
      u.key = std::string("\0bin\xff", 5) + std::to_string(rnd.Uniform(20));
      break;
    case 1:
      u.key = "";
      break;
    default:
      u.key = "k" + std::to_string(rnd.Uniform(4000));
  }
  const size_t len = rnd.Uniform(500);
  u.value.resize(len);
  for (size_t i = 0; i < len; ++i) {
    u.value[i] = rnd.OneIn(3) ? static_cast<char>(rnd.Uniform(256))
                              : static_cast<char>('a' + i % 13);
  }
  return u;
}

leveldb::Slice L(const std::string& s) { return leveldb::Slice(s.data(), s.size()); }

std::unique_ptr<leveldb::DB> OpenLevelDB(const std::string& path, bool create,
                                         const leveldb::FilterPolicy* filter) {
  leveldb::Options lo;
  lo.create_if_missing = create;
  lo.error_if_exists = create;
  lo.paranoid_checks = true;
  lo.write_buffer_size = 64 << 10;
  lo.max_file_size = 64 << 10;
  lo.block_size = 1024;
  lo.filter_policy = filter;
  lo.compression = leveldb::kSnappyCompression;
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(lo, path, &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), "LevelDB cannot open the directory: " << s.ToString());
  return std::unique_ptr<leveldb::DB>(raw);
}

// LevelDB holds exactly the model: every key by Get (checksums verified),
// and a full scan that finds no other key.
void CheckLevelDB(leveldb::DB& ldb, const SharedModel& model, const std::string& where) {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  for (const auto& [k, v] : model.live) {
    std::string got;
    const leveldb::Status s = ldb.Get(ro, L(k), &got);
    BOOST_REQUIRE_MESSAGE(s.ok(), where << ": LevelDB Get of a " << k.size()
                                        << "-byte key: " << s.ToString());
    BOOST_REQUIRE_MESSAGE(got == v, where << ": LevelDB read a wrong value");
  }
  std::unique_ptr<leveldb::Iterator> it(ldb.NewIterator(ro));
  size_t n = 0;
  auto expected = model.live.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    BOOST_REQUIRE_MESSAGE(expected != model.live.end(),
                          where << ": LevelDB scans more keys than live");
    BOOST_REQUIRE_MESSAGE(
        it->key().ToString() == expected->first,
        where << ": LevelDB scan finds a key that should not be there (deleted?)");
    BOOST_REQUIRE(it->value().ToString() == expected->second);
    ++expected;
  }
  BOOST_REQUIRE_MESSAGE(it->status().ok(), where << ": " << it->status().ToString());
  BOOST_REQUIRE_EQUAL(n, model.live.size());
}

void CheckCorodb(DB& db, const SharedModel& model, const std::string& where) {
  for (const auto& [k, v] : model.live) {
    const std::string got = GetOrStatus(db, k);
    BOOST_REQUIRE_MESSAGE(got == v,
                          where << ": corodb read a " << k.size() << "-byte key wrong: "
                                << (got.size() < 80 ? got : got.substr(0, 80) + "..."));
  }
  for (const std::string& k : model.deleted) {
    BOOST_REQUIRE_MESSAGE(GetOrStatus(db, k) == "NOT_FOUND",
                          where << ": a deleted key came back");
  }
}

// The number of levels holding tables, as LevelDB reports them.
int LevelDBLevelsInUse(leveldb::DB& ldb, std::string* summary) {
  int in_use = 0;
  for (int level = 0; level < 7; ++level) {
    std::string files;
    BOOST_REQUIRE(
        ldb.GetProperty("leveldb.num-files-at-level" + std::to_string(level), &files));
    *summary += files + " ";
    if (files != "0") ++in_use;
  }
  return in_use;
}

// LevelDB creates a directory with tables at several levels; then corodb
// and LevelDB (paranoid) take turns, three times each: each opens what the
// other left, checks every key, writes, overwrites and deletes, and flushes
// and compacts (corodb: until its background is idle).
BOOST_DATA_TEST_CASE(LevelDBAndCorodbTakeTurnsThroughCompactions,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const std::unique_ptr<const leveldb::FilterPolicy> filter(
      leveldb::NewBloomFilterPolicy(10));
  Options options = TestOptions(backend);
  options.write_buffer_size = 32 << 10;
  options.max_file_size = 64 << 10;
  options.block_size = 1024;
  options.filter_policy = NewBloomFilterPolicy(10);
  options.compression = CompressionType::kSnappyCompression;
  Random rnd(1234);
  SharedModel model;

  for (int turn = 0; turn < 3; ++turn) {
    const std::string t = "turn " + std::to_string(turn);
    {
      auto ldb = OpenLevelDB(path, /*create=*/turn == 0, filter.get());
      CheckLevelDB(*ldb, model, t + ", LevelDB opening corodb's directory");
      leveldb::WriteOptions wo;
      const int updates = turn == 0 ? 3000 : 1500;
      for (int i = 0; i < updates; ++i) {
        const Update u = RandomUpdate(rnd, model);
        const bool batched = rnd.OneIn(10);
        leveldb::Status s;
        if (batched) {
          leveldb::WriteBatch batch;
          if (u.is_delete) {
            batch.Delete(L(u.key));
          } else {
            batch.Put(L(u.key), L(u.value));
          }
          batch.Put("batch-mark", L(t));
          s = ldb->Write(wo, &batch);
        } else {
          s = u.is_delete ? ldb->Delete(wo, L(u.key))
                          : ldb->Put(wo, L(u.key), L(u.value));
        }
        BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
        if (u.is_delete) {
          model.Delete(u.key);
        } else {
          model.Put(u.key, u.value);
        }
        if (batched) model.Put("batch-mark", t);
        // Everything so far to the deepest level; later flushes land above.
        if (turn == 0 && i == updates / 2) ldb->CompactRange(nullptr, nullptr);
      }
      if (turn == 0) {
        // Closed (background work finished) and reopened (the log becomes a
        // level-0 table): tables at several levels.
        ldb.reset();
        ldb = OpenLevelDB(path, /*create=*/false, filter.get());
        std::string summary;
        const int levels = LevelDBLevelsInUse(*ldb, &summary);
        BOOST_TEST_MESSAGE(t << ": LevelDB files per level: " << summary);
        BOOST_REQUIRE_MESSAGE(levels >= 2,
                              "LevelDB left tables at one level: " << summary);
      }
      CheckLevelDB(*ldb, model, t + ", LevelDB after writing");
    }
    {
      auto db = OpenOrDie(options, path, backend);
      CheckCorodb(*db, model, t + ", corodb opening LevelDB's directory");
      for (int i = 0; i < 1500; ++i) {
        const Update u = RandomUpdate(rnd, model);
        const bool batched = rnd.OneIn(10);
        if (batched) {
          WriteBatch batch;
          if (u.is_delete) {
            batch.Delete(u.key);
          } else {
            batch.Put(u.key, u.value);
          }
          batch.Put("batch-mark", "corodb " + t);
          BOOST_REQUIRE(Run(db->Write({}, batch)).ok());
        } else {
          BOOST_REQUIRE(
              Run(u.is_delete ? db->Delete({}, u.key) : db->Put({}, u.key, u.value))
                  .ok());
        }
        if (u.is_delete) {
          model.Delete(u.key);
        } else {
          model.Put(u.key, u.value);
        }
        if (batched) model.Put("batch-mark", "corodb " + t);
      }
      const Status idle = test::WaitIdle(*db);
      BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
      BOOST_TEST(Stat(*db, "flushes") > 0u, t);
      BOOST_TEST(Stat(*db, "compactions") > 0u, t);
      std::string levels;
      BOOST_REQUIRE(db->GetProperty("corodb.level-summary", &levels));
      BOOST_TEST_MESSAGE(t << ": corodb " << levels << ", " << Stat(*db, "flushes")
                           << " flushes, " << Stat(*db, "compactions") << " compactions");
      CheckCorodb(*db, model, t + ", corodb after writing");
      BOOST_REQUIRE(Run(db->Close()).ok());
    }
  }
  auto ldb = OpenLevelDB(path, /*create=*/false, filter.get());
  CheckLevelDB(*ldb, model, "LevelDB at the end");
}

// --- Iteration ---

// `s` with bytes outside printable ASCII as \xNN.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// One iterator move and where it left the iterator.
struct IterStep {
  enum Kind { kSeekToFirst, kSeekToLast, kSeek, kNext, kPrev } kind = kSeekToFirst;
  std::string target;  // kSeek
  bool valid = false;
  std::string key;
  std::string value;
};

std::string Describe(const IterStep& s) {
  static const char* const kNames[] = {"SeekToFirst", "SeekToLast", "Seek", "Next",
                                       "Prev"};
  std::string out = kNames[s.kind];
  if (s.kind == IterStep::kSeek) out += "(" + Printable(s.target) + ")";
  return out + " -> " + (s.valid ? "\"" + Printable(s.key) + "\"" : "not valid");
}

// A random sequence of moves run on LevelDB's iterator, with where each left it.
std::vector<IterStep> LevelDBWalk(leveldb::Iterator& it, Random& rnd, int steps) {
  std::vector<IterStep> walk;
  for (int i = 0; i < steps; ++i) {
    IterStep step;
    const uint32_t op = rnd.Uniform(100);
    if (op < 5) {
      step.kind = IterStep::kSeekToFirst;
      it.SeekToFirst();
    } else if (op < 10) {
      step.kind = IterStep::kSeekToLast;
      it.SeekToLast();
    } else if (op < 20 || !it.Valid()) {
      step.kind = IterStep::kSeek;
      switch (rnd.Uniform(4)) {
        case 0:
          step.target = std::string("\0bin", 4);
          break;
        case 1:
          step.target = "";
          break;
        default:
          step.target = "k" + std::to_string(rnd.Uniform(4000));
          if (rnd.OneIn(3)) step.target += '\0';
      }
      it.Seek(L(step.target));
    } else if (op < 60) {
      step.kind = IterStep::kNext;
      it.Next();
    } else {
      step.kind = IterStep::kPrev;
      it.Prev();
    }
    step.valid = it.Valid();
    if (step.valid) {
      step.key = it.key().ToString();
      step.value = it.value().ToString();
    }
    walk.push_back(std::move(step));
  }
  BOOST_REQUIRE_MESSAGE(it.status().ok(), it.status().ToString());
  return walk;
}

// Runs LevelDB's walk on a corodb iterator; "" when every move ends where
// LevelDB's did, else the first difference.
asio::awaitable<std::string> ReplayWalk(Iterator& it, const std::vector<IterStep>& walk) {
  for (size_t i = 0; i < walk.size(); ++i) {
    const IterStep& want = walk[i];
    switch (want.kind) {
      case IterStep::kSeekToFirst:
        co_await it.SeekToFirst();
        break;
      case IterStep::kSeekToLast:
        co_await it.SeekToLast();
        break;
      case IterStep::kSeek:
        co_await it.Seek(want.target);
        break;
      case IterStep::kNext:
        if (!it.TryNext()) co_await it.Next();
        break;
      case IterStep::kPrev:
        if (!it.TryPrev()) co_await it.Prev();
        break;
    }
    if (!it.status().ok())
      co_return "move " + std::to_string(i) + ": " + it.status().ToString();
    if (it.Valid() != want.valid ||
        (want.valid && (it.key() != want.key || it.value() != want.value))) {
      co_return "move " + std::to_string(i) + ", LevelDB " + Describe(want) +
          ", corodb " +
          (it.Valid() ? "at \"" + Printable(std::string(it.key())) + "\"" +
                            (want.valid && it.key() == want.key ? " (value differs)" : "")
                      : "not valid");
    }
  }
  co_return "";
}

// A full scan, forwards or backwards.
std::vector<std::pair<std::string, std::string>> LevelDBScan(leveldb::Iterator& it,
                                                             bool reverse) {
  std::vector<std::pair<std::string, std::string>> out;
  for (reverse ? it.SeekToLast() : it.SeekToFirst(); it.Valid();
       reverse ? it.Prev() : it.Next()) {
    out.emplace_back(it.key().ToString(), it.value().ToString());
  }
  BOOST_REQUIRE_MESSAGE(it.status().ok(), it.status().ToString());
  return out;
}

asio::awaitable<std::vector<std::pair<std::string, std::string>>> CorodbScan(
    Iterator& it, bool reverse, Status* status) {
  std::vector<std::pair<std::string, std::string>> out;
  if (reverse) {
    co_await it.SeekToLast();
  } else {
    co_await it.SeekToFirst();
  }
  while (it.Valid()) {
    out.emplace_back(std::string(it.key()), std::string(it.value()));
    if (reverse) {
      if (!it.TryPrev()) co_await it.Prev();
    } else {
      if (!it.TryNext()) co_await it.Next();
    }
  }
  *status = it.status();
  co_return out;
}

// A directory LevelDB wrote — tables at several levels (snappy, bloom
// filters), overwrites and deletions across them, the newest writes still
// in its log — iterates in corodb exactly as in LevelDB: full scans both
// ways, and a random walk of seeks and direction switches, before and after
// corodb's own compactions of it.
BOOST_DATA_TEST_CASE(LevelDBDirectoryIteratesInCorodbAsInLevelDB,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const std::unique_ptr<const leveldb::FilterPolicy> filter(
      leveldb::NewBloomFilterPolicy(10));
  Random rnd(4321);
  SharedModel model;
  auto write = [&](leveldb::DB& ldb, int updates) {
    for (int i = 0; i < updates; ++i) {
      const Update u = RandomUpdate(rnd, model);
      const leveldb::Status s =
          u.is_delete ? ldb.Delete({}, L(u.key)) : ldb.Put({}, L(u.key), L(u.value));
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
      if (u.is_delete) {
        model.Delete(u.key);
      } else {
        model.Put(u.key, u.value);
      }
    }
  };
  std::vector<std::pair<std::string, std::string>> forward, backward;
  std::vector<IterStep> walk;
  {
    auto ldb = OpenLevelDB(path, /*create=*/true, filter.get());
    write(*ldb, 3000);
    ldb->CompactRange(nullptr, nullptr);  // to the deepest level
    write(*ldb, 1500);                    // flushes land above it
    ldb.reset();
    ldb = OpenLevelDB(path, /*create=*/false, filter.get());  // the log becomes a table
    write(*ldb, 150);                                         // stays in the log
    std::string summary;
    BOOST_REQUIRE_MESSAGE(LevelDBLevelsInUse(*ldb, &summary) >= 2, summary);
    BOOST_TEST_MESSAGE("LevelDB files per level: " << summary);
    CheckLevelDB(*ldb, model, "LevelDB");
    std::unique_ptr<leveldb::Iterator> it(ldb->NewIterator({}));
    forward = LevelDBScan(*it, false);
    backward = LevelDBScan(*it, true);
    walk = LevelDBWalk(*it, rnd, 4000);
  }
  BOOST_REQUIRE_EQUAL(forward.size(), model.live.size());

  Options options = TestOptions(backend);
  options.write_buffer_size = 32 << 10;
  options.max_file_size = 64 << 10;
  options.block_size = 1024;
  options.filter_policy = NewBloomFilterPolicy(10);
  options.compression = CompressionType::kSnappyCompression;
  auto db = test::OpenHeldOrDie(options, path, backend);  // LevelDB's levels, as left
  for (int pass = 0; pass < 2; ++pass) {
    BOOST_TEST_CONTEXT(
        (pass == 0 ? "as LevelDB left it" : "after corodb's compactions")) {
      std::unique_ptr<Iterator> it = db->NewIterator({});
      Status status;
      BOOST_TEST((Run(CorodbScan(*it, false, &status)) == forward),
                 "forward scan differs");
      BOOST_TEST(status.ok(), status.ToString());
      BOOST_TEST((Run(CorodbScan(*it, true, &status)) == backward),
                 "backward scan differs");
      BOOST_TEST(status.ok(), status.ToString());
      std::unique_ptr<Iterator> walker = db->NewIterator({});
      const std::string diff = Run(ReplayWalk(*walker, walk));
      BOOST_TEST(diff.empty(), diff);
    }
    if (pass == 1) break;
    // corodb rewrites every live key with its own value: the state stays,
    // while flushes and compactions merge LevelDB's tables into its own.
    db->HoldBackgroundForTesting(false);
    for (const auto& [k, v] : model.live) BOOST_REQUIRE(Run(db->Put({}, k, v)).ok());
    BOOST_REQUIRE(test::WaitIdle(*db).ok());
    BOOST_REQUIRE_GT(Stat(*db, "compactions"), 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
