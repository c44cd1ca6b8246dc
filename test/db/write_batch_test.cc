#include "corodb/write_batch.h"

#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "memtable/memtable.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "util/coding.h"

namespace corodb {
namespace {

// Renders a batch's records as "Put(k, v)@seq" / "Delete(k)@seq" by
// inserting it into a memtable and walking that, plus a trailing error if
// InsertInto fails.
std::string PrintContents(const WriteBatch& batch) {
  static const InternalKeyComparator cmp(BytewiseComparator());
  auto mem = MemTable::Create(cmp);
  std::string out;
  Status s = WriteBatchInternal::InsertInto(batch, mem.get());
  int count = 0;
  auto iter = mem->NewIterator();
  for (iter->SeekToFirst(); iter->Valid(); iter->Next()) {
    ParsedInternalKey ikey;
    BOOST_REQUIRE(ParseInternalKey(iter->key(), &ikey));
    if (ikey.type == kTypeValue) {
      out +=
          "Put(" + std::string(ikey.user_key) + ", " + std::string(iter->value()) + ")";
    } else {
      out += "Delete(" + std::string(ikey.user_key) + ")";
    }
    out += "@" + std::to_string(ikey.sequence);
    ++count;
  }
  if (!s.ok()) out += "ParseError()";
  return out;
}

// Records the calls a Handler receives.
class RecordingHandler final : public WriteBatch::Handler {
 public:
  void Put(Slice key, Slice value) override {
    calls.push_back("Put(" + std::string(key) + ", " + std::string(value) + ")");
  }
  void Delete(Slice key) override { calls.push_back("Delete(" + std::string(key) + ")"); }
  std::vector<std::string> calls;
};

BOOST_AUTO_TEST_SUITE(WriteBatchTest)

BOOST_AUTO_TEST_CASE(EmptyBatchIsATwelveByteHeader) {
  WriteBatch batch;
  BOOST_TEST(WriteBatchInternal::Contents(batch) == std::string(12, '\0'));
  BOOST_TEST(batch.Count() == 0u);
  BOOST_TEST(batch.ApproximateSize() == 12u);
  BOOST_TEST(PrintContents(batch) == "");
}

BOOST_AUTO_TEST_CASE(EncodingMatchesLevelDbLayoutByteForByte) {
  WriteBatch batch;
  batch.Put("k", "vv");
  batch.Delete("dd");
  WriteBatchInternal::SetSequence(&batch, 0x0102030405060708ull);
  const std::string want =
      std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8) +  // sequence
      std::string("\x02\x00\x00\x00", 4) +                  // count
      std::string("\x01\x01k\x02vv", 6) +                   // Put
      std::string(
          "\x00\x02"
          "dd",
          4);  // Delete
  BOOST_TEST(WriteBatchInternal::Contents(batch) == want);
  BOOST_TEST(WriteBatchInternal::Sequence(batch) == 0x0102030405060708ull);
  BOOST_TEST(WriteBatchInternal::Count(batch) == 2u);
  BOOST_TEST(WriteBatchInternal::ByteSize(batch) == want.size());
}

BOOST_AUTO_TEST_CASE(InsertIntoAssignsConsecutiveSequences) {
  WriteBatch batch;
  batch.Put("foo", "bar");
  batch.Delete("box");
  batch.Put("baz", "boo");
  WriteBatchInternal::SetSequence(&batch, 100);
  BOOST_TEST(WriteBatchInternal::Sequence(batch) == 100u);
  BOOST_TEST(batch.Count() == 3u);
  BOOST_TEST(PrintContents(batch) == "Put(baz, boo)@102Delete(box)@101Put(foo, bar)@100");
}

BOOST_AUTO_TEST_CASE(IterateVisitsRecordsInOrder) {
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("b");
  batch.Put("", "");
  batch.Put(std::string("\0k", 2), std::string(300, 'v'));
  RecordingHandler handler;
  Status s = batch.Iterate(handler);
  BOOST_TEST(s.ok());
  BOOST_TEST(handler.calls ==
             (std::vector<std::string>{
                 "Put(a, 1)", "Delete(b)", "Put(, )",
                 "Put(" + std::string("\0k", 2) + ", " + std::string(300, 'v') + ")"}));
}

BOOST_AUTO_TEST_CASE(EveryTruncationIsCorruptionNotACrash) {
  WriteBatch batch;
  batch.Put("key1", "value1");
  batch.Delete("key2");
  batch.Put(std::string(200, 'k'), std::string(200, 'v'));  // two-byte varints
  const std::string full(WriteBatchInternal::Contents(batch));
  for (size_t len = 0; len < full.size(); ++len) {
    WriteBatch cut;
    Status set = WriteBatchInternal::SetContents(&cut, Slice(full).substr(0, len));
    if (len < WriteBatchInternal::kHeaderSize) {
      BOOST_TEST(set.IsCorruption());
      BOOST_TEST(set.ToString().find("WriteBatch: ") != std::string::npos);
      BOOST_TEST(cut.Count() == 0u);  // unchanged
      continue;
    }
    BOOST_REQUIRE(set.ok());
    RecordingHandler handler;
    Status s = cut.Iterate(handler);
    BOOST_TEST(s.IsCorruption(), "length " << len);
    BOOST_TEST(s.ToString().find("Corruption: WriteBatch: ") == 0u, s.ToString());
    BOOST_TEST(handler.calls.size() < 3u);
    // InsertInto validates first: nothing reaches the memtable.
    static const InternalKeyComparator cmp(BytewiseComparator());
    auto mem = MemTable::Create(cmp);
    BOOST_TEST(WriteBatchInternal::InsertInto(cut, mem.get()).IsCorruption());
    auto iter = mem->NewIterator();
    iter->SeekToFirst();
    BOOST_TEST(!iter->Valid(), "length " << len);
  }
}

BOOST_AUTO_TEST_CASE(BadTagAndCountMismatchAreCorruption) {
  WriteBatch batch;
  batch.Put("a", "b");
  std::string bytes(WriteBatchInternal::Contents(batch));
  {
    std::string bad = bytes;
    bad[12] = 0x07;  // the record's tag
    WriteBatch b;
    BOOST_REQUIRE(WriteBatchInternal::SetContents(&b, bad).ok());
    RecordingHandler handler;
    Status s = b.Iterate(handler);
    BOOST_TEST(s.IsCorruption());
    BOOST_TEST(s.ToString().find("tag") != std::string::npos);
  }
  {
    WriteBatch b;
    BOOST_REQUIRE(WriteBatchInternal::SetContents(&b, bytes).ok());
    WriteBatchInternal::SetCount(&b, 2);
    RecordingHandler handler;
    Status s = b.Iterate(handler);
    BOOST_TEST(s.IsCorruption());
    BOOST_TEST(s.ToString().find("count") != std::string::npos);
    BOOST_TEST(PrintContents(b) == "ParseError()");
  }
}

BOOST_AUTO_TEST_CASE(AppendConcatenatesRecordsAndKeepsSequence) {
  WriteBatch b1, b2;
  WriteBatchInternal::SetSequence(&b1, 200);
  WriteBatchInternal::SetSequence(&b2, 300);
  b1.Append(b2);
  BOOST_TEST(PrintContents(b1) == "");
  b2.Put("a", "va");
  b1.Append(b2);
  BOOST_TEST(PrintContents(b1) == "Put(a, va)@200");
  b2.Clear();
  b2.Put("b", "vb");
  b1.Append(b2);
  BOOST_TEST(PrintContents(b1) == "Put(a, va)@200Put(b, vb)@201");
  b2.Delete("foo");
  b1.Append(b2);
  BOOST_TEST(PrintContents(b1) ==
             "Put(a, va)@200Put(b, vb)@202Put(b, vb)@201Delete(foo)@203");
  BOOST_TEST(b1.Count() == 4u);
  BOOST_TEST(WriteBatchInternal::Sequence(b1) == 200u);
}

BOOST_AUTO_TEST_CASE(ApproximateSizeGrowsWithEachRecord) {
  WriteBatch batch;
  const size_t empty = batch.ApproximateSize();
  batch.Put("foo", "bar");
  const size_t one = batch.ApproximateSize();
  BOOST_TEST(one == empty + 1 + 1 + 3 + 1 + 3);
  batch.Put("baz", "boo");
  const size_t two = batch.ApproximateSize();
  BOOST_TEST(two > one);
  batch.Delete("box");
  BOOST_TEST(batch.ApproximateSize() == two + 1 + 1 + 3);
  batch.Clear();
  BOOST_TEST(batch.ApproximateSize() == empty);
  BOOST_TEST(batch.Count() == 0u);
}

BOOST_AUTO_TEST_CASE(MovedFromBatchIsEmptyAndUsable) {
  WriteBatch a;
  a.Put("k", "v");
  WriteBatch b(std::move(a));
  BOOST_TEST(b.Count() == 1u);
  BOOST_TEST(a.Count() == 0u);  // NOLINT: moved-from is specified as empty
  a.Put("x", "y");
  BOOST_TEST(a.Count() == 1u);
  WriteBatch c;
  c = std::move(b);
  BOOST_TEST(c.Count() == 1u);
  BOOST_TEST(b.ApproximateSize() == 12u);  // NOLINT
}

BOOST_AUTO_TEST_SUITE_END()

// Compatibility with the real LevelDB: its log records are our batches.
BOOST_AUTO_TEST_SUITE(WriteBatchLevelDbCompatTest)

class CollectingReporter final : public log::Reporter {
 public:
  void Corruption(uint64_t, size_t, const Status& s) override { errors.push_back(s.ToString()); }
  std::vector<std::string> errors;
};

// Path of the highest-numbered NNNNNN.log in `dir`.
std::string NewestLogFile(const std::string& dir) {
  std::string best;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 10 && name.ends_with(".log") && name > best) best = name;
  }
  BOOST_REQUIRE(!best.empty());
  return dir + "/" + best;
}

