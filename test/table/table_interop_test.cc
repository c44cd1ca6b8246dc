// Interoperability with the real LevelDB (libleveldb 1.23) at the table
// level, with real internal keys (user key + sequence + type).
//
// How LevelDB is set up to read tables as its DB would:
// - Key order: LevelDB's internal-key comparator is not public, so
//   LdbInternalComparator (a leveldb::Comparator) delegates to corodb's
//   InternalKeyComparator: user key ascending, then tag descending, with the
//   same separator/successor shortening.
// - Filters: LevelDB's DB wraps the user's policy so that table filters cover
//   USER keys (InternalFilterPolicy in db/dbformat.h, also not public).
//   LdbInternalFilter does the same around leveldb::NewBloomFilterPolicy(10).
// - leveldb::Table's public API (Open, NewIterator) never consults the
//   filter: only the private InternalGet does (the DB's TableCache is its
//   friend). The test reaches InternalGet through the standard
//   explicit-instantiation access rule (an explicit instantiation may name a
//   private member), so LevelDB's own lookup path — filter first, then the
//   data block — runs over our table, and a counting filter wrapper proves
//   the filter was consulted.
#include <leveldb/comparator.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>

#include <atomic>
#include <fstream>
#include <iterator>

#include <boost/test/unit_test.hpp>

#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/table.h"
#include "table_test_util.h"

namespace {

using InternalGetFn = leveldb::Status (leveldb::Table::*)(
    const leveldb::ReadOptions&, const leveldb::Slice&, void*,
    void (*)(void*, const leveldb::Slice&, const leveldb::Slice&));

InternalGetFn LevelDbInternalGet();

template <InternalGetFn Fn>
struct InternalGetAccess {
  friend InternalGetFn LevelDbInternalGet() { return Fn; }
};
template struct InternalGetAccess<&leveldb::Table::InternalGet>;

}  // namespace

namespace corodb::table {
namespace {

using testing::IKey;
using testing::Model;
using testing::RandomBytes;

leveldb::Slice L(Slice s) { return leveldb::Slice(s.data(), s.size()); }
Slice C(const leveldb::Slice& s) { return Slice(s.data(), s.size()); }

class LdbInternalComparator final : public leveldb::Comparator {
 public:
  explicit LdbInternalComparator(const InternalKeyComparator* icmp) : icmp_(icmp) {}
  int Compare(const leveldb::Slice& a, const leveldb::Slice& b) const override {
    return icmp_->Compare(C(a), C(b));
  }
  const char* Name() const override { return "leveldb.InternalKeyComparator"; }
  void FindShortestSeparator(std::string* start, const leveldb::Slice& limit) const override {
    icmp_->FindShortestSeparator(start, C(limit));
  }
  void FindShortSuccessor(std::string* key) const override { icmp_->FindShortSuccessor(key); }

 private:
  const InternalKeyComparator* icmp_;
};

class LdbInternalFilter final : public leveldb::FilterPolicy {
 public:
  LdbInternalFilter() : user_(leveldb::NewBloomFilterPolicy(10)) {}
  const char* Name() const override { return user_->Name(); }
  void CreateFilter(const leveldb::Slice* keys, int n, std::string* dst) const override {
    std::vector<leveldb::Slice> user_keys;
    for (int i = 0; i < n; ++i) user_keys.emplace_back(keys[i].data(), keys[i].size() - 8);
    user_->CreateFilter(user_keys.data(), n, dst);
  }
  bool KeyMayMatch(const leveldb::Slice& key, const leveldb::Slice& filter) const override {
    ++checks;
    const bool r = user_->KeyMayMatch(leveldb::Slice(key.data(), key.size() - 8), filter);
    if (!r) ++negatives;
    return r;
  }
  mutable std::atomic<int> checks{0};
  mutable std::atomic<int> negatives{0};

 private:
  std::unique_ptr<const leveldb::FilterPolicy> user_;
};

struct Fixture {
  test::TempDir dir{"table-interop"};
  io::FileSystem fs{test::MakeBackendByName(test::BackendNames().front())};
  InternalKeyComparator icmp{BytewiseComparator()};
  LdbInternalComparator ldb_cmp{&icmp};
  LdbInternalFilter ldb_filter;

