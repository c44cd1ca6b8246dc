// The sequential (compaction input) iterator: the same entries as the table
// iterator, in few large reads counted at the backend, never through the
// block cache, every checksum verified.
#include "table/sequential_iterator.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

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

// Counts the reads that reach the backend (after File's short-read loop).
class CountingBackend final : public io::Backend {
 public:
  explicit CountingBackend(std::shared_ptr<io::Backend> inner) : inner_(std::move(inner)) {}

  std::string_view Name() const override { return inner_->Name(); }
  void Start(const asio::any_io_executor& ex, const io::IoRequest& req,
             io::IoHandler handler) override {
    if (req.opcode == io::IoOpcode::kRead) {
      reads.fetch_add(1);
      uint64_t largest = largest_read.load();
      while (req.len > largest && !largest_read.compare_exchange_weak(largest, req.len)) {
      }
    }
    inner_->Start(ex, req, std::move(handler));
  }
  io::IoCompletion RunInline(const io::IoRequest& req) override { return inner_->RunInline(req); }
  void OnOpen(int fd, const std::string& path) override { inner_->OnOpen(fd, path); }
  void OnClose(int fd) override { inner_->OnClose(fd); }

  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> largest_read{0};

 private:
  std::shared_ptr<io::Backend> inner_;
};

struct Fixture {
  test::TempDir dir{"sequential-iterator"};
  InternalKeyComparator icmp{BytewiseComparator()};
  std::unique_ptr<BlockCache> cache = NewBlockCache(64 << 20);

  TableOptions Options(size_t block_size, CompressionType compression) const {
    TableOptions o;
    o.comparator = &icmp;
    o.internal_keys = true;
    o.block_size = block_size;
    o.compression = compression;
    o.block_cache = cache.get();
    return o;
  }
  Model NewModel() const { return Model(testing::ComparatorLess{&icmp}); }
};

// About `bytes` of entries; values alternate compressible and random.
Model BigModel(const Fixture& f, size_t bytes, uint32_t seed) {
  Random rnd(seed);
  Model m = f.NewModel();
  size_t total = 0;
  for (int i = 0; total < bytes; ++i) {
    const size_t len = 50 + rnd.Uniform(400);
    std::string value = i % 2 ? std::string(len, static_cast<char>('a' + i % 26))
                              : testing::RandomBytes(&rnd, len);
    std::string key = IKey("key" + std::to_string(100000000 + i * 7), 1 + rnd.Uniform(1000));
    total += key.size() + value.size();
    m.emplace(std::move(key), std::move(value));
  }
  return m;
}

struct Opened {
  std::shared_ptr<CountingBackend> backend;
  std::unique_ptr<Table> table;
  uint64_t size = 0;
};

// Writes `model` at `path` and opens it over a counting `backend_name`.
Result<Opened> WriteAndOpen(const std::string& backend_name, const std::string& path,
                            const TableOptions& o, const Model& model, bool direct = false) {
  Opened out;
  out.backend = std::make_shared<CountingBackend>(test::MakeBackendByName(backend_name));
  io::FileSystem fs(out.backend);
  Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, o, &model));
  if (!size.ok()) return size.status();
  out.size = *size;
  Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead, direct);
  if (!file.ok()) return file.status();
  Result<std::unique_ptr<Table>> table = test::Run(Table::Open(o, std::move(*file), *size, direct));
  if (!table.ok()) return table.status();
  out.table = std::move(*table);
  return out;
}

size_t DataBlocks(const Table& table) {
  BlockIter index(&table.index_block(), table.comparator(), table.internal_keys());
  size_t n = 0;
  for (index.SeekToFirst(); index.Valid(); index.Next()) ++n;
  return n;
}

struct ScanResult {
  size_t entries = 0;
  size_t fast_refusals = 0;  // TryNext returned false
  Status status;
};

// Scans `it` (TryNext first), requiring the entries of `model` in order.
asio::awaitable<ScanResult> ScanAgainst(AsyncIterator* it, const Model* model) {
  ScanResult r;
  auto expected = model->begin();
  for (co_await it->SeekToFirst(); it->Valid(); ++expected) {
    BOOST_REQUIRE(expected != model->end());
    BOOST_REQUIRE(it->key() == expected->first);
    BOOST_REQUIRE(it->value() == expected->second);
    ++r.entries;
    if (!it->TryNext()) {
      ++r.fast_refusals;
      co_await it->Next();
    }
  }
  r.status = it->status();
  co_return r;
}

BOOST_FIXTURE_TEST_SUITE(SequentialIteratorTest, Fixture)