boost::asio::awaitable<std::vector<std::string>> ReadLogRecords(io::File& file,
                                                                log::Reporter* reporter) {
  log::Reader reader(file, reporter, /*checksum=*/true);
  std::vector<std::string> records;
  std::string record;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    BOOST_REQUIRE_MESSAGE(more.ok(), more.status().ToString());
    if (!*more) break;
    records.push_back(record);
  }
  co_return records;
}

BOOST_AUTO_TEST_CASE(LevelDbLogRecordsDecodeAsOurBatches) {
  test::TempDir dir("wb-compat");
  const std::string db_path = dir.Child("db");
  const std::string big_value(70000, 'B');  // spans blocks in LevelDB's log
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, db_path, &raw);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::WriteBatch first;
    first.Put("apple", "red");
    first.Delete("banana");
    first.Put(leveldb::Slice("\0bin", 4), "");
    BOOST_REQUIRE(db->Write(sync, &first).ok());
    leveldb::WriteBatch second;
    second.Put("big", big_value);
    BOOST_REQUIRE(db->Write(sync, &second).ok());
    BOOST_REQUIRE(db->Delete(sync, "apple").ok());
  }

  io::FileSystem fs(test::MakeBackendByName("threadpool"));
  auto file = fs.Open(NewestLogFile(db_path), io::OpenMode::kRead);
  BOOST_REQUIRE_MESSAGE(file.ok(), file.status().ToString());
  CollectingReporter reporter;
  const std::vector<std::string> records = test::Run(ReadLogRecords(**file, &reporter));
  BOOST_TEST(reporter.errors.empty());
  BOOST_REQUIRE(records.size() == 3u);

  std::vector<std::string> printed;
  for (const std::string& record : records) {
    WriteBatch batch;
    BOOST_REQUIRE(WriteBatchInternal::SetContents(&batch, record).ok());
    printed.push_back(PrintContents(batch));
  }
  BOOST_TEST(printed[0] ==
             "Put(" + std::string("\0bin", 4) + ", )@3Put(apple, red)@1Delete(banana)@2");
  BOOST_TEST(printed[1] == "Put(big, " + big_value + ")@4");
  BOOST_TEST(printed[2] == "Delete(apple)@5");
}

