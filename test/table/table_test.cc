// Table builder and reader: round trips, iterators against a std::map model,
// point lookups, filters, block-cache behaviour, corruption handling.
#include "table/table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "io/fault_injection_backend.h"
#include "residency_test_util.h"
#include "table/block_cache.h"
#include "table_test_util.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
using testing::IKey;
using testing::Model;
using testing::RandomBytes;

struct Fixture {
  test::TempDir dir{"table-test"};
  io::FileSystem fs{test::MakeBackendByName(test::BackendNames().front())};
  InternalKeyComparator icmp{BytewiseComparator()};

  TableOptions Options(size_t block_size, CompressionType compression, bool filter,
                       BlockCache* cache = nullptr) const {
    TableOptions o;
    o.comparator = &icmp;
    o.internal_keys = true;
    o.block_size = block_size;
    o.compression = compression;
    if (filter) o.filter_policy = std::make_shared<InternalFilterPolicy>(NewBloomFilterPolicy(10));
    o.block_cache = cache;
    return o;
  }
  Model NewModel() const { return Model(testing::ComparatorLess{&icmp}); }

  // Reads every byte of `path` (through the page cache, so it holds them).
  static void LoadIntoPageCache(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_REQUIRE(!all.empty());
  }

  uint64_t Write(const std::string& path, const TableOptions& o, const Model& m) {
    Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, o, &m));
    BOOST_REQUIRE_MESSAGE(size.ok(), size.status().ToString());
    return *size;
  }

  Result<std::unique_ptr<Table>> Open(const std::string& path, const TableOptions& o, uint64_t size,
                                      bool direct = false) {
    Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead, direct);
    if (!file.ok()) return file.status();
    return test::Run(Table::Open(o, std::move(*file), size, direct));
  }
  // The table at `path`, its file opened through `backend` and held in the
  // page cache.
  std::unique_ptr<Table> OpenCachedThrough(std::shared_ptr<io::Backend> backend,
                                           const std::string& path, const TableOptions& o,
                                           uint64_t size) {
    io::FileSystem backend_fs(std::move(backend));
    Result<std::unique_ptr<io::File>> file = backend_fs.Open(path, io::OpenMode::kRead);
    BOOST_REQUIRE(file.ok());
    Result<std::unique_ptr<Table>> opened = test::Run(Table::Open(o, std::move(*file), size, false));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    LoadIntoPageCache(path);
    (*opened)->RefreshResidencyForTesting();
    return std::move(opened).value();
  }
  std::unique_ptr<Table> OpenOrDie(const std::string& path, const TableOptions& o, uint64_t size,
                                   bool direct = false) {
    Result<std::unique_ptr<Table>> t = Open(path, o, size, direct);
    BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    return std::move(t).value();
  }
};

// Random user keys, some with several versions, values sometimes compressible.
Model RandomInternalModel(const Fixture& f, Random* rnd, size_t n, size_t max_key, size_t max_value) {
  Model m = f.NewModel();
  while (m.size() < n) {
    const std::string user = RandomBytes(rnd, rnd->Uniform(static_cast<uint32_t>(max_key) + 1));
    const int versions = rnd->OneIn(4) ? 3 : 1;
    for (int v = 0; v < versions; ++v) {
      const size_t len = rnd->Uniform(static_cast<uint32_t>(max_value) + 1);
      std::string value = rnd->OneIn(2) ? std::string(len, static_cast<char>('a' + v)) : RandomBytes(rnd, len);
      m[IKey(user, rnd->Uniform(1000000), rnd->OneIn(5) ? kTypeDeletion : kTypeValue)] = value;
    }
  }
  return m;
}

asio::awaitable<void> CheckScans(const Table* table, const Model* model, ReadOptions ro) {
  std::unique_ptr<AsyncIterator> it = table->NewIterator(ro);
  co_await it->SeekToFirst();
  size_t i = 0;
  for (const auto& [k, v] : *model) {
    BOOST_REQUIRE_MESSAGE(it->Valid(), "entry " << i << ": " << it->status().ToString());
    BOOST_REQUIRE(it->key() == k);
    BOOST_REQUIRE(it->value() == v);
    // Alternate the fast path and the awaited step.
    if (i++ % 2 == 0 || !it->TryNext()) co_await it->Next();
  }
  BOOST_REQUIRE(!it->Valid());
  BOOST_REQUIRE(it->status().ok());
  co_await it->SeekToLast();
  for (auto r = model->rbegin(); r != model->rend(); ++r) {
    BOOST_REQUIRE(it->Valid());
    BOOST_REQUIRE(it->key() == r->first);
    if (!it->TryPrev()) co_await it->Prev();
  }
  BOOST_REQUIRE(!it->Valid());
  BOOST_REQUIRE(it->status().ok());
}

asio::awaitable<void> CheckGets(const Table* table, const Model* model, ReadOptions ro, Random rnd) {
  for (const auto& [k, v] : *model) {
    Result<LookupResult> r = co_await table->Get(ro, k);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    BOOST_REQUIRE(r->found);
    BOOST_REQUIRE(r->key == k);
    BOOST_REQUIRE(r->value == v);
  }
  // Lookups at the newest sequence find the newest version, or nothing of that user key.
  for (int i = 0; i < 100; ++i) {
    const std::string user = RandomBytes(&rnd, rnd.Uniform(8));
    LookupKey lk(user, kMaxSequenceNumber);
    Result<LookupResult> r = co_await table->Get(ro, lk.internal_key());
    BOOST_REQUIRE(r.ok());
    auto expected = model->lower_bound(std::string(lk.internal_key()));
    const bool present = expected != model->end() && ExtractUserKey(expected->first) == user;
    if (present) {
      BOOST_REQUIRE(r->found);
      BOOST_REQUIRE(r->key == expected->first);
    } else if (r->found) {
      BOOST_REQUIRE(ExtractUserKey(r->key) != Slice(user));
    }
  }
}

BOOST_FIXTURE_TEST_SUITE(TableTest, Fixture)