  TableOptions Ours(CompressionType c, size_t block_size) const {
    TableOptions o;
    o.comparator = &icmp;
    o.internal_keys = true;  // LevelDB's tables hold internal keys too
    o.filter_policy = std::make_shared<InternalFilterPolicy>(NewBloomFilterPolicy(10));
    o.compression = c;
    o.block_size = block_size;
    return o;
  }
  leveldb::Options Theirs(CompressionType c, size_t block_size) const {
    leveldb::Options o;
    o.comparator = &ldb_cmp;
    o.filter_policy = &ldb_filter;
    o.compression = c == CompressionType::kSnappyCompression ? leveldb::kSnappyCompression
                                                              : leveldb::kNoCompression;
    o.block_size = block_size;
    return o;
  }

  Model RandomModel(uint32_t seed, size_t n) const {
    Random rnd(seed);
    Model m(testing::ComparatorLess{&icmp});
    for (size_t i = 0; m.size() < n; ++i) {
      const std::string user = "user" + std::to_string(rnd.Uniform(1000000)) + RandomBytes(&rnd, rnd.Uniform(4));
      const int versions = rnd.OneIn(5) ? 2 : 1;
      for (int v = 0; v < versions; ++v) {
        m[IKey(user, 1000 + rnd.Uniform(100000), rnd.OneIn(6) ? kTypeDeletion : kTypeValue)] =
            rnd.OneIn(2) ? std::string(rnd.Uniform(200), 'q') : RandomBytes(&rnd, rnd.Uniform(200));
      }
    }
    return m;
  }

  void WriteWithLevelDb(const std::string& path, const leveldb::Options& o, const Model& m) {
    leveldb::WritableFile* raw = nullptr;
    BOOST_REQUIRE(leveldb::Env::Default()->NewWritableFile(path, &raw).ok());
    std::unique_ptr<leveldb::WritableFile> file(raw);
    leveldb::TableBuilder builder(o, file.get());
    for (const auto& [k, v] : m) builder.Add(L(k), L(v));
    BOOST_REQUIRE(builder.Finish().ok());
    BOOST_REQUIRE(file->Close().ok());
  }

