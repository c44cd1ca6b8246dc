// The concatenating (level) iterator over real tables opened through a
// TableCache: random walks against a model, lazy opening, an empty file,
// files that cannot be opened or read.
#include "table/concat_iterator.h"

#include <deque>
#include <fstream>
#include <iterator>

#include <boost/test/unit_test.hpp>

#include "io/file_names.h"
#include "iterator_test_util.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/block_cache.h"
#include "table/table_cache.h"
#include "table_test_util.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
using testing::IKey;
using testing::ModelEntry;
using testing::ModelSeq;

// The factory a level uses, with a record of what it opened.
asio::awaitable<Result<std::unique_ptr<AsyncIterator>>> OpenThroughCache(
    TableCache* cache, ReadOptions options, std::vector<uint64_t>* opened, uint64_t number,
    uint64_t size) {
  opened->push_back(number);
  co_return co_await cache->NewIterator(options, number, size);
}

// Eight tables 1..8 of keys "t<n>..." (so they are disjoint and in order),
// with tiny blocks; table 4 is empty and table 1 has a single entry.
struct Fixture {
  static constexpr uint32_t kFiles = 8;
  test::TempDir dir{"concat-iterator"};
  io::FileSystem fs{test::MakeBackendByName(test::BackendNames().front())};
  InternalKeyComparator icmp{BytewiseComparator()};
  std::unique_ptr<BlockCache> block_cache = NewBlockCache(1 << 20);
  std::vector<ConcatFile> files;
  std::deque<std::string> bounds;  // the keys files[i].smallest/largest point to
  ModelSeq model;
  std::vector<uint64_t> opened;

  TableOptions Options() const {
    TableOptions o;
    o.comparator = &icmp;
    o.internal_keys = true;
    o.block_size = 128;
    o.block_cache = block_cache.get();
    return o;
  }

  Fixture() {
    Random rnd(31);
    for (uint32_t t = 1; t <= kFiles; ++t) {
      testing::Model m(testing::ComparatorLess{&icmp});
      const size_t n = t == 4 ? 0 : t == 1 ? 1 : 1 + rnd.Uniform(300);
      const std::string prefix = "t" + std::to_string(t);
      while (m.size() < n) {
        m[IKey(prefix + testing::SmallAlphabetKey(&rnd, 6), 1 + rnd.Uniform(1000))] =
            testing::RandomBytes(&rnd, rnd.Uniform(30));
      }
      const std::string path = io::TableFileName(dir.path(), t);
      Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, Options(), &m));
      BOOST_REQUIRE(size.ok());
      bounds.push_back(m.empty() ? IKey(prefix, kMaxSequenceNumber) : m.begin()->first);
      const Slice smallest = bounds.back();
      bounds.push_back(m.empty() ? IKey(prefix + "z", 0) : m.rbegin()->first);
      files.push_back(ConcatFile{t, *size, smallest, bounds.back()});
      size_t j = 0;
      for (const auto& [k, v] : m) model.push_back({k, v, t, j++});
    }
  }

  std::unique_ptr<AsyncIterator> NewLevel(TableCache* cache, ReadOptions options = ReadOptions()) {
    return NewConcatenatingIterator(&icmp, files, [this, cache, options](const ConcatFile& f) {
      return OpenThroughCache(cache, options, &opened, f.number, f.size);
    });
  }

  // A seek target: any user key of any table's range, or outside them all.
  static std::string Target(Random* rnd) {
    const std::string prefix = "t" + std::to_string(rnd->Uniform(Fixture::kFiles + 2));
    return IKey(prefix + testing::SmallAlphabetKey(rnd, 7), rnd->Uniform(1100));
  }
};

asio::awaitable<std::vector<uint32_t>> ScanSources(AsyncIterator* it, const ModelSeq* model,
                                                   bool forward) {
  // The files of the entries seen, checked entry by entry against the model.
  std::vector<uint32_t> sources;
  auto expected = forward ? model->begin() : model->end();
  if (forward) {
    co_await it->SeekToFirst();
  } else {
    co_await it->SeekToLast();
  }
  while (it->Valid()) {
    if (!forward) --expected;
    BOOST_REQUIRE(it->key() == expected->key);
    BOOST_REQUIRE(it->value() == expected->value);
    if (sources.empty() || sources.back() != expected->source) sources.push_back(expected->source);
    if (forward) {
      ++expected;
      if (!it->TryNext()) co_await it->Next();
    } else if (!it->TryPrev()) {
      co_await it->Prev();
    }
  }
  co_return sources;
}

void SeekTo(AsyncIterator* it, std::string target) {
  test::Run([](AsyncIterator* it, std::string target) -> asio::awaitable<int> {
    co_await it->Seek(target);
    co_return 0;
  }(it, std::move(target)));
}

BOOST_FIXTURE_TEST_SUITE(ConcatIteratorTest, Fixture)