BOOST_AUTO_TEST_CASE(RoundTripsEveryKeySetBlockSizeAndCompression) {
  Random rnd(2024);
  struct KeySet {
    const char* name;
    size_t n, max_key, max_value;
  };
  const KeySet sets[] = {{"empty", 0, 0, 0}, {"small", 300, 8, 40}, {"long", 40, 3000, 20000}};
  auto cache = NewBlockCache(1 << 20);
  int table_no = 0;
  for (const KeySet& set : sets) {
    const Model model = RandomInternalModel(*this, &rnd, set.n, set.max_key, set.max_value);
    for (size_t block_size : {1u, 64u, 1024u, 4096u, 1u << 20}) {
      for (CompressionType c : {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
        BOOST_TEST_CONTEXT(set.name << " block_size " << block_size << " compression " << int(c)) {
          const std::string path = dir.Child(std::to_string(++table_no) + ".ldb");
          const TableOptions o = Options(block_size, c, /*filter=*/true, cache.get());
          const uint64_t size = Write(path, o, model);
          BOOST_REQUIRE(size == *io::GetFileSize(path));
          std::unique_ptr<Table> table = OpenOrDie(path, o, size);
          BOOST_TEST(table->has_filter());
          ReadOptions ro;
          ro.verify_checksums = true;
          testing::RunVoid(CheckScans(table.get(), &model, ro));
          testing::RunVoid(CheckGets(table.get(), &model, ro, Random(block_size)));
        }
      }
    }
  }
}

// The same table written and read over each I/O backend, buffered and O_DIRECT.
BOOST_DATA_TEST_CASE(RoundTripsOnEveryBackend, boost::unit_test::data::make(test::BackendNames()),
                     backend_name) {
  io::FileSystem backend_fs(test::MakeBackendByName(backend_name));
  Random rnd(9);
  const Model model = RandomInternalModel(*this, &rnd, 1000, 12, 300);
  auto cache = NewBlockCache(1 << 20);
  const TableOptions o = Options(4096, CompressionType::kSnappyCompression, true, cache.get());
  const std::string path = dir.Child(backend_name + ".ldb");
  Result<uint64_t> size = test::Run(testing::WriteTable(&backend_fs, path, o, &model));
  BOOST_REQUIRE(size.ok());
  for (bool direct : {false, true}) {
    Result<std::unique_ptr<io::File>> file = backend_fs.Open(path, io::OpenMode::kRead, direct);
    BOOST_REQUIRE(file.ok());
    Result<std::unique_ptr<Table>> table = test::Run(Table::Open(o, std::move(*file), *size, direct));
    BOOST_REQUIRE_MESSAGE(table.ok(), table.status().ToString());
    ReadOptions ro;
    ro.verify_checksums = true;
    testing::RunVoid(CheckScans(table->get(), &model, ro));
    testing::RunVoid(CheckGets(table->get(), &model, ro, Random(3)));
  }
}

BOOST_AUTO_TEST_CASE(RandomWalksAgreeWithModel) {
  Random rnd(77);
  const Model model = RandomInternalModel(*this, &rnd, 2000, 10, 30);
  const TableOptions o = Options(200, CompressionType::kSnappyCompression, false);
  const std::string path = dir.Child("walk.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  testing::RunVoid([](const Table* t, const Model* m, Random rnd) -> asio::awaitable<void> {
    std::unique_ptr<AsyncIterator> it = t->NewIterator(ReadOptions());
    for (int round = 0; round < 100; ++round) {
      const std::string target = IKey(RandomBytes(&rnd, rnd.Uniform(6)), rnd.Uniform(1000000));
      co_await it->Seek(target);
      auto expected = m->lower_bound(target);
      for (int step = 0; step < 40; ++step) {
        if (expected == m->end()) {
          BOOST_REQUIRE(!it->Valid());
          break;
        }
        BOOST_REQUIRE(it->Valid());
        BOOST_REQUIRE(it->key() == expected->first);
        BOOST_REQUIRE(it->value() == expected->second);
        if (rnd.OneIn(3)) {
          if (expected == m->begin()) {
            co_await it->Prev();
            BOOST_REQUIRE(!it->Valid());
            break;
          }
          --expected;
          co_await it->Prev();
        } else {
          ++expected;
          co_await it->Next();
        }
      }
    }
  }(table.get(), &model, Random(5)));
}

