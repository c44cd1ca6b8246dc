// The real LevelDB (Debian's libleveldb) as the oracle: a MANIFEST LevelDB
// wrote, with tables at several levels, recovers in corodb with the same
// files per level and every key readable through them; the MANIFEST corodb
// then writes opens in LevelDB with the same files and keys.
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <map>
#include <optional>
#include <sstream>

#include "support/backends.h"
#include "version_test_util.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::MakeBackendByName;
using test::Run;
using test::TempDir;
using test::VersionEnv;

// Expected contents: a value, or nullopt for a deleted key.
using Model = std::map<std::string, std::optional<std::string>>;

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "key%06d", i);
  return buf;
}

std::string Value(int i, int phase) {
  return "v" + std::to_string(phase) + "-" + std::to_string(i) + std::string(90, 'x');
}

// Per level, its files as "number:size number:size ..."; level 0 sorted
// (LevelDB orders it by key, corodb by number).
using Levels = std::vector<std::string>;

Levels Join(std::vector<std::vector<std::string>> levels) {
  std::sort(levels[0].begin(), levels[0].end());
  Levels joined;
  for (const auto& files : levels) {
    std::string line;
    for (const std::string& f : files) line += (line.empty() ? "" : " ") + f;
    joined.push_back(line);
  }
  return joined;
}

// "leveldb.sstables" (LevelDB's Version::DebugString).
Levels ParseSstables(const std::string& text) {
  std::vector<std::vector<std::string>> levels(kNumLevels);
  std::istringstream in(text);
  std::string line;
  int level = -1;
  while (std::getline(in, line)) {
    if (line.rfind("--- level ", 0) == 0) {
      level = std::stoi(line.substr(10));
    } else if (!line.empty() && line[0] == ' ') {
      BOOST_REQUIRE(level >= 0 && level < kNumLevels);
      levels[level].push_back(line.substr(1, line.find('[') - 1));
    }
  }
  return Join(std::move(levels));
}

Levels OurLevels(const Version& v) {
  std::vector<std::vector<std::string>> levels(kNumLevels);
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : v.files(level)) {
      levels[level].push_back(std::to_string(f->number) + ":" +
                              std::to_string(f->file_size));
    }
  }
  return Join(std::move(levels));
}

class LevelDB {
 public:
  explicit LevelDB(const std::string& path) : policy_(leveldb::NewBloomFilterPolicy(10)) {
    leveldb::Options options;
    options.create_if_missing = true;
    options.filter_policy = policy_.get();
    leveldb::DB* raw = nullptr;
    const leveldb::Status s = leveldb::DB::Open(options, path, &raw);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    db_.reset(raw);
  }

  void Put(Model* model, const std::string& key, const std::string& value) {
    BOOST_REQUIRE(db_->Put(leveldb::WriteOptions(), key, value).ok());
    (*model)[key] = value;
  }
  void Delete(Model* model, const std::string& key) {
    BOOST_REQUIRE(db_->Delete(leveldb::WriteOptions(), key).ok());
    (*model)[key] = std::nullopt;
  }
  // Writes the memtable to a table: CompactRange always does that first,
  // and nothing lies in this range, so it compacts nothing else.
  void Flush() {
    const leveldb::Slice nothing("~~~~");
    db_->CompactRange(&nothing, &nothing);
  }
  void CompactRange(const std::string& begin, const std::string& end) {
    const leveldb::Slice b(begin), e(end);
    db_->CompactRange(&b, &e);
  }
  std::string Sstables() {
    std::string s;
    BOOST_REQUIRE(db_->GetProperty("leveldb.sstables", &s));
    return s;
  }
  // The value, or "NOT_FOUND".
  std::string Get(const std::string& key) {
    std::string value;
    const leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return "NOT_FOUND";
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return value;
  }

 private:
  std::unique_ptr<const leveldb::FilterPolicy> policy_;
  std::unique_ptr<leveldb::DB> db_;  // destroyed first
};