BOOST_AUTO_TEST_CASE(RandomWalksAgreeWithModel) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache);
  // The fast path moves within a file and never across a boundary.
  auto expect = [this](const testing::FastStep& s) {
    const ptrdiff_t to = s.from + (s.next ? 1 : -1);
    const bool same_file = to >= 0 && to < static_cast<ptrdiff_t>(model.size()) &&
                           model[static_cast<size_t>(to)].source ==
                               model[static_cast<size_t>(s.from)].source;
    if (!same_file) BOOST_REQUIRE(!s.moved);
  };
  const testing::WalkStats stats =
      test::Run(testing::RandomWalk(it.get(), &model, &icmp, Target, expect, 5, 30000));
  BOOST_TEST(stats.fast_moves > 1000);
  // Refusals happen at file boundaries only: block boundaries are crossed
  // without I/O when the next block is cached or mapped.
  BOOST_TEST(stats.fast_refusals > 200);
  BOOST_TEST(stats.seeks > 300);
}

BOOST_AUTO_TEST_CASE(ScansCrossEveryFileAndSkipTheEmptyOne) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache);
  const std::vector<uint32_t> forward = test::Run(ScanSources(it.get(), &model, true));
  BOOST_TEST(forward == (std::vector<uint32_t>{1, 2, 3, 5, 6, 7, 8}));
  BOOST_TEST(it->status().ok());
  const std::vector<uint32_t> backward = test::Run(ScanSources(it.get(), &model, false));
  BOOST_TEST(backward == (std::vector<uint32_t>{8, 7, 6, 5, 3, 2, 1}));
  BOOST_TEST(it->status().ok());
  // A seek into the empty file's range lands on the next file's first entry.
  SeekTo(it.get(), IKey("t4", 5));
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(it->key() == files[4].smallest);
}

BOOST_AUTO_TEST_CASE(OpensFilesOnlyWhenReached) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache);
  BOOST_TEST(opened.empty());
  SeekTo(it.get(), std::string(files[5].smallest));  // file 6
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(opened == (std::vector<uint64_t>{6}));
  SeekTo(it.get(), std::string(files[5].largest));  // same file: not opened again
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(opened == (std::vector<uint64_t>{6}));
  SeekTo(it.get(), IKey("u", 1));  // past every file: nothing to open
  BOOST_TEST(!it->Valid());
  BOOST_TEST(opened == (std::vector<uint64_t>{6}));
  opened.clear();
  test::Run(ScanSources(it.get(), &model, true));
  BOOST_TEST(opened == (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  BOOST_TEST(cache.opens() == 8u);
}

BOOST_AUTO_TEST_CASE(NoFilesIsAlwaysInvalid) {
  TableCache cache(dir.path(), Options(), &fs, 100);
  files.clear();
  model.clear();
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache);
  BOOST_TEST(test::Run(ScanSources(it.get(), &model, true)).empty());
  BOOST_TEST(test::Run(ScanSources(it.get(), &model, false)).empty());
  SeekTo(it.get(), IKey("t1", 1));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().ok());
  BOOST_TEST(opened.empty());
}

// A file that cannot be opened ends a scan there with the open's status,
// which names the file; a later seek elsewhere works again.
BOOST_AUTO_TEST_CASE(UnopenableFileStopsWithItsStatus) {
  BOOST_REQUIRE(io::RemoveFile(io::TableFileName(dir.path(), 3)).ok());
  TableCache cache(dir.path(), Options(), &fs, 100);
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache);
  BOOST_TEST(test::Run(ScanSources(it.get(), &model, true)) == (std::vector<uint32_t>{1, 2}));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(!it->status().ok());
  BOOST_TEST(it->status().ToString().find("000003.ldb") != std::string::npos, it->status().ToString());

  BOOST_TEST(test::Run(ScanSources(it.get(), &model, false)) == (std::vector<uint32_t>{8, 7, 6, 5}));
  BOOST_TEST(it->status().ToString().find("000003.ldb") != std::string::npos, it->status().ToString());

  SeekTo(it.get(), std::string(files[6].smallest));
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(it->status().ok());
  SeekTo(it.get(), std::string(files[2].smallest));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(!it->status().ok());
}

// Damage inside a file: the file iterator's Corruption (naming the file)
// ends the scan.
BOOST_AUTO_TEST_CASE(DamagedFileStopsWithItsCorruption) {
  const std::string path = io::TableFileName(dir.path(), 6);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[5] ^= 0x20;  // in the first data block
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  TableCache cache(dir.path(), Options(), &fs, 100);
  ReadOptions verify;
  verify.verify_checksums = true;
  std::unique_ptr<AsyncIterator> it = NewLevel(&cache, verify);
  const std::vector<uint32_t> seen = test::Run(ScanSources(it.get(), &model, true));
  BOOST_TEST(seen == (std::vector<uint32_t>{1, 2, 3, 5}));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
  BOOST_TEST(it->status().ToString().find("000006.ldb") != std::string::npos, it->status().ToString());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