BOOST_AUTO_TEST_CASE(FilterSkipsBlocksForAbsentKeys) {
  Random rnd(11);
  Model model = NewModel();
  for (int i = 0; i < 3000; ++i) model[IKey("key" + std::to_string(i * 2), 100)] = RandomBytes(&rnd, 50);
  const TableOptions o = Options(4096, CompressionType::kNoCompression, true);
  const std::string path = dir.Child("filter.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  BOOST_REQUIRE(table->has_filter());
  int found = 0;
  for (int i = 0; i < 3000; ++i) {
    LookupKey absent("key" + std::to_string(i * 2 + 1), 200);
    Result<LookupResult> r = test::Run(table->Get(ReadOptions(), absent.internal_key()));
    BOOST_REQUIRE(r.ok());
    if (r->found && ExtractUserKey(r->key) == absent.user_key()) ++found;
  }
  BOOST_TEST(found == 0);
  BOOST_TEST(table->filter_negatives() >= 2900u);  // ~1% false positives allowed
  BOOST_TEST(table->block_reads() <= 100u);
}

BOOST_AUTO_TEST_CASE(CachedBlockAnswersWithoutIoAndFillCacheFalseDoesNotInsert) {
  Random rnd(3);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  auto cache = NewBlockCache(1 << 20);
  const TableOptions o = Options(1024, CompressionType::kNoCompression, true, cache.get());
  const std::string path = dir.Child("cached.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  const std::string& key = model.begin()->first;

  ReadOptions no_fill;
  no_fill.fill_cache = false;
  // Not in the block cache: answered from the page cache (the file was just
  // written) or deferred to an awaited read; either way nothing is inserted.
  std::optional<Result<LookupResult>> first = table->TryGet(no_fill, key);
  if (first.has_value()) {
    BOOST_REQUIRE(first->ok());
    BOOST_TEST((*first)->value == model.begin()->second);
  }
  BOOST_REQUIRE(test::Run(table->Get(no_fill, key))->found);
  BOOST_TEST(cache->TotalCharge() == 0u);

  BOOST_REQUIRE(test::Run(table->Get(ReadOptions(), key))->found);
  BOOST_TEST(cache->TotalCharge() > 0u);
  const uint64_t reads = table->block_reads();
  std::optional<Result<LookupResult>> fast = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(fast.has_value());
  BOOST_REQUIRE(fast->ok());
  BOOST_TEST((*fast)->value == model.begin()->second);
  BOOST_TEST(table->block_reads() == reads);
}

// A block in the page cache but not in the block cache is copied on the
// calling thread (RWF_NOWAIT): TryGet answers, counts a block read and fills
// the block cache; the next TryGet comes from the block cache.
BOOST_AUTO_TEST_CASE(PageCacheHitAnswersWithoutSuspendingAndFillsTheCache) {
  Random rnd(4);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  auto cache = NewBlockCache(1 << 20);
  const TableOptions o = Options(1024, CompressionType::kSnappyCompression, true, cache.get());
  const std::string path = dir.Child("pagecache.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  const std::string& key = model.rbegin()->first;
  LoadIntoPageCache(path);
  const uint64_t reads = table->block_reads();
  std::optional<Result<LookupResult>> fast = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(fast.has_value());
  BOOST_REQUIRE(fast->ok());
  BOOST_TEST((*fast)->value == model.rbegin()->second);
  BOOST_TEST(table->block_reads() == reads + 1);
  BOOST_TEST(cache->TotalCharge() > 0u);
  BOOST_REQUIRE(table->TryGet(ReadOptions(), key).has_value());
  BOOST_TEST(table->block_reads() == reads + 1);  // from the block cache now
}

// Once the block cache is full, a block read from the page cache is
// declined on its first miss (answered from a per-thread buffer, the cache
// unchanged) and kept on its second.
BOOST_AUTO_TEST_CASE(FullBlockCacheKeepsAPageCacheBlockOnItsSecondMiss) {
  Random rnd(5);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  BlockCache cache(64 << 10, 1);
  const TableOptions o = Options(1024, CompressionType::kSnappyCompression, true, &cache);
  const std::string path = dir.Child("admission.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  LoadIntoPageCache(path);
  table->RefreshResidencyForTesting();
  // Another user's block fills the cache to the byte.
  Result<Block> filler = Block::Parse(std::string("\0\0\0\0\1\0\0\0", 8));
  BOOST_REQUIRE(filler.ok());
  cache.Insert({1u << 30, 0}, std::move(*filler), 64 << 10).Reset();
  BOOST_REQUIRE(cache.TotalCharge() == cache.capacity());
  // A block never read: declined, answered all the same.
  const auto& [key, value] = *model.rbegin();
  const uint64_t declined = cache.Counts().declined;
  uint64_t reads = table->block_reads();
  std::optional<Result<LookupResult>> first = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(first.has_value());
  BOOST_REQUIRE(first->ok());
  BOOST_TEST((*first)->value == value);
  BOOST_TEST(cache.Counts().declined == declined + 1);
  BOOST_TEST(table->block_reads() == reads + 1);
  // Its second miss reads it again and keeps it ...
  std::optional<Result<LookupResult>> second = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(second.has_value());
  BOOST_REQUIRE(second->ok());
  BOOST_TEST((*second)->value == value);
  BOOST_TEST(cache.Counts().declined == declined + 1, "the second miss was declined");
  BOOST_TEST(table->block_reads() == reads + 2);
  // ... so the third lookup is a block-cache hit.
  std::optional<Result<LookupResult>> third = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(third.has_value());
  BOOST_REQUIRE(third->ok());
  BOOST_TEST((*third)->value == value);
  BOOST_TEST(table->block_reads() == reads + 2, "the block was not kept on its second miss");
}

// The same full cache, read in other ways: fill_cache = false neither
// inserts nor records a miss; a scan's blocks go through the rule too (a
// declined block is the iterator's own, and every entry is still read);
// and a damaged block that the cache declines is Corruption naming the
// file and the block's offset, stored compressed or not.
BOOST_AUTO_TEST_CASE(FullBlockCacheDeclinesForScansIgnoresNoFillAndReportsDamage) {
  Random rnd(6);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  for (const CompressionType compression :
       {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
    BOOST_TEST_CONTEXT("compression " << static_cast<int>(compression)) {
      BlockCache cache(64 << 10, 1);
      const TableOptions o = Options(1024, compression, true, &cache);
      const std::string path =
          dir.Child("admission-" + std::to_string(static_cast<int>(compression)) + ".ldb");
      const uint64_t size = Write(path, o, model);
      std::unique_ptr<Table> table = OpenOrDie(path, o, size);
      LoadIntoPageCache(path);
      table->RefreshResidencyForTesting();
      Result<Block> filler = Block::Parse(std::string("\0\0\0\0\1\0\0\0", 8));
      BOOST_REQUIRE(filler.ok());
      cache.Insert({1u << 30, 0}, std::move(*filler), 64 << 10).Reset();

      ReadOptions no_fill;
      no_fill.fill_cache = false;
      for (int round = 0; round < 2; ++round) {
        std::optional<Result<LookupResult>> got = table->TryGet(no_fill, model.rbegin()->first);
        BOOST_REQUIRE(got.has_value());
        BOOST_REQUIRE(got->ok());
        BOOST_TEST((*got)->value == model.rbegin()->second);
      }
      BOOST_TEST(cache.Counts().declined == 0u, "fill_cache=false recorded a miss");
      BOOST_TEST(cache.Size() == 1u, "fill_cache=false inserted a block");

      testing::RunVoid(CheckScans(table.get(), &model, ReadOptions()));
      BOOST_TEST(cache.Counts().declined > 10u, "a scan's blocks skipped the admission rule");

      // Damage the first data block, then look its first key up with checks.
      {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(10);
        f.put('\x7f');
      }
      std::unique_ptr<Table> damaged = OpenOrDie(path, o, size);
      damaged->RefreshResidencyForTesting();
      ReadOptions verify;
      verify.verify_checksums = true;
      const size_t entries = cache.Size();
      std::optional<Result<LookupResult>> bad = damaged->TryGet(verify, model.begin()->first);
      BOOST_REQUIRE(bad.has_value());
      BOOST_REQUIRE(!bad->ok());
      BOOST_TEST(bad->status().IsCorruption());
      BOOST_TEST(bad->status().ToString().find(path + ": block at offset 0") != std::string::npos,
                 bad->status().ToString());
      BOOST_TEST(cache.Size() == entries, "a damaged block reached the cache");
    }
  }
}

// A lookup whose block the cache does not keep (fill_cache = false, or a
// full cache declining it) decodes the block only up to its answer (a
// BlockIter over its Snappy stream): it answers every lookup exactly as a
// search of the whole block does (the same table read through a cache that
// keeps every block), for every key, for targets between and after a user key's
// versions, and past a block's last entry, in blocks of both restart
// intervals and with values long enough for two-byte lengths.
BOOST_AUTO_TEST_CASE(UncachedLookupsAnswerAsTheWholeBlockDoes) {
  Random rnd(17);
  for (const int restart_interval : {1, 16}) {
    BOOST_TEST_CONTEXT("restart interval " << restart_interval) {
      const Model model = RandomInternalModel(*this, &rnd, 400, 10, 300);
      BlockCache big(64 << 20, 1);
      TableOptions o = Options(2048, CompressionType::kSnappyCompression, true, &big);
      o.block_restart_interval = restart_interval;
      const std::string path = dir.Child("front-" + std::to_string(restart_interval) + ".ldb");
      const uint64_t size = Write(path, o, model);
      LoadIntoPageCache(path);
      std::unique_ptr<Table> whole = OpenOrDie(path, o, size);
      std::unique_ptr<Table> front = OpenOrDie(path, o, size);
      whole->RefreshResidencyForTesting();
      front->RefreshResidencyForTesting();
      ReadOptions no_fill;
      no_fill.fill_cache = false;
      std::vector<std::string> targets;
      for (const auto& [k, v] : model) {
        const Slice user = ExtractUserKey(k);
        targets.push_back(k);
        targets.push_back(IKey(user, kMaxSequenceNumber, kValueTypeForSeek));
        targets.push_back(IKey(user, 0, kTypeDeletion));  // past its versions
        targets.push_back(IKey(std::string(user) + '\0', kMaxSequenceNumber, kValueTypeForSeek));
      }
      targets.push_back(IKey(std::string(12, '\xff'), 0, kTypeDeletion));  // past the table
      int found = 0;
      for (const std::string& target : targets) {
        std::optional<Result<LookupResult>> expected = whole->TryGet(ReadOptions(), target);
        std::optional<Result<LookupResult>> got = front->TryGet(no_fill, target);
        BOOST_REQUIRE(expected.has_value() && got.has_value());
        BOOST_REQUIRE_MESSAGE(expected->ok(), expected->status().ToString());
        BOOST_REQUIRE_MESSAGE(got->ok(), got->status().ToString());
        BOOST_REQUIRE_EQUAL((*got)->found, (*expected)->found);
        BOOST_REQUIRE((*got)->key == (*expected)->key);
        BOOST_REQUIRE((*got)->value == (*expected)->value);
        found += (*got)->found ? 1 : 0;
      }
      BOOST_TEST(found > static_cast<int>(model.size()));
      BOOST_TEST(big.Size() > 0u);  // `whole` searched cached blocks
      BOOST_TEST(whole->partial_decodes() == 0u);
      BOOST_TEST(front->partial_decodes() > targets.size() / 2, "the partial decode never ran");
    }
  }
}

// Steps `it` from its first entry until it is invalid (the fast path when
// it can), counting the entries in *n.
asio::awaitable<void> CountForward(AsyncIterator* it, size_t* n) {
  co_await it->SeekToFirst();
  while (it->Valid()) {
    ++*n;
    if (!it->TryNext()) co_await it->Next();
  }
}

// Iterators read the blocks the cache does not keep (here: no block cache)
// as far as they go, in both directions and across blocks, on the fast
// path and the awaited one; a block whose Snappy stream is damaged past
// the entries already returned ends the scan with Corruption naming the
// file and the block.
BOOST_AUTO_TEST_CASE(IteratorsDecodeUncachedBlocksAsTheyGoAndReportDamage) {
  Random rnd(23);
  const Model model = RandomInternalModel(*this, &rnd, 600, 10, 300);
  const TableOptions o = Options(2048, CompressionType::kSnappyCompression, true, nullptr);
  const std::string path = dir.Child("lazy-scan.ldb");
  const uint64_t size = Write(path, o, model);
  LoadIntoPageCache(path);
  {
    std::unique_ptr<Table> table = OpenOrDie(path, o, size);
    table->RefreshResidencyForTesting();
    testing::RunVoid(CheckScans(table.get(), &model, ReadOptions()));
    BOOST_TEST(table->partial_decodes() > 10u, "the scans never decoded partially");
  }
  // The second data block's stated length, one off: its stream cannot
  // decode to it, which only the end of the stream shows.
  BlockHandle second;
  {
    std::unique_ptr<Table> table = OpenOrDie(path, o, size);
    BlockIter index(&table->index_block(), &icmp, /*internal_keys=*/true);
    index.SeekToFirst();
    index.Next();
    BOOST_REQUIRE(index.Valid());
    Result<BlockHandle> h = table->DecodeDataHandle(index.value());
    BOOST_REQUIRE(h.ok());
    second = *h;
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(second.offset()));
    const int first = f.get();
    BOOST_REQUIRE((first & 0x80) != 0);  // a block of 2 KiB states its length in two bytes
    f.seekp(static_cast<std::streamoff>(second.offset()));
    f.put(static_cast<char>((first & 0x7f) == 0x7f ? first - 1 : first + 1));
  }
  std::unique_ptr<Table> damaged = OpenOrDie(path, o, size);
  damaged->RefreshResidencyForTesting();
  std::unique_ptr<AsyncIterator> it = damaged->NewIterator(ReadOptions());
  size_t n = 0;
  testing::RunVoid(CountForward(it.get(), &n));
  BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
  BOOST_TEST(it->status().ToString().find(path + ": block at offset " +
                                          std::to_string(second.offset())) != std::string::npos,
             it->status().ToString());
  BOOST_TEST(n > 0u);
  BOOST_TEST(n < model.size());
}

// A scan that moves through neighbouring blocks reads ahead: from its second
// move into a neighbour on, blocks come from windows of the file read from
// the page cache, a few reads for many blocks, in both directions, with
// and without a block cache, and what it returns is the model.
BOOST_AUTO_TEST_CASE(ScansReadAheadInWindowsAndAgreeWithTheModel) {
  Random rnd(31);
  const Model model = RandomInternalModel(*this, &rnd, 4000, 10, 200);
  BlockCache cache(64 << 10);  // far less than the file: it declines most blocks
  for (BlockCache* c : {static_cast<BlockCache*>(nullptr), &cache}) {
    const TableOptions o = Options(1024, CompressionType::kSnappyCompression, false, c);
    const std::string path = dir.Child(c == nullptr ? "window.ldb" : "window-cache.ldb");
    const uint64_t size = Write(path, o, model);
    LoadIntoPageCache(path);
    std::unique_ptr<Table> table = OpenOrDie(path, o, size);
    table->RefreshResidencyForTesting();
    std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
    testing::RunVoid([](AsyncIterator* it) -> asio::awaitable<void> {
      co_await it->SeekToFirst();
    }(it.get()));
    uint64_t blocks = table->block_reads();
    uint64_t windows = table->window_reads();
    auto entry = model.begin();
    for (;;) {
      BOOST_REQUIRE(it->Valid());
      BOOST_REQUIRE(it->key() == entry->first);
      BOOST_REQUIRE(it->value() == entry->second);
      if (++entry == model.end()) break;
      BOOST_REQUIRE_MESSAGE(it->TryNext(), "a step needed I/O with the whole file cached");
    }
    BOOST_REQUIRE(!it->TryNext());  // the table's end: the caller's business
    blocks = table->block_reads() - blocks;
    windows = table->window_reads() - windows;
    BOOST_TEST(blocks > 100u);
    BOOST_TEST(windows >= 1u, "the forward scan never read ahead");
    BOOST_TEST(windows * 8 < blocks, windows << " windows for " << blocks << " blocks");

    blocks = table->block_reads();
    windows = table->window_reads();
    auto back = model.rbegin();
    for (;;) {
      BOOST_REQUIRE(it->Valid());
      BOOST_REQUIRE(it->key() == back->first);
      BOOST_REQUIRE(it->value() == back->second);
      if (++back == model.rend()) break;
      BOOST_REQUIRE_MESSAGE(it->TryPrev(), "a step back needed I/O with the whole file cached");
    }
    blocks = table->block_reads() - blocks;
    windows = table->window_reads() - windows;
    BOOST_TEST(blocks > 100u);
    BOOST_TEST(windows >= 1u, "the backward scan never read ahead");
    BOOST_TEST(windows * 8 < blocks, windows << " windows for " << blocks << " blocks");
    BOOST_TEST(it->status().ok());
  }
}

// A damaged block met through a read-ahead window is Corruption naming the
// file and the block, and the entries before it were returned.
BOOST_AUTO_TEST_CASE(DamageReadThroughAWindowIsCorruptionNamingTheBlock) {
  Random rnd(32);
  const Model model = RandomInternalModel(*this, &rnd, 3000, 10, 200);
  TableOptions o = Options(1024, CompressionType::kSnappyCompression, false);
  o.paranoid_checks = true;  // a flipped byte is a checksum mismatch
  const std::string path = dir.Child("window-damaged.ldb");
  const uint64_t size = Write(path, o, model);
  BlockHandle tenth;
  {
    std::unique_ptr<Table> table = OpenOrDie(path, o, size);
    BlockIter index(&table->index_block(), &icmp, /*internal_keys=*/true);
    index.SeekToFirst();
    for (int i = 0; i < 10; ++i) index.Next();
    BOOST_REQUIRE(index.Valid());
    Result<BlockHandle> h = table->DecodeDataHandle(index.value());
    BOOST_REQUIRE(h.ok());
    tenth = *h;
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(tenth.offset() + 7));
    const int byte = f.get();
    f.seekp(static_cast<std::streamoff>(tenth.offset() + 7));
    f.put(static_cast<char>(byte ^ 0x5a));
  }
  LoadIntoPageCache(path);
  std::unique_ptr<Table> table = OpenOrDie(path, o, size);
  table->RefreshResidencyForTesting();
  std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
  size_t n = 0;
  testing::RunVoid(CountForward(it.get(), &n));
  BOOST_TEST(table->window_reads() >= 1u, "the damaged block was not read through a window");
  BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
  BOOST_TEST(it->status().ToString().find(path + ": block at offset " +
                                          std::to_string(tenth.offset())) != std::string::npos,
             it->status().ToString());
  BOOST_TEST(n > 0u);
  BOOST_TEST(n < model.size());
}

// Without mmap_reads a table is still mapped, and a block the page cache
// holds is decoded from the mapping: no system call, counted as a mapped read.
BOOST_AUTO_TEST_CASE(CachedBlockIsDecodedFromTheMapping) {
  Random rnd(12);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  const TableOptions o = Options(1024, CompressionType::kSnappyCompression, false);
  const std::string path = dir.Child("mapped-default.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  BOOST_REQUIRE(table->mapped());
  LoadIntoPageCache(path);
  table->RefreshResidencyForTesting();
  for (const auto& [key, value] : model) {
    std::optional<Result<LookupResult>> got = table->TryGet(ReadOptions(), key);
    BOOST_REQUIRE(got.has_value());
    BOOST_REQUIRE(got->ok());
    BOOST_REQUIRE((*got)->value == value);
  }
  BOOST_TEST(table->block_reads() > 10u);
  BOOST_TEST(table->mapped_block_reads() == table->block_reads());
}

// ... but a block whose pages left the page cache is not read through the
// mapping (the page fault would block this thread on the disk): TryGet says
// it needs I/O, without a major fault; the awaited Get reads it, and then
// TryGet answers again.
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(test::FadviseEvictsAndMincoreSeesIt))
BOOST_AUTO_TEST_CASE(EvictedBlockNeedsAnAwaitedReadNotAPageFault) {
  Random rnd(11);
  const Model model = RandomInternalModel(*this, &rnd, 500, 8, 100);
  const TableOptions o = Options(1024, CompressionType::kSnappyCompression, false);
  const std::string path = dir.Child("evicted.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  BOOST_REQUIRE(table->mapped());
  const std::string& key = model.rbegin()->first;
  const std::string& value = model.rbegin()->second;
  // (Nothing has touched the mapping yet: the kernel does not drop pages a
  // process has mapped in.)
  const int fd = ::open(path.c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::fdatasync(fd) == 0);
  BOOST_REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  ::close(fd);

  table->RefreshResidencyForTesting();
  rusage before{}, after{};
  ::getrusage(RUSAGE_THREAD, &before);
  BOOST_TEST(!table->TryGet(ReadOptions(), key).has_value());
  ::getrusage(RUSAGE_THREAD, &after);
  BOOST_TEST(after.ru_majflt == before.ru_majflt);
  BOOST_TEST(table->mapped_block_reads() == 0u);

  Result<LookupResult> got = test::Run(table->Get(ReadOptions(), key));
  BOOST_REQUIRE(got.ok());
  BOOST_REQUIRE(got->found);
  BOOST_TEST(got->value == value);
  std::optional<Result<LookupResult>> again = table->TryGet(ReadOptions(), key);
  BOOST_REQUIRE(again.has_value());
  BOOST_REQUIRE(again->ok());
  BOOST_TEST((*again)->value == value);
  BOOST_TEST(table->mapped_block_reads() == 1u);
}

// While the backend must see every read (fault injection's FailReads), a
// cached block is not read from the mapping either: the injected error is
// what the read returns.
BOOST_AUTO_TEST_CASE(InjectedReadErrorIsSeenForACachedBlock) {
  Random rnd(13);
  const Model model = RandomInternalModel(*this, &rnd, 300, 8, 100);
  const TableOptions o = Options(1024, CompressionType::kNoCompression, false);
  const std::string path = dir.Child("fail-reads.ldb");
  const uint64_t size = Write(path, o, model);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName("threadpool"));
  const std::unique_ptr<Table> opened = OpenCachedThrough(fault, path, o, size);
  const Table& table = *opened;
  BOOST_REQUIRE(table.mapped());
  fault->FailReads(EIO, [](const std::string&, uint64_t, uint64_t) { return true; });
  const std::string& key = model.begin()->first;
  BOOST_TEST(!table.TryGet(ReadOptions(), key).has_value());
  Result<LookupResult> got = test::Run(table.Get(ReadOptions(), key));
  BOOST_REQUIRE(!got.ok());
  BOOST_TEST(got.status().IsIOError(), got.status().ToString());
  BOOST_TEST(table.mapped_block_reads() == 0u);
}

// ... and through a scan's read-ahead window: once reads fail, the bytes a
// window already holds are not served either; the scan stops with the
// injected error within the block it was in.
BOOST_AUTO_TEST_CASE(InjectedReadErrorIsSeenThroughAScanWindow) {
  Model model = NewModel();
  for (int i = 0; i < 2000; ++i) {
    char user[16];
    std::snprintf(user, sizeof(user), "key%08d", i);
    model[IKey(user, 1, kTypeValue)] = std::string(200, static_cast<char>('a' + i % 26));
  }
  // About four entries per block, sixteen blocks per full window.
  const TableOptions o = Options(1024, CompressionType::kNoCompression, false);
  const std::string path = dir.Child("fail-window.ldb");
  const uint64_t size = Write(path, o, model);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName("threadpool"));
  const std::unique_ptr<Table> opened = OpenCachedThrough(fault, path, o, size);
  const Table& table = *opened;
  std::unique_ptr<AsyncIterator> it = table.NewIterator(ReadOptions());
  testing::RunVoid([](AsyncIterator* it) -> asio::awaitable<void> {
    co_await it->SeekToFirst();
  }(it.get()));
  // Into the third block: the window has been filled (16 KiB ahead).
  for (int i = 0; i < 12; ++i) BOOST_REQUIRE(it->TryNext());
  BOOST_REQUIRE(table.window_reads() >= 1u);
  fault->FailReads(EIO, [](const std::string&, uint64_t, uint64_t) { return true; });
  size_t after = 0;
  testing::RunVoid([](AsyncIterator* it, size_t* after) -> asio::awaitable<void> {
    while (it->Valid()) {
      if (!it->TryNext()) co_await it->Next();
      if (it->Valid()) ++*after;
    }
  }(it.get(), &after));
  BOOST_TEST(it->status().IsIOError(), it->status().ToString());
  BOOST_TEST(after <= 5u, after << " entries returned after reads began to fail");
}

// At most Table::kMaxMappedTables tables of the process are mapped (here
// the limit is set to 2); a table past it reads with system calls, and
// closing a mapped table frees its slot.
BOOST_AUTO_TEST_CASE(TablesPastTheMappingLimitAreReadWithoutAMapping) {
  struct RestoreLimit {
    int old = Table::SetMappedTableLimitForTesting(2);
    ~RestoreLimit() { Table::SetMappedTableLimitForTesting(old); }
  } restore;
  Random rnd(14);
  const Model model = RandomInternalModel(*this, &rnd, 200, 8, 100);
  const TableOptions o = Options(1024, CompressionType::kSnappyCompression, false);
  std::vector<std::unique_ptr<Table>> tables;
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir.Child("limit" + std::to_string(i) + ".ldb");
    tables.push_back(OpenOrDie(path, o, Write(path, o, model)));
  }
  BOOST_TEST(tables[0]->mapped());
  BOOST_TEST(tables[1]->mapped());
  BOOST_TEST(!tables[2]->mapped());
  for (const auto& [key, value] : model) {
    Result<LookupResult> got = test::Run(tables[2]->Get(ReadOptions(), key));
    BOOST_REQUIRE(got.ok());
    BOOST_REQUIRE(got->value == value);
  }
  BOOST_TEST(tables[2]->mapped_block_reads() == 0u);
  tables[0].reset();
  const std::string path = dir.Child("limit3.ldb");
  BOOST_TEST(OpenOrDie(path, o, Write(path, o, model))->mapped());
}

BOOST_AUTO_TEST_CASE(MappedTableCrossesBlocksWithoutSuspendingAndStopsAtItsEnds) {
  Random rnd(8);
  const Model model = RandomInternalModel(*this, &rnd, 400, 8, 100);
  TableOptions o = Options(512, CompressionType::kSnappyCompression, false);
  o.mmap_reads = true;
  const std::string path = dir.Child("mapped.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  testing::RunVoid(CheckScans(table.get(), &model, ReadOptions()));

  std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
  test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
    co_await it->SeekToFirst();
    co_return 0;
  }(it.get()));
  const uint64_t reads = table->block_reads();
  size_t steps = 1;
  while (it->TryNext()) {
    BOOST_REQUIRE(it->Valid());
    ++steps;
  }
  // Every block after the first came from the mapping, without a refusal,
  // and the last entry refuses (the caller moves past the table's end).
  BOOST_TEST(steps == model.size());
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(it->key() == model.rbegin()->first);
  BOOST_TEST(table->block_reads() > reads + 10);
  size_t back = 1;
  while (it->TryPrev()) ++back;
  BOOST_TEST(back == model.size());
  BOOST_TEST(it->key() == model.begin()->first);

  // Seeks need no I/O either, and land where the model says.
  for (int i = 0; i < 300; ++i) {
    const std::string target = IKey(RandomBytes(&rnd, rnd.Uniform(9)), rnd.Uniform(1000000));
    BOOST_REQUIRE(it->TrySeek(target));
    const auto want = model.lower_bound(target);
    BOOST_REQUIRE_EQUAL(it->Valid(), want != model.end());
    if (want != model.end()) BOOST_REQUIRE(it->key() == want->first);
  }
}

