// The table cache: opens shared, LRU bound on open files, eviction.
#include "table/table_cache.h"

#include <dirent.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "io/file_names.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/block_cache.h"
#include "table_test_util.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
using testing::IKey;
using testing::Model;

// Descriptors of this process that point into `dir`: the truth about open files.
int OpenFilesUnder(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  BOOST_REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    char target[4096];
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t len = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (len <= 0) continue;
    if (std::string(target, static_cast<size_t>(len)).rfind(dir + "/", 0) == 0) ++n;
  }
  ::closedir(d);
  return n;
}

struct Fixture {
  static constexpr int kTables = 12;
  test::TempDir dir{"table-cache"};
  io::FileSystem fs{test::MakeBackendByName(test::BackendNames().front())};
  InternalKeyComparator icmp{BytewiseComparator()};
  std::unique_ptr<BlockCache> block_cache = NewBlockCache(1 << 20);
  std::vector<uint64_t> sizes;

  TableOptions Options() const {
    TableOptions o;
    o.comparator = &icmp;
    o.internal_keys = true;
    o.filter_policy = std::make_shared<InternalFilterPolicy>(NewBloomFilterPolicy(10));
    o.block_cache = block_cache.get();
    return o;
  }

  Fixture() {
    for (int t = 1; t <= kTables; ++t) {
      Model m(testing::ComparatorLess{&icmp});
      for (int i = 0; i < 100; ++i) m[IKey("t" + std::to_string(t) + "k" + std::to_string(i), 5)] = "v" + std::to_string(t);
      // Table 7 is stored under the .sst name LevelDB also accepts.
      const std::string path = t == 7 ? io::SSTTableFileName(dir.path(), t) : io::TableFileName(dir.path(), t);
      Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, Options(), &m));
      BOOST_REQUIRE(size.ok());
      sizes.push_back(*size);
    }
  }
  std::string Key(int t, int i) const { return IKey("t" + std::to_string(t) + "k" + std::to_string(i), 5); }
};

asio::awaitable<void> LookupAll(TableCache* cache, const Fixture* f, int table, int* found) {
  for (int i = 0; i < 100; i += 10) {
    const std::string key = f->Key(table, i);
    Result<LookupResult> r = co_await cache->Get(ReadOptions(), table, f->sizes[table - 1], key);
    if (r.ok() && r->found && r->key == key && r->value == "v" + std::to_string(table)) ++*found;
  }
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

BOOST_FIXTURE_TEST_SUITE(TableCacheTest, Fixture)

BOOST_AUTO_TEST_CASE(NeverKeepsMoreThanMaxOpenFiles) {
  TableCache cache(dir.path(), Options(), &fs, /*max_open_files=*/4);
  Random rnd(1);
  int found = 0;
  for (int round = 0; round < 200; ++round) {
    const int t = 1 + static_cast<int>(rnd.Uniform(kTables));
    testing::RunVoid(LookupAll(&cache, this, t, &found));
    BOOST_REQUIRE(cache.open_tables() <= 4u);
    BOOST_REQUIRE(OpenFilesUnder(dir.path()) <= 4);
  }
  BOOST_TEST(found == 200 * 10);
  BOOST_TEST(cache.opens() > 4u);  // it did evict and reopen
}

BOOST_AUTO_TEST_CASE(ConcurrentOpensOfOneTableAreShared) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  asio::io_context ctx;
  int found = 0;
  for (int i = 0; i < 16; ++i) asio::co_spawn(ctx, LookupAll(&cache, this, 3, &found), Rethrow);
  ctx.run();
  BOOST_TEST(found == 160);
  BOOST_TEST(cache.opens() == 1u);
}

BOOST_AUTO_TEST_CASE(FastPathNeedsAnOpenTable) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  const std::string key = Key(2, 0);
  BOOST_TEST(!cache.TryGet(ReadOptions(), 2, key).has_value());
  BOOST_REQUIRE(test::Run(cache.Get(ReadOptions(), 2, sizes[1], key))->found);
  std::optional<Result<LookupResult>> fast = cache.TryGet(ReadOptions(), 2, key);
  BOOST_REQUIRE(fast.has_value());
  BOOST_TEST((*fast)->found);
  // A filter negative answers without I/O too.
  fast = cache.TryGet(ReadOptions(), 2, IKey("nope", 5));
  BOOST_REQUIRE(fast.has_value());
}

BOOST_AUTO_TEST_CASE(EvictClosesTheFileUnlessAnIteratorPinsIt) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  int found = 0;
  testing::RunVoid(LookupAll(&cache, this, 5, &found));
  testing::RunVoid(LookupAll(&cache, this, 7, &found));  // the .sst one
  BOOST_TEST(found == 20);
  BOOST_TEST(OpenFilesUnder(dir.path()) == 2);
  cache.Evict(5);
  BOOST_TEST(OpenFilesUnder(dir.path()) == 1);
  BOOST_TEST(cache.open_tables() == 1u);

  Result<std::unique_ptr<AsyncIterator>> it = test::Run(cache.NewIterator(ReadOptions(), 7, sizes[6]));
  BOOST_REQUIRE(it.ok());
  cache.Evict(7);
  BOOST_TEST(OpenFilesUnder(dir.path()) == 1);  // pinned by the iterator
  const int n = test::Run([](AsyncIterator* i) -> asio::awaitable<int> {
    int count = 0;
    for (co_await i->SeekToFirst(); i->Valid(); co_await i->Next()) ++count;
    co_return count;
  }(it->get()));
  BOOST_TEST(n == 100);
  it->reset();
  BOOST_TEST(OpenFilesUnder(dir.path()) == 0);
}

BOOST_AUTO_TEST_CASE(MissingTableIsAnErrorAndNotCached) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  Result<TableCache::Handle> h = test::Run(cache.FindTable(99, 1000));
  BOOST_TEST(!h.ok());
  BOOST_TEST(cache.open_tables() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