// Builds, with LevelDB, a directory with tables at levels 0, 1 and 2 (each
// flush lands where LevelDB's PickLevelForMemTableOutput puts it), with
// overwrites, deletions, and one compaction merging levels 1 and 2. No
// level-0 trigger or size limit is reached, so no background compaction
// runs after the last manual one: the sstables property read at the end
// is what the MANIFEST holds when LevelDB closes.
std::string BuildLevelDBDirectory(const std::string& path, Model* model) {
  LevelDB db(path);
  db.Put(model, "", "empty key");
  db.Put(model, std::string("\0\xff", 2), std::string("binary\0value", 12));
  for (int i = 0; i < 3000; ++i) db.Put(model, Key(i), Value(i, 1));
  db.Flush();  // nothing overlaps: level 2
  for (int i = 0; i < 1000; i += 3) db.Put(model, Key(i), Value(i, 2));
  for (int i = 0; i < 1500; i += 7) db.Delete(model, Key(i));
  for (int i = 3000; i < 3500; ++i) db.Put(model, Key(i), Value(i, 2));
  db.Flush();                         // overlaps level 2: level 1
  db.CompactRange(Key(0), Key(500));  // levels 1 and 2 merged into level 2
  for (int i = 1000; i < 1200; ++i) db.Put(model, Key(i), Value(i, 3));
  db.Flush();  // overlaps level 2 only: level 1
  for (int i = 1100; i < 1150; ++i) db.Put(model, Key(i), Value(i, 4));
  for (int i = 1160; i < 1170; ++i) db.Delete(model, Key(i));
  db.Flush();  // overlaps level 1: level 0
  return db.Sstables();
}

BOOST_AUTO_TEST_SUITE(VersionSetInteropTest)

BOOST_DATA_TEST_CASE(LevelDBManifestRecoversWithEveryKeyReadable,
                     bdata::make(BackendNames()), backend) {
  TempDir dir("version-interop");
  const std::string path = dir.Child("db");
  Model model;
  const std::string sstables = BuildLevelDBDirectory(path, &model);
  const auto leveldb_levels = ParseSstables(sstables);
  for (int level = 0; level < 3; ++level) {
    BOOST_TEST_REQUIRE(!leveldb_levels[level].empty(), "no files at level " << level
                                                                            << ":\n"
                                                                            << sstables);
  }

  VersionEnv env(MakeBackendByName(backend), BytewiseComparator(), path);
  VersionSet& set = *env.vset;
  const Status recovered = env.Recover(set);
  BOOST_REQUIRE_MESSAGE(recovered.ok(), recovered.ToString());
  const auto v = set.current();
  BOOST_TEST(OurLevels(*v) == leveldb_levels, boost::test_tools::per_element());
  BOOST_TEST(set.last_sequence() > 0u);

  int found = 0, deleted = 0;
  for (const auto& [key, value] : model) {
    BOOST_TEST_CONTEXT("key '" << key << "'") {
      LookupKey lookup(key, set.last_sequence());
      GetStats stats;
      Result<VersionGetResult> r = Run(v->Get(ReadOptions(), lookup, &stats));
      BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      if (value.has_value()) {
        BOOST_TEST(r->kind == VersionGetResult::kFound);
        BOOST_TEST(r->value == *value);
        ++found;
      } else {
        // A compaction to the base level may have dropped the deletion.
        BOOST_TEST(r->kind != VersionGetResult::kFound);
        ++deleted;
      }
      // Everything is open and cached now: the fast path agrees.
      std::optional<Result<VersionGetResult>> fast =
          v->TryGet(ReadOptions(), lookup, &stats);
      if (fast.has_value()) {
        BOOST_REQUIRE(fast->ok());
        BOOST_TEST((*fast)->kind == r->kind);
        BOOST_TEST((*fast)->value == r->value);
      }
    }
  }
  BOOST_TEST(found > 3000);
  BOOST_TEST(deleted > 150);
  for (const std::string& absent : {std::string("a"), Key(3500), std::string("zzz")}) {
    LookupKey lookup(absent, set.last_sequence());
    GetStats stats;
    BOOST_TEST(Run(v->Get(ReadOptions(), lookup, &stats))->kind ==
               VersionGetResult::kNotFound);
  }

  // corodb's MANIFEST (a snapshot of this state) opens in LevelDB.
  VersionEdit edit;
  const Status applied = env.Apply(std::move(edit));
  BOOST_REQUIRE_MESSAGE(applied.ok(), applied.ToString());
  const auto ours = OurLevels(*set.current());
  env.vset.reset();
  env.table_cache.reset();
  LevelDB reopened(path);
  BOOST_TEST(ParseSstables(reopened.Sstables()) == ours,
             boost::test_tools::per_element());
  for (const auto& [key, value] : model) {
    BOOST_TEST_CONTEXT("key '" << key << "'") {
      BOOST_TEST(reopened.Get(key) == value.value_or("NOT_FOUND"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