BOOST_AUTO_TEST_CASE(MappedReadOfADamagedBlockIsCorruptionNamingTheFile) {
  Random rnd(9);
  const Model model = RandomInternalModel(*this, &rnd, 200, 8, 100);
  TableOptions o = Options(512, CompressionType::kNoCompression, false);
  o.mmap_reads = true;
  o.paranoid_checks = true;
  const std::string path = dir.Child("mapped-damaged.ldb");
  const uint64_t size = Write(path, o, model);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x7f');
  }
  std::unique_ptr<Table> table = OpenOrDie(path, o, size);
  std::optional<Result<LookupResult>> r = table->TryGet(ReadOptions(), model.begin()->first);
  BOOST_REQUIRE(r.has_value());
  BOOST_REQUIRE(!r->ok());
  BOOST_TEST(r->status().IsCorruption());
  BOOST_TEST(r->status().ToString().find("mapped-damaged.ldb") != std::string::npos);
}

asio::awaitable<void> GetInto(const Table* table, std::string key, int* found) {
  Result<LookupResult> r = co_await table->Get(ReadOptions(), key);
  if (r.ok() && r->found && r->key == key) ++*found;
}

BOOST_AUTO_TEST_CASE(ConcurrentMissesOnOneBlockCauseOneRead) {
  Model model = NewModel();
  for (int i = 0; i < 20; ++i) model[IKey("k" + std::to_string(i), 1)] = "v";
  auto cache = NewBlockCache(1 << 20);
  const TableOptions o = Options(4096, CompressionType::kNoCompression, false, cache.get());
  const std::string path = dir.Child("single.ldb");
  std::unique_ptr<Table> table = OpenOrDie(path, o, Write(path, o, model));
  asio::io_context ctx;
  int found = 0;
  for (int round = 0; round < 32; ++round) {
    for (const auto& [k, v] : model) {
      asio::co_spawn(ctx, GetInto(table.get(), k, &found), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
    }
  }
  ctx.run();
  BOOST_TEST(found == 32 * 20);
  BOOST_TEST(table->block_reads() == 1u);
}

BOOST_AUTO_TEST_CASE(DirectIoReadsAlignedRanges) {
  Random rnd(8);
  const Model model = RandomInternalModel(*this, &rnd, 800, 10, 200);
  const TableOptions o = Options(4096, CompressionType::kSnappyCompression, true);
  const std::string path = dir.Child("direct.ldb");
  const uint64_t size = Write(path, o, model);
  Result<std::unique_ptr<Table>> table = Open(path, o, size, /*direct=*/true);
  if (!table.ok()) {
    BOOST_TEST_MESSAGE("O_DIRECT unavailable here: " << table.status().ToString());
    return;
  }
  ReadOptions ro;
  ro.verify_checksums = true;
  testing::RunVoid(CheckScans(table->get(), &model, ro));
  testing::RunVoid(CheckGets(table->get(), &model, ro, Random(1)));
}

// Checks one damaged copy of a table: opening it, or reading it with
// checksums verified, reports Corruption naming the file, and no wrong entry
// is ever returned; reading without checksums never crashes.
asio::awaitable<void> CheckDamagedTable(const io::FileSystem* fs, std::string path, TableOptions o,
                                        uint64_t size, const Model* model, bool unverified_scan) {
  auto cache = NewBlockCache(1 << 20);  // fresh per copy: blocks are read, then reused
  o.block_cache = cache.get();
  Result<std::unique_ptr<io::File>> file = fs->Open(path, io::OpenMode::kRead);
  BOOST_REQUIRE(file.ok());
  Result<std::unique_ptr<Table>> table = co_await Table::Open(o, std::move(*file), size);
  if (!table.ok()) {
    BOOST_REQUIRE_MESSAGE(table.status().IsCorruption(), table.status().ToString());
    BOOST_REQUIRE(table.status().ToString().find("000009.ldb") != std::string::npos);
    co_return;
  }
  ReadOptions verify;
  verify.verify_checksums = true;
  // Scan: a prefix of the model, then Corruption.
  std::unique_ptr<AsyncIterator> it = (*table)->NewIterator(verify);
  co_await it->SeekToFirst();
  auto expected = model->begin();
  for (; it->Valid(); co_await it->Next(), ++expected) {
    BOOST_REQUIRE(expected != model->end());
    BOOST_REQUIRE(it->key() == expected->first);
    BOOST_REQUIRE(it->value() == expected->second);
  }
  const Status scan_status = it->status();
  BOOST_REQUIRE_MESSAGE(scan_status.IsCorruption(), "undetected damage: " << scan_status.ToString());
  BOOST_REQUIRE(scan_status.ToString().find("000009.ldb") != std::string::npos);
  // Point lookups: the right answer or Corruption.
  bool get_failed = false;
  for (const auto& [k, v] : *model) {
    Result<LookupResult> r = co_await (*table)->Get(verify, k);
    if (!r.ok()) {
      BOOST_REQUIRE(r.status().IsCorruption());
      BOOST_REQUIRE(r.status().ToString().find("000009.ldb") != std::string::npos);
      get_failed = true;
      continue;
    }
    BOOST_REQUIRE(r->found);
    BOOST_REQUIRE(r->value == v);
  }
  BOOST_REQUIRE(get_failed);
  if (unverified_scan) {
    // Without checksums anything may come back, but nothing may crash.
    cache->Prune();
    std::unique_ptr<AsyncIterator> raw = (*table)->NewIterator(ReadOptions());
    int n = 0;
    for (co_await raw->SeekToFirst(); raw->Valid() && n < 1000; co_await raw->Next()) ++n;
    for (co_await raw->SeekToLast(); raw->Valid() && n < 2000; co_await raw->Prev()) ++n;
  }
}

// Flips one bit of every byte of a small table, one byte at a time.
BOOST_AUTO_TEST_CASE(EveryFlippedByteIsReportedAsCorruption) {
  Random rnd(42);
  Model model = NewModel();
  for (int i = 0; i < 40; ++i) {
    model[IKey("user" + std::to_string(1000 + i), 7)] = i % 2 ? std::string(30, 'z') : RandomBytes(&rnd, 30);
  }
  TableOptions o = Options(256, CompressionType::kSnappyCompression, true);
  const std::string good_path = dir.Child("good.ldb");
  const uint64_t size = Write(good_path, o, model);
  std::ifstream in(good_path, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_REQUIRE(good.size() == size);

  const std::string path = dir.Child("000009.ldb");
  asio::io_context ctx;  // one context (and ring) for every copy
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 << (pos % 8)));
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bad.data(), bad.size());
    BOOST_TEST_CONTEXT("flipped byte " << pos << " of " << good.size()) {
      test::RunOn(ctx, [](const io::FileSystem* fs, std::string path, TableOptions o, uint64_t size,
                          const Model* model, bool unverified) -> asio::awaitable<int> {
        co_await CheckDamagedTable(fs, path, o, size, model, unverified);
        co_return 0;
      }(&fs, path, o, size, &model, pos % 3 == 0));
    }
  }
}