// A multi-MiB table, tiny and normal blocks, Snappy on and off, readahead
// from one block to 1 MiB, on every backend: the entries are the table
// iterator's; the reads are as few as the readahead allows (each but the
// last covers more than readahead minus one block) and the fast path fails
// only where a read is needed; the block cache and the block-read path are
// never used.
BOOST_DATA_TEST_CASE_F(Fixture, ScansLikeTheTableIteratorInFewLargeReads,
                       boost::unit_test::data::make(test::BackendNames()), backend_name) {
  const Model model = BigModel(*this, 3 << 20, 17);
  int n = 0;
  for (size_t block_size : {256u, 4096u}) {
    for (CompressionType c : {CompressionType::kNoCompression, CompressionType::kSnappyCompression}) {
      const std::string path = dir.Child(std::to_string(++n) + ".ldb");
      Result<Opened> t = WriteAndOpen(backend_name, path, Options(block_size, c), model);
      BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
      // The table iterator agrees with the model (the reference).
      std::unique_ptr<AsyncIterator> reference = t->table->NewIterator(ReadOptions());
      BOOST_REQUIRE(test::Run(ScanAgainst(reference.get(), &model)).status.ok());
      cache->Prune();
      const uint64_t block_reads = t->table->block_reads();

      for (size_t readahead : {kDefaultSequentialReadahead, size_t{64} << 10, size_t{0}}) {
        BOOST_TEST_CONTEXT("block size " << block_size << " compression " << int(c)
                                         << " readahead " << readahead) {
          const uint64_t reads_before = t->backend->reads.load();
          const uint64_t table_reads_before = t->table->sequential_reads();
          std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator(readahead);
          const ScanResult r = test::Run(ScanAgainst(it.get(), &model));
          BOOST_REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
          BOOST_TEST(r.entries == model.size());
          const uint64_t reads = t->table->sequential_reads() - table_reads_before;
          BOOST_TEST(t->backend->reads.load() - reads_before == reads);
          // Each window ends in one refused TryNext: the next one needs a read.
          BOOST_TEST(r.fast_refusals == reads);
          const uint64_t max_block = block_size + 1024;  // a block ends past block_size by < 1 entry
          if (readahead > max_block) {
            BOOST_TEST(reads <= t->size / (readahead - max_block) + 1);
          } else {
            BOOST_TEST(reads == DataBlocks(*t->table));  // one read per block
          }
          if (readahead == kDefaultSequentialReadahead) BOOST_TEST(reads <= 4u);
          BOOST_TEST(t->table->block_reads() == block_reads);
          BOOST_TEST(cache->TotalCharge() == 0u);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(DirectIoScansTheSame) {
  const Model model = BigModel(*this, 1 << 20, 5);
  const std::string path = dir.Child("direct.ldb");
  Result<Opened> t = WriteAndOpen(test::BackendNames().back(), path,
                                  Options(4096, CompressionType::kSnappyCompression), model,
                                  /*direct=*/true);
  if (!t.ok()) {
    BOOST_TEST_MESSAGE("O_DIRECT unavailable here: " << t.status().ToString());
    return;
  }
  for (size_t readahead : {size_t{100} << 10, size_t{5000}}) {
    std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator(readahead);
    const ScanResult r = test::Run(ScanAgainst(it.get(), &model));
    BOOST_TEST(r.status.ok(), r.status.ToString());
    BOOST_TEST(r.entries == model.size());
  }
}

// A block larger than the readahead is read whole, in one read.
BOOST_AUTO_TEST_CASE(ABlockLargerThanTheReadaheadIsReadWhole) {
  Random rnd(3);
  Model model = NewModel();
  for (int i = 0; i < 100; ++i) model[IKey("a" + std::to_string(1000 + i), 1)] = testing::RandomBytes(&rnd, 100);
  model[IKey("b", 1)] = testing::RandomBytes(&rnd, 3 << 20);  // one 3 MiB block
  for (int i = 0; i < 100; ++i) model[IKey("c" + std::to_string(1000 + i), 1)] = testing::RandomBytes(&rnd, 100);
  Result<Opened> t = WriteAndOpen(test::BackendNames().back(), dir.Child("big.ldb"),
                                  Options(4096, CompressionType::kSnappyCompression), model);
  BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  t->backend->largest_read = 0;
  std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator(1 << 20);
  const ScanResult r = test::Run(ScanAgainst(it.get(), &model));
  BOOST_REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
  BOOST_TEST(r.entries == model.size());
  BOOST_TEST(t->backend->largest_read.load() >= (3u << 20));
  BOOST_TEST(t->table->sequential_reads() == 3u);  // before it, it, after it
}

// A flipped byte inside a value: the block still parses, so only the
// checksum can tell. The table iterator without verification returns the
// damaged value; the sequential iterator always verifies and stops with
// Corruption naming the file and the block.
BOOST_AUTO_TEST_CASE(FlippedByteInADataBlockIsCorruptionNamingTheFile) {
  Random rnd(8);
  Model model = NewModel();
  for (int i = 0; i < 2000; ++i) model[IKey("k" + std::to_string(10000 + i), 1)] = std::string(100, static_cast<char>('A' + i % 26));
  const TableOptions o = Options(4096, CompressionType::kNoCompression);
  const std::string path = dir.Child("000123.ldb");
  Result<Opened> written = WriteAndOpen(test::BackendNames().back(), path, o, model);
  BOOST_REQUIRE(written.ok());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t pos = bytes.find(std::string(100, 'Q'), bytes.size() / 2);  // a value in mid-file
  BOOST_REQUIRE(pos != std::string::npos);
  bytes[pos + 50] = 'R';
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  io::FileSystem fs(test::MakeBackendByName(test::BackendNames().back()));
  Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
  BOOST_REQUIRE(file.ok());
  Result<std::unique_ptr<Table>> table = test::Run(Table::Open(o, std::move(*file), written->size));
  BOOST_REQUIRE(table.ok());

  // Unverified, the table iterator passes the damage on.
  const size_t damaged = test::Run([](const Table* t, const Model* model) -> asio::awaitable<size_t> {
    std::unique_ptr<AsyncIterator> it = t->NewIterator(ReadOptions());
    size_t n = 0;
    for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) {
      if (it->value() != model->at(std::string(it->key()))) ++n;
    }
    BOOST_REQUIRE(it->status().ok());
    co_return n;
  }(table->get(), &model));
  BOOST_TEST(damaged == 1u);
  cache->Prune();  // that scan filled it

  std::unique_ptr<AsyncIterator> it = (*table)->NewSequentialIterator();
  const ScanResult r = test::Run([](AsyncIterator* it, const Model* model) -> asio::awaitable<ScanResult> {
    // The entries before the damaged block, then the error.
    ScanResult r;
    auto expected = model->begin();
    for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next(), ++expected, ++r.entries) {
      BOOST_REQUIRE(it->key() == expected->first);
      BOOST_REQUIRE(it->value() == expected->second);
    }
    r.status = it->status();
    co_return r;
  }(it.get(), &model));
  BOOST_TEST(r.entries > 0u);
  BOOST_TEST(r.entries < model.size());
  BOOST_TEST(r.status.IsCorruption(), r.status.ToString());
  const std::string message = r.status.ToString();
  BOOST_TEST(message.find("000123.ldb") != std::string::npos, message);
  BOOST_TEST(message.find("checksum mismatch") != std::string::npos, message);
  const size_t at = message.find("block at offset ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, message);
  const uint64_t offset = std::stoull(message.substr(at + 16));
  BOOST_TEST(offset <= pos + 50);
  BOOST_TEST(pos + 50 < offset + 4096 + 200);  // within that block
  BOOST_TEST(cache->TotalCharge() == 0u);
}

// The file shrank after the table was opened: the blocks past its end are
// Corruption (truncated), naming the file.
BOOST_AUTO_TEST_CASE(TruncatedFileIsCorruption) {
  const Model model = BigModel(*this, 200 << 10, 9);
  const std::string path = dir.Child("000077.ldb");
  Result<Opened> t = WriteAndOpen(test::BackendNames().back(), path,
                                  Options(4096, CompressionType::kNoCompression), model);
  BOOST_REQUIRE(t.ok());
  io::FileSystem fs(test::MakeBackendByName(test::BackendNames().back()));
  BOOST_REQUIRE(fs.Open(path, io::OpenMode::kReadWrite).value()->Truncate(t->size / 2).ok());
  for (size_t readahead : {size_t{0}, kDefaultSequentialReadahead}) {
    std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator(readahead);
    const ScanResult r = test::Run([](AsyncIterator* it) -> asio::awaitable<ScanResult> {
      ScanResult r;
      for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) ++r.entries;
      r.status = it->status();
      co_return r;
    }(it.get()));
    BOOST_TEST(r.entries < model.size());
    BOOST_TEST(r.status.IsCorruption(), r.status.ToString());
    BOOST_TEST(r.status.ToString().find("000077.ldb") != std::string::npos, r.status.ToString());
  }
}

BOOST_AUTO_TEST_CASE(OnlyForwardMovesAreSupported) {
  Model model = NewModel();
  for (int i = 0; i < 100; ++i) model[IKey("k" + std::to_string(100 + i), 1)] = "v";
  Result<Opened> t = WriteAndOpen(test::BackendNames().back(), dir.Child("fwd.ldb"),
                                  Options(256, CompressionType::kNoCompression), model);
  BOOST_REQUIRE(t.ok());
  std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator();
  test::Run([](AsyncIterator* it, std::string some_key) -> asio::awaitable<int> {
    co_await it->SeekToLast();
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().IsNotSupported());
    co_await it->SeekToFirst();
    BOOST_REQUIRE(it->Valid());
    co_await it->Seek(some_key);
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().IsNotSupported());
    co_await it->SeekToFirst();
    co_await it->Next();
    BOOST_REQUIRE(it->Valid());
    co_await it->Prev();
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().IsNotSupported());
    co_return 0;
  }(it.get(), model.begin()->first));
}

BOOST_AUTO_TEST_CASE(EmptyTableHasNoEntries) {
  const Model model = NewModel();
  Result<Opened> t = WriteAndOpen(test::BackendNames().back(), dir.Child("empty.ldb"),
                                  Options(4096, CompressionType::kSnappyCompression), model);
  BOOST_REQUIRE(t.ok());
  std::unique_ptr<AsyncIterator> it = t->table->NewSequentialIterator();
  const ScanResult r = test::Run(ScanAgainst(it.get(), &model));
  BOOST_TEST(r.entries == 0u);
  BOOST_TEST(r.status.ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