BOOST_AUTO_TEST_CASE(LevelDbRecoversALogWeWrote) {
  test::TempDir dir("wb-compat");
  const std::string db_path = dir.Child("db");
  leveldb::Options options;
  options.create_if_missing = true;
  {
    // An empty LevelDB database: its current (empty) log is the one it will
    // replay on the next open.
    leveldb::DB* raw = nullptr;
    BOOST_REQUIRE(leveldb::DB::Open(options, db_path, &raw).ok());
    delete raw;
  }
  const std::string log_path = NewestLogFile(db_path);
  BOOST_REQUIRE(std::filesystem::file_size(log_path) == 0u);

  WriteBatch first;
  first.Put("k1", "v1");
  first.Put("k2", std::string(40000, 'x'));
  first.Delete("k1");
  WriteBatchInternal::SetSequence(&first, 1);
  WriteBatch second;
  second.Put("k3", "v3");
  WriteBatchInternal::SetSequence(&second, 4);
  log::Writer writer;
  std::string bytes;
  writer.AddRecord(WriteBatchInternal::Contents(first), &bytes);
  writer.AddRecord(WriteBatchInternal::Contents(second), &bytes);
  std::ofstream(log_path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  leveldb::Options reopen;
  reopen.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(reopen, db_path, &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<leveldb::DB> db(raw);
  std::string value;
  BOOST_TEST(db->Get(leveldb::ReadOptions(), "k1", &value).IsNotFound());
  BOOST_REQUIRE(db->Get(leveldb::ReadOptions(), "k2", &value).ok());
  BOOST_TEST(value == std::string(40000, 'x'));
  BOOST_REQUIRE(db->Get(leveldb::ReadOptions(), "k3", &value).ok());
  BOOST_TEST(value == "v3");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