// What `corodb dump-table` reads: the metaindex entries whatever filter
// policy the table is opened with, and each block's stored compression.
BOOST_AUTO_TEST_CASE(MetaIndexAndStoredBlockTypesAreReadable) {
  Model model = NewModel();
  for (int i = 0; i < 200; ++i) model[IKey("key" + std::to_string(1000 + i), 5)] = std::string(60, 'c');
  const std::string with_filter = dir.Child("000021.ldb");
  const uint64_t size = Write(with_filter, Options(512, CompressionType::kSnappyCompression, true), model);
  // Opened without a filter policy: the metaindex still names the filter.
  std::unique_ptr<Table> t = OpenOrDie(with_filter, Options(512, CompressionType::kSnappyCompression, false), size);
  BOOST_TEST(!t->has_filter());
  Result<std::vector<Table::MetaBlock>> meta = test::Run(t->ReadMetaIndex());
  BOOST_REQUIRE_MESSAGE(meta.ok(), meta.status().ToString());
  BOOST_REQUIRE(meta->size() == 1u);
  BOOST_TEST((*meta)[0].name == "filter.leveldb.BuiltinBloomFilter2");
  BOOST_TEST((*meta)[0].handle.size() > 0u);
  BOOST_TEST((*meta)[0].handle.offset() + (*meta)[0].handle.size() + kBlockTrailerSize ==
             t->footer().metaindex_handle().offset());
  BOOST_TEST(t->file_size() == size);

  // Every data block: compressible values are stored as Snappy blocks.
  BlockIter index(&t->index_block(), t->comparator(), true);
  int blocks = 0;
  for (index.SeekToFirst(); index.Valid(); index.Next(), ++blocks) {
    Result<BlockHandle> handle = t->DecodeDataHandle(index.value());
    BOOST_REQUIRE(handle.ok());
    io::AlignedBuffer buf(io::AlignedBuffer::kAlignment);
    Result<Slice> raw = test::Run(t->ReadRaw(handle->offset(), handle->size() + kBlockTrailerSize, &buf));
    BOOST_REQUIRE(raw.ok());
    Result<unsigned char> type = StoredBlockType(*raw, *handle, true, t->file_name());
    BOOST_REQUIRE(type.ok());
    BOOST_TEST(*type == static_cast<unsigned char>(CompressionType::kSnappyCompression));
    // A flipped byte is Corruption naming the file and the block's offset.
    std::string bad(*raw);
    bad[bad.size() / 2] ^= 0x10;
    Result<unsigned char> damaged = StoredBlockType(bad, *handle, true, t->file_name());
    BOOST_REQUIRE(!damaged.ok());
    BOOST_TEST(damaged.status().IsCorruption());
    BOOST_TEST(damaged.status().ToString().find("000021.ldb: block at offset " +
                                                std::to_string(handle->offset())) != std::string::npos);
    // Unverified, the stored type byte is returned as it is.
    BOOST_TEST(StoredBlockType(bad, *handle, false, t->file_name()).ok());
  }
  BOOST_TEST(blocks > 1);

  // Without a filter or compression: no meta blocks, blocks stored raw.
  const std::string plain = dir.Child("000022.ldb");
  const uint64_t plain_size = Write(plain, Options(512, CompressionType::kNoCompression, false), model);
  std::unique_ptr<Table> p = OpenOrDie(plain, Options(512, CompressionType::kNoCompression, false), plain_size);
  meta = test::Run(p->ReadMetaIndex());
  BOOST_REQUIRE(meta.ok());
  BOOST_TEST(meta->empty());
  BlockIter first(&p->index_block(), p->comparator(), true);
  first.SeekToFirst();
  BOOST_REQUIRE(first.Valid());
  Result<BlockHandle> handle = p->DecodeDataHandle(first.value());
  BOOST_REQUIRE(handle.ok());
  io::AlignedBuffer buf(io::AlignedBuffer::kAlignment);
  Result<Slice> raw = test::Run(p->ReadRaw(handle->offset(), handle->size() + kBlockTrailerSize, &buf));
  BOOST_REQUIRE(raw.ok());
  Result<unsigned char> type = StoredBlockType(*raw, *handle, true, p->file_name());
  BOOST_REQUIRE(type.ok());
  BOOST_TEST(*type == static_cast<unsigned char>(CompressionType::kNoCompression));
}

