// BlockBatch: blocks of a table added once per offset, read together (one
// io_uring submission), decoded, cached as ReadOptions ask; a damaged block
// is that block's Corruption only.
#include "table/block_batch.h"

#include <fstream>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "io/uring_backend.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/block_cache.h"
#include "table_test_util.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using testing::IKey;
using testing::Model;

// A table of 200 keys, several to a 1 KiB block, on `backend`.
struct BatchFixture {
  explicit BatchFixture(const std::string& backend) : fs(test::MakeBackendByName(backend)) {
    options.comparator = &icmp;
    options.internal_keys = true;
    options.block_size = 1024;
    options.compression = CompressionType::kNoCompression;
    options.block_cache = cache.get();
    for (int i = 0; i < 200; ++i) {
      model[IKey("key" + std::to_string(1000 + i), 1)] =
          std::string(100, static_cast<char>('a' + i % 26));
    }
    const Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, options, &model));
    BOOST_REQUIRE_MESSAGE(size.ok(), size.status().ToString());
    file_size = *size;
  }

  std::unique_ptr<Table> Open() {
    Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
    BOOST_REQUIRE(file.ok());
    Result<std::unique_ptr<Table>> t = test::Run(Table::Open(options, std::move(*file), file_size));
    BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    return std::move(t).value();
  }

  // The data block the index points to for `key` (as a lookup finds it).
  static BlockHandle HandleFor(const Table& table, Slice key) {
    BlockIter index(&table.index_block(), table.comparator(), table.internal_keys());
    index.Seek(key);
    BOOST_REQUIRE(index.Valid());
    Result<BlockHandle> h = table.DecodeDataHandle(index.value());
    BOOST_REQUIRE(h.ok());
    return *h;
  }

  test::TempDir dir{"block-batch"};
  const std::string path = dir.Child("000009.ldb");
  io::FileSystem fs;
  InternalKeyComparator icmp{BytewiseComparator()};
  std::unique_ptr<BlockCache> cache = NewBlockCache(1 << 20);
  TableOptions options;
  Model model{testing::ComparatorLess{&icmp}};
  uint64_t file_size = 0;
};

asio::awaitable<bool> ReadAll(BlockBatch* batch) {
  co_await batch->ReadAll();
  co_return true;
}

BOOST_AUTO_TEST_SUITE(BlockBatchTest)

// Keys spread over three blocks, two of them asked twice: three reads, in
// one submission on io_uring; each key is found in its block; fill_cache
// decides whether the blocks go to the cache.
BOOST_DATA_TEST_CASE(AddsEachBlockOnceAndReadsThemTogether, bdata::make(test::BackendNames()),
                     backend) {
  BatchFixture f(backend);
  std::unique_ptr<Table> table = f.Open();
  std::vector<std::string> keys;
  for (const auto& [k, v] : f.model) keys.push_back(k);
  const std::vector<std::string> asked = {keys[0], keys[100], keys[1], keys[199], keys[100]};
  std::set<uint64_t> offsets;
  for (const std::string& k : asked) offsets.insert(BatchFixture::HandleFor(*table, k).offset());
  BOOST_REQUIRE_EQUAL(offsets.size(), 3u);  // keys[0] and keys[1] share a block

  for (const bool fill : {false, true}) {
    BOOST_TEST_CONTEXT("fill_cache " << fill) {
      ReadOptions ro;
      ro.fill_cache = fill;
      BlockBatch batch(ro);
      std::vector<size_t> index;
      for (const std::string& k : asked) {
        index.push_back(batch.Add(table.get(), BatchFixture::HandleFor(*table, k)));
      }
      BOOST_TEST(batch.size() == 3u);
      BOOST_TEST(index[0] == index[2]);
      BOOST_TEST(index[1] == index[4]);
      const uint64_t reads = table->block_reads();
      asio::io_context ctx;
      test::RunOn(ctx, ReadAll(&batch));
      BOOST_TEST(batch.reads() == 3u);
      BOOST_TEST(table->block_reads() == reads + 3);
      if (backend == "uring") {
        BOOST_TEST(io::RingStatsOf(ctx).submits == 1u);
        BOOST_TEST(io::RingStatsOf(ctx).started == 3u);
      }
      for (size_t i = 0; i < asked.size(); ++i) {
        const Result<BlockRef>& block = batch.block(index[i]);
        BOOST_REQUIRE_MESSAGE(block.ok(), block.status().ToString());
        Result<LookupResult> r =
            table->SearchBlock(*block->get(), BatchFixture::HandleFor(*table, asked[i]), asked[i]);
        BOOST_REQUIRE(r.ok());
        BOOST_TEST(r->found);
        BOOST_TEST(r->key == asked[i]);
        BOOST_TEST(r->value == f.model.at(asked[i]));
      }
      BOOST_TEST((f.cache->TotalCharge() > 0) == fill);
    }
  }
}

// One flipped byte in the first block: with checksums verified that block
// is Corruption naming the file and its offset; the other block reads.
BOOST_DATA_TEST_CASE(DamagedBlockIsThatBlocksCorruption, bdata::make(test::BackendNames()),
                     backend) {
  BatchFixture f(backend);
  {
    std::fstream file(f.path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.put('\x7f');
  }
  std::unique_ptr<Table> table = f.Open();
  const std::string first = f.model.begin()->first;
  const std::string last = f.model.rbegin()->first;
  ReadOptions ro;
  ro.verify_checksums = true;
  BlockBatch batch(ro);
  const size_t damaged = batch.Add(table.get(), BatchFixture::HandleFor(*table, first));
  const size_t intact = batch.Add(table.get(), BatchFixture::HandleFor(*table, last));
  test::Run(ReadAll(&batch));
  BOOST_TEST(batch.block(damaged).status().IsCorruption(),
             batch.block(damaged).status().ToString());
  BOOST_TEST(batch.block(damaged).status().ToString().find("000009.ldb: block at offset 0") !=
                 std::string::npos,
             batch.block(damaged).status().ToString());
  BOOST_TEST(batch.block(intact).ok(), batch.block(intact).status().ToString());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