  std::unique_ptr<leveldb::Table> OpenWithLevelDb(const std::string& path, const leveldb::Options& o,
                                                  std::unique_ptr<leveldb::RandomAccessFile>* file) {
    leveldb::RandomAccessFile* raw = nullptr;
    BOOST_REQUIRE(leveldb::Env::Default()->NewRandomAccessFile(path, &raw).ok());
    file->reset(raw);
    leveldb::Table* table = nullptr;
    const leveldb::Status s = leveldb::Table::Open(o, raw, *io::GetFileSize(path), &table);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return std::unique_ptr<leveldb::Table>(table);
  }

  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
};

struct SavedEntry {
  bool called = false;
  std::string key, value;
};
void SaveEntry(void* arg, const leveldb::Slice& k, const leveldb::Slice& v) {
  auto* e = static_cast<SavedEntry*>(arg);
  e->called = true;
  e->key = k.ToString();
  e->value = v.ToString();
}

BOOST_FIXTURE_TEST_SUITE(TableInteropTest, Fixture)

BOOST_AUTO_TEST_CASE(LevelDbReadsOurTablesEntryForEntryAndUsesOurFilter) {
  for (CompressionType c : {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
    BOOST_TEST_CONTEXT("compression " << int(c)) {
      const Model model = RandomModel(1 + int(c), 3000);
      const std::string path = dir.Child("ours" + std::to_string(int(c)) + ".ldb");
      Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, Ours(c, 1024), &model));
      BOOST_REQUIRE(size.ok());

      std::unique_ptr<leveldb::RandomAccessFile> file;
      std::unique_ptr<leveldb::Table> table = OpenWithLevelDb(path, Theirs(c, 1024), &file);
      leveldb::ReadOptions ro;
      ro.verify_checksums = true;
      std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
      it->SeekToFirst();
      for (const auto& [k, v] : model) {
        BOOST_REQUIRE(it->Valid());
        BOOST_REQUIRE(C(it->key()) == k);
        BOOST_REQUIRE(C(it->value()) == v);
        it->Next();
      }
      BOOST_REQUIRE(!it->Valid());
      BOOST_REQUIRE(it->status().ok());

      // LevelDB's lookup path consults our filter: no false negatives...
      const InternalGetFn internal_get = LevelDbInternalGet();
      const int checks_before = ldb_filter.checks.load();
      for (const auto& [k, v] : model) {
        SavedEntry e;
        BOOST_REQUIRE(((*table).*internal_get)(ro, L(k), &e, &SaveEntry).ok());
        BOOST_REQUIRE(e.called);
        BOOST_REQUIRE(e.key == k);
        BOOST_REQUIRE(e.value == v);
      }
      BOOST_TEST(ldb_filter.checks.load() - checks_before == int(model.size()));
      // ...and it rules out absent user keys.
      const int negatives_before = ldb_filter.negatives.load();
      for (int i = 0; i < 1000; ++i) {
        SavedEntry e;
        const std::string absent = IKey("absent" + std::to_string(i), kMaxSequenceNumber);
        BOOST_REQUIRE(((*table).*internal_get)(ro, L(absent), &e, &SaveEntry).ok());
      }
      BOOST_TEST(ldb_filter.negatives.load() - negatives_before >= 950);
    }
  }
}

BOOST_AUTO_TEST_CASE(WeReadLevelDbTablesEntryForEntryWithTheirFilter) {
  for (CompressionType c : {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
    BOOST_TEST_CONTEXT("compression " << int(c)) {
      const Model model = RandomModel(10 + int(c), 3000);
      const std::string path = dir.Child("theirs" + std::to_string(int(c)) + ".ldb");
      WriteWithLevelDb(path, Theirs(c, 2048), model);
      const uint64_t size = *io::GetFileSize(path);
      Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
      BOOST_REQUIRE(file.ok());
      Result<std::unique_ptr<Table>> table =
          test::Run(Table::Open(Ours(c, 2048), std::move(*file), size));
      BOOST_REQUIRE_MESSAGE(table.ok(), table.status().ToString());
      BOOST_REQUIRE((*table)->has_filter());

      ReadOptions ro;
      ro.verify_checksums = true;
      testing::RunVoid([](const Table* t, const Model* m, ReadOptions ro) -> boost::asio::awaitable<void> {
        std::unique_ptr<AsyncIterator> it = t->NewIterator(ro);
        co_await it->SeekToFirst();
        for (const auto& [k, v] : *m) {
          BOOST_REQUIRE(it->Valid());
          BOOST_REQUIRE(it->key() == k);
          BOOST_REQUIRE(it->value() == v);
          co_await it->Next();
        }
        BOOST_REQUIRE(!it->Valid());
        BOOST_REQUIRE(it->status().ok());
        for (const auto& [k, v] : *m) {
          Result<LookupResult> r = co_await t->Get(ro, k);
          BOOST_REQUIRE(r.ok());
          BOOST_REQUIRE(r->found);
          BOOST_REQUIRE(r->key == k);
          BOOST_REQUIRE(r->value == v);
        }
      }(table->get(), &model, ro));
      BOOST_TEST((*table)->filter_negatives() == 0u);  // no false negatives above
      for (int i = 0; i < 1000; ++i) {
        LookupKey absent("absent" + std::to_string(i), kMaxSequenceNumber);
        Result<LookupResult> r = test::Run((*table)->Get(ro, absent.internal_key()));
        BOOST_REQUIRE(r.ok());
      }
      BOOST_TEST((*table)->filter_negatives() >= 950u);
    }
  }
}

BOOST_AUTO_TEST_CASE(OurTablesAreByteIdenticalToLevelDbs) {
  for (CompressionType c : {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
    for (size_t block_size : {256u, 4096u}) {
      BOOST_TEST_CONTEXT("compression " << int(c) << " block_size " << block_size) {
        const Model model = RandomModel(20 + int(c), 2000);
        const std::string ours = dir.Child("o.ldb");
        const std::string theirs = dir.Child("t.ldb");
        BOOST_REQUIRE(test::Run(testing::WriteTable(&fs, ours, Ours(c, block_size), &model)).ok());
        WriteWithLevelDb(theirs, Theirs(c, block_size), model);
        const std::string a = ReadFile(ours);
        const std::string b = ReadFile(theirs);
        BOOST_TEST(a.size() == b.size());
        BOOST_TEST((a == b));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