BOOST_AUTO_TEST_CASE(ChecksumsAreVerifiedWhenAskedOrParanoid) {
  Model model = NewModel();
  model[IKey("a", 1)] = "first";
  model[IKey("b", 1)] = std::string(100, 'Q');
  TableOptions o = Options(4096, CompressionType::kNoCompression, false);
  const std::string path = dir.Child("000011.ldb");
  const uint64_t size = Write(path, o, model);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t pos = bytes.find(std::string(100, 'Q'));
  BOOST_REQUIRE(pos != std::string::npos);
  bytes[pos + 50] = 'R';  // damage inside a value: the block still parses
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());

  const std::string key = IKey("b", 1);
  ReadOptions verify;
  verify.verify_checksums = true;
  std::unique_ptr<Table> table = OpenOrDie(path, o, size);
  Result<LookupResult> r = test::Run(table->Get(ReadOptions(), key));
  BOOST_REQUIRE(r.ok());  // not verified: the damage goes unnoticed, as in LevelDB
  BOOST_TEST(r->value != model[key]);
  r = test::Run(table->Get(verify, key));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().IsCorruption());
  BOOST_TEST(r.status().ToString().find("000011.ldb") != std::string::npos);
  BOOST_TEST(r.status().ToString().find("checksum mismatch") != std::string::npos);

  o.paranoid_checks = true;  // verifies every read whatever ReadOptions say
  std::unique_ptr<Table> paranoid = OpenOrDie(path, o, size);
  r = test::Run(paranoid->Get(ReadOptions(), key));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().IsCorruption());
}

BOOST_AUTO_TEST_CASE(TruncatedTablesAreCorrupt) {
  Model model = NewModel();
  for (int i = 0; i < 50; ++i) model[IKey("k" + std::to_string(i), 1)] = "value";
  const TableOptions o = Options(128, CompressionType::kNoCompression, true);
  const std::string path = dir.Child("000010.ldb");
  const uint64_t size = Write(path, o, model);
  for (uint64_t cut : {uint64_t{0}, uint64_t{10}, uint64_t{47}, size / 2, size - 1}) {
    BOOST_REQUIRE(fs.Open(path, io::OpenMode::kReadWrite).value()->Truncate(cut).ok());
    Result<std::unique_ptr<Table>> t = Open(path, o, cut);
    BOOST_REQUIRE(!t.ok());
    BOOST_TEST(t.status().IsCorruption());
  }
}

// Orders keys bytewise and never shortens them: tables built with it hold
// exactly the keys given, short ones included, with good checksums.
class KeepKeysComparator final : public Comparator {
 public:
  const char* Name() const override { return "test.KeepKeys"; }
  int Compare(Slice a, Slice b) const override { return BytewiseComparator()->Compare(a, b); }
  void FindShortestSeparator(std::string*, Slice) const override {}
  void FindShortSuccessor(std::string*) const override {}
};

// Writes `entries` (in bytewise order) with `restart_interval`, in 64-byte
// blocks: a long value ends a block.
uint64_t WriteRawTable(const io::FileSystem& fs, const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& entries,
                       int restart_interval) {
  static const KeepKeysComparator keep;
  TableOptions o;
  o.comparator = &keep;
  o.block_size = 64;
  o.block_restart_interval = restart_interval;
  o.compression = CompressionType::kNoCompression;
  Model model(testing::ComparatorLess{&keep});
  for (const auto& [k, v] : entries) model[k] = v;
  Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, o, &model));
  BOOST_REQUIRE_MESSAGE(size.ok(), size.status().ToString());
  return *size;
}

// An internal key shorter than 8 bytes inside a data block (checksums are
// good, and not verified anyway): every read through the table gives
// Corruption naming the file; nothing is read out of bounds (ASan).
BOOST_AUTO_TEST_CASE(ShortInternalKeyInADataBlockIsCorruption) {
  const TableOptions o = Options(64, CompressionType::kNoCompression, false);
  // Block 0: a (long value). Block 1: b, "c" (3 bytes short of a tag), d.
  const std::vector<std::pair<std::string, std::string>> entries = {
      {IKey("a", 1), std::string(100, 'A')}, {IKey("b", 1), "vb"}, {"c", "vc"}, {IKey("d", 1), "vd"}};
  // Interval 1: "c" is a restart point met by the binary search of Seek;
  // interval 16: it is met by the linear scan after the restart point.
  for (int restart_interval : {1, 16}) {
    BOOST_TEST_CONTEXT("restart interval " << restart_interval) {
      const std::string path = dir.Child("00001" + std::to_string(restart_interval % 10) + ".ldb");
      const uint64_t size = WriteRawTable(fs, path, entries, restart_interval);
      std::unique_ptr<Table> table = OpenOrDie(path, o, size);
      for (const std::string& target : {IKey("b", 1), IKey("c", 1), IKey("d", 1)}) {
        Result<LookupResult> r = test::Run(table->Get(ReadOptions(), target));
        if (restart_interval == 16 && target == IKey("b", 1)) {
          // Found before the damaged entry is reached.
          BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
          BOOST_TEST(r->value == "vb");
          continue;
        }
        BOOST_REQUIRE_MESSAGE(!r.ok(), "no error looking up " << ParsedInternalKey(ExtractUserKey(target), 1, kTypeValue).DebugString());
        BOOST_TEST(r.status().IsCorruption(), r.status().ToString());
        BOOST_TEST(r.status().ToString().find(path) != std::string::npos, r.status().ToString());
      }
      // Scan: a, b, then Corruption.
      std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
      std::vector<std::string> keys;
      testing::RunVoid([](AsyncIterator* it, std::vector<std::string>* keys) -> asio::awaitable<void> {
        for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) keys->emplace_back(it->key());
      }(it.get(), &keys));
      BOOST_TEST(keys == (std::vector<std::string>{IKey("a", 1), IKey("b", 1)}));
      BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
      BOOST_TEST(it->status().ToString().find(path) != std::string::npos, it->status().ToString());
      // Seek straight at it.
      testing::RunVoid([](AsyncIterator* it) -> asio::awaitable<void> {
        co_await it->Seek(IKey("c", 1));
      }(it.get()));
      BOOST_TEST(!it->Valid());
      BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
    }
  }
}

// The same in the index block: the last block's index key is its last key,
// here 1 byte long.
BOOST_AUTO_TEST_CASE(ShortInternalKeyInTheIndexBlockIsCorruption) {
  const TableOptions o = Options(64, CompressionType::kNoCompression, false);
  const std::string path = dir.Child("000013.ldb");
  const uint64_t size =
      WriteRawTable(fs, path, {{IKey("a", 1), std::string(100, 'A')}, {"z", "vz"}}, 16);
  std::unique_ptr<Table> table = OpenOrDie(path, o, size);
  Result<LookupResult> r = test::Run(table->Get(ReadOptions(), IKey("m", 1)));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().IsCorruption(), r.status().ToString());
  BOOST_TEST(r.status().ToString().find(path) != std::string::npos, r.status().ToString());
  std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
  testing::RunVoid([](AsyncIterator* it) -> asio::awaitable<void> {
    co_await it->Seek(IKey("m", 1));
  }(it.get()));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
}

// The range a block read covers: exact without O_DIRECT, rounded out to the
// file's direct-I/O alignment with it.
BOOST_AUTO_TEST_CASE(RangeToReadRoundsOutToTheAlignment) {
  const FileRange exact = RangeToRead(1000, 100, 1);
  BOOST_TEST(exact.offset == 1000u);
  BOOST_TEST(exact.length == 100u);
  BOOST_TEST(exact.skip == 0u);
  const FileRange sector = RangeToRead(1000, 100, 512);
  BOOST_TEST(sector.offset == 512u);
  BOOST_TEST(sector.length == 1024u);  // [512, 1536) covers [1000, 1100)
  BOOST_TEST(sector.skip == 488u);
  const FileRange page = RangeToRead(5000, 3000, 4096);
  BOOST_TEST(page.offset == 4096u);
  BOOST_TEST(page.length == 4096u);  // [4096, 8192) covers [5000, 8000)
  BOOST_TEST(page.skip == 904u);
  const FileRange aligned = RangeToRead(8192, 4096, 4096);
  BOOST_TEST(aligned.offset == 8192u);
  BOOST_TEST(aligned.length == 4096u);
}

// Where O_DIRECT needs less than a page ($TMPDIR's filesystem says so
// through statx), table block reads are rounded to that, not to 4096.
boost::test_tools::assertion_result SubPageDirectAlignment(boost::unit_test::test_unit_id) {
  test::TempDir dir;
  io::FileSystem fs(test::MakeBackendByName("threadpool"));
  const std::string path = dir.Child("probe");
  { (void)fs.Open(path, io::OpenMode::kCreate); }
  Result<std::unique_ptr<io::File>> f = fs.Open(path, io::OpenMode::kRead, /*direct=*/true);
  boost::test_tools::assertion_result ok(f.ok() && (*f)->direct_alignment() < io::AlignedBuffer::kAlignment);
  if (!ok) {
    ok.message() << "O_DIRECT on " << dir.path() << " needs 4096-byte alignment or is refused: "
                 << (f.ok() ? std::to_string((*f)->direct_alignment()) : f.status().ToString());
  }
  return ok;
}

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(SubPageDirectAlignment))
BOOST_DATA_TEST_CASE(BlockReadsOfADirectTableUseTheFilesAlignment,
                     boost::unit_test::data::make(test::BackendNames()), backend_name) {
  io::FileSystem backend_fs(test::MakeBackendByName(backend_name));
  Random rnd(5);
  const Model model = RandomInternalModel(*this, &rnd, 500, 12, 300);
  const TableOptions o = Options(4096, CompressionType::kSnappyCompression, true);
  const std::string path = dir.Child("aligned.ldb");
  Result<uint64_t> size = test::Run(testing::WriteTable(&backend_fs, path, o, &model));
  BOOST_REQUIRE(size.ok());
  Result<std::unique_ptr<io::File>> file = backend_fs.Open(path, io::OpenMode::kRead, /*direct=*/true);
  BOOST_REQUIRE(file.ok());
  const size_t align = (*file)->direct_alignment();
  Result<std::unique_ptr<Table>> table = test::Run(Table::Open(o, std::move(*file), *size, /*direct=*/true));
  BOOST_REQUIRE_MESSAGE(table.ok(), table.status().ToString());
  BlockIter index(&(*table)->index_block(), (*table)->comparator(), (*table)->internal_keys());
  int blocks = 0, shorter_than_pages = 0;
  io::AlignedBuffer buf;
  for (index.SeekToFirst(); index.Valid(); index.Next()) {
    Result<BlockHandle> h = (*table)->DecodeDataHandle(index.value());
    BOOST_REQUIRE(h.ok());
    size_t skip = 0;
    Result<io::BatchRead> read = (*table)->BlockRead(*h, &buf, &skip);
    BOOST_REQUIRE(read.ok());
    const size_t n = static_cast<size_t>(h->size()) + kBlockTrailerSize;
    BOOST_TEST(read->offset % align == 0u);
    BOOST_TEST(read->buf.size() % align == 0u);
    BOOST_TEST(read->offset + skip == h->offset());
    BOOST_TEST(read->buf.size() == RangeToRead(h->offset(), n, align).length);
    shorter_than_pages += read->buf.size() < RangeToRead(h->offset(), n, 4096).length;
    ++blocks;
  }
  BOOST_TEST(blocks > 10);
  BOOST_TEST(shorter_than_pages > 0);
  // And the blocks read that way decode: every key is found.
  testing::RunVoid(CheckGets(table->get(), &model, ReadOptions(), Random(3)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
