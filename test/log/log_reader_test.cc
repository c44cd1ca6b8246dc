#include "log/log_reader.h"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "log/log_test_util.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::log {
namespace {

namespace bdata = boost::unit_test::data;
using testing::CollectingReporter;
using testing::Encode;
using testing::ParseAll;
using testing::RandomString;

// Records laid out so that the file has three blocks:
//   block 0: r0 (100), r1 (50), then r2's FIRST fragment
//   block 1: r2's LAST fragment, r3 (20)
//   block 2: r4's fragments..., r5 (10)
std::vector<std::string> ThreeBlockRecords() {
  Random rnd(17);
  return {RandomString(100, &rnd), RandomString(50, &rnd),    RandomString(40000, &rnd),
          RandomString(20, &rnd),  RandomString(30000, &rnd), RandomString(10, &rnd)};
}

// Appends a fragment with a correct checksum (for hand-made logs).
void AppendFragment(std::string* log, int type, const std::string& payload) {
  std::string covered(1, static_cast<char>(type));
  covered += payload;
  PutFixed32(log, crc32c::Mask(crc32c::Value(covered.data(), covered.size())));
  log->push_back(static_cast<char>(payload.size() & 0xff));
  log->push_back(static_cast<char>(payload.size() >> 8));
  log->push_back(static_cast<char>(type));
  log->append(payload);
}

BOOST_AUTO_TEST_SUITE(LogReaderTest)

BOOST_AUTO_TEST_CASE(EmptyLogHasNoRecords) {
  CollectingReporter reporter;
  const auto got = ParseAll("", &reporter);
  BOOST_TEST(got.records.empty());
  BOOST_TEST(got.end_of_last_record == 0u);
  BOOST_TEST(reporter.drops.empty());
}

BOOST_AUTO_TEST_CASE(RoundTripsRecordsOfEverySizeClass) {
  Random rnd(301);
  std::vector<std::string> records = {"",
                                      "a",
                                      "",
                                      std::string(kBlockSize - kHeaderSize, 'x'),
                                      "after-full-block",
                                      RandomString(3 * kBlockSize + 5, &rnd)};
  for (int i = 0; i < 300; ++i) records.push_back(RandomString(rnd.Skewed(17), &rnd));
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_TEST(reporter.drops.empty());
  BOOST_REQUIRE(got.records.size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    BOOST_REQUIRE(got.records[i] == records[i]);
    // A record starts where the previous one ended (or, when fewer than 7
    // bytes were left there, at the next block).
    uint64_t start = i == 0 ? 0 : ends[i - 1];
    if (kBlockSize - start % kBlockSize < kHeaderSize)
      start += kBlockSize - start % kBlockSize;
    BOOST_TEST(got.record_offsets[i] == start);
  }
  BOOST_TEST(got.end_of_last_record == log.size());
}

BOOST_AUTO_TEST_CASE(TrailersOfZeroToSixBytesAreSkipped) {
  for (size_t trailer = 0; trailer <= kHeaderSize; ++trailer) {
    const std::vector<std::string> records = {
        std::string(kBlockSize - kHeaderSize - trailer, 'a'), "b", "", "c"};
    CollectingReporter reporter;
    const auto got = ParseAll(Encode(records), &reporter);
    BOOST_TEST(got.records == records);
    BOOST_TEST(reporter.drops.empty());
  }
}

BOOST_AUTO_TEST_CASE(TornTailAtEveryOffsetIsACleanEnd) {
  // The last record starts 44 bytes before a block boundary and crosses it,
  // so cuts land in its FIRST header, FIRST payload, at the boundary, in the
  // LAST header and in the LAST payload.
  const std::vector<std::string> records = {
      std::string(kBlockSize - 2 * kHeaderSize - 60, 'p'), "q", std::string(200, 'r')};
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  const uint64_t last_start = ends[1];
  BOOST_REQUIRE(last_start < kBlockSize);
  BOOST_REQUIRE(log.size() > kBlockSize);
  for (uint64_t cut = last_start; cut < log.size(); ++cut) {
    CollectingReporter reporter;
    const auto got = ParseAll(log.substr(0, cut), &reporter);
    BOOST_REQUIRE_MESSAGE(
        reporter.drops.empty(),
        "cut at " << cut << ": "
                  << (reporter.drops.empty() ? "" : reporter.drops[0].message));
    BOOST_REQUIRE(got.records ==
                  std::vector<std::string>(records.begin(), records.end() - 1));
    BOOST_REQUIRE(got.end_of_last_record == last_start);
  }
  // A full-fragment last record cut anywhere is also a clean end.
  const std::vector<std::string> small = {"one", "two", std::string(500, 't')};
  std::vector<uint64_t> small_ends;
  const std::string small_log = Encode(small, &small_ends);
  for (uint64_t cut = small_ends[1]; cut < small_log.size(); ++cut) {
    CollectingReporter reporter;
    const auto got = ParseAll(small_log.substr(0, cut), &reporter);
    BOOST_REQUIRE(reporter.drops.empty());
    BOOST_REQUIRE(got.records == (std::vector<std::string>{"one", "two"}));
  }
}

BOOST_AUTO_TEST_CASE(TrailingZerosAreACleanEnd) {
  const std::vector<std::string> records = {"alpha", "beta"};
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  for (size_t zeros : {1u, 6u, 7u, 100u, 40000u, 70000u}) {
    CollectingReporter reporter;
    const auto got = ParseAll(log + std::string(zeros, '\0'), &reporter);
    BOOST_TEST(got.records == records);
    BOOST_TEST(reporter.drops.empty());
    BOOST_TEST(got.end_of_last_record == ends.back());
  }
}

BOOST_AUTO_TEST_CASE(ChecksumMismatchReportsCorruption) {
  // Flip each byte of block 0's first two records and the header of the third.
  const auto records = ThreeBlockRecords();
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  BOOST_REQUIRE(ends[2] > kBlockSize && ends[3] < 2 * kBlockSize &&
                ends[4] > 2 * kBlockSize);
  const uint64_t r2_header_end = ends[1] + kHeaderSize;
  for (uint64_t pos = 0; pos < r2_header_end; ++pos) {
    std::string damaged = log;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x40);
    const uint64_t fragment_start =
        pos < ends[0] ? 0 : (pos < ends[1] ? ends[0] : ends[1]);
    CollectingReporter reporter;
    const auto got = ParseAll(damaged, &reporter);
    // Records before the damaged one survive, then records from block 1 on
    // (r2 lost its FIRST fragment, so r3 is next).
    std::vector<std::string> want(
        records.begin(), records.begin() + (pos < ends[0] ? 0 : (pos < ends[1] ? 1 : 2)));
    want.insert(want.end(), records.begin() + 3, records.end());
    BOOST_REQUIRE_MESSAGE(got.records == want, "flip at " << pos);
    BOOST_REQUIRE(!reporter.drops.empty());
    const testing::Drop& first = reporter.drops.front();
    // The rest of block 0 from the damaged fragment on is dropped.
    BOOST_TEST(first.bytes == kBlockSize - fragment_start, "flip at " << pos);
    BOOST_TEST(first.message.find("Corruption: 000007.log: offset " +
                                  std::to_string(fragment_start) + ": ") == 0u,
               first.message);
    // r2's orphaned LAST fragment in block 1 is reported too.
    BOOST_TEST(reporter.drops.size() == 2u);
    BOOST_TEST(reporter.drops.back().message.find("missing start") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(DamageInAMiddleFragmentDropsTheWholeRecord) {
  const auto records = ThreeBlockRecords();
  std::vector<uint64_t> ends;
  std::string log = Encode(records, &ends);
  // r2's LAST fragment starts block 1; damage its payload.
  log[kBlockSize + kHeaderSize + 10] ^= 0x01;
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  // Block 1 is lost: r2's LAST, r3, and r4's FIRST; r4's LAST in block 2 is
  // then an orphan.
  const std::vector<std::string> want = {records[0], records[1], records[5]};
  BOOST_TEST(got.records == want);
  BOOST_REQUIRE(reporter.drops.size() == 3u);
  BOOST_TEST(reporter.drops[0].message.find("offset " + std::to_string(kBlockSize) +
                                            ": checksum mismatch") != std::string::npos);
  BOOST_TEST(reporter.drops[0].bytes == kBlockSize);  // all of block 1
  // Then the partial r2 (its FIRST fragment's bytes) is reported dropped.
  BOOST_TEST(reporter.drops[1].message.find("offset " + std::to_string(ends[1]) +
                                            ": error in middle of record") !=
             std::string::npos);
  BOOST_TEST(reporter.drops[1].bytes == kBlockSize - ends[1] - kHeaderSize);
  BOOST_TEST(reporter.drops[2].message.find("missing start") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(BadLengthInsideAFullBlockReportsCorruption) {
  const auto records = ThreeBlockRecords();
  std::string log = Encode(records);
  log[5] = static_cast<char>(0xff);  // r0's length high byte: far past the block
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_REQUIRE(!reporter.drops.empty());
  BOOST_TEST(reporter.drops[0].message.find("bad record length") != std::string::npos);
  BOOST_TEST(got.records.size() == 3u);  // r3, r4, r5
}

// In the file's last, partial block a length past the end of the file is
// normally a record cut by a crash; but a length past the end of its BLOCK
// is damage wherever it is (the writer never lets a fragment cross a block).
BOOST_AUTO_TEST_CASE(LengthPastItsBlockInTheLastBlockIsReported) {
  const std::vector<std::string> records = {"zero", std::string(100, 'o'), "two", "three"};
  std::vector<uint64_t> ends;
  std::string log = Encode(records, &ends);
  BOOST_REQUIRE(log.size() < kBlockSize);
  log[ends[0] + 5] = static_cast<char>(log[ends[0] + 5] | 0x80);  // record 1's length + 32 KiB
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_TEST(got.records == std::vector<std::string>{"zero"});
  BOOST_REQUIRE(reporter.drops.size() == 1u);
  BOOST_TEST(reporter.drops[0].message.find("000007.log: offset " + std::to_string(ends[0]) +
                                            ": bad record length") != std::string::npos,
             reporter.drops[0].message);
  BOOST_TEST(reporter.drops[0].bytes == log.size() - ends[0]);
}

BOOST_AUTO_TEST_CASE(UnknownRecordTypeIsReportedAndSkipped) {
  std::string log;
  AppendFragment(&log, kFullType, "before");
  AppendFragment(&log, 9, "mystery");
  AppendFragment(&log, kFullType, "after");
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_TEST(got.records == (std::vector<std::string>{"before", "after"}));
  BOOST_REQUIRE(reporter.drops.size() == 1u);
  BOOST_TEST(reporter.drops[0].bytes == 7u);
  BOOST_TEST(reporter.drops[0].message.find("unknown record type 9") !=
             std::string::npos);
  BOOST_TEST(reporter.drops[0].message.find("offset 13") != std::string::npos);
}

// Types 5, 6 and 7 once collided with the parser's internal results (end of
// file, bad fragment, need a block): a type-5 fragment ended the log quietly,
// a type-6 one vanished unreported, and a type-7 one asked for the next block
// with bytes of this one unread (found by fuzz/log_reader_fuzz).
BOOST_DATA_TEST_CASE(EveryUnknownRecordTypeIsReportedAndSkipped,
                     bdata::make(std::vector<int>{5, 6, 7, 8, 9, 127, 255}), type) {
  std::string log;
  AppendFragment(&log, kFullType, "before");
  AppendFragment(&log, static_cast<uint8_t>(type), "mystery");
  AppendFragment(&log, kFullType, "after");
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_TEST(got.records == (std::vector<std::string>{"before", "after"}));
  BOOST_REQUIRE(reporter.drops.size() == 1u);
  BOOST_TEST(reporter.drops[0].bytes == 7u);
  BOOST_TEST(reporter.drops[0].message.find("unknown record type " + std::to_string(type)) !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(FragmentsOutOfOrderAreReported) {
  std::string log;
  AppendFragment(&log, kMiddleType, "orphan-middle");
  AppendFragment(&log, kFirstType, "abandoned");
  AppendFragment(&log, kFullType, "full");
  AppendFragment(&log, kLastType, "orphan-last");
  AppendFragment(&log, kFirstType, "jo");
  AppendFragment(&log, kMiddleType, "in");
  AppendFragment(&log, kLastType, "ed");
  CollectingReporter reporter;
  const auto got = ParseAll(log, &reporter);
  BOOST_TEST(got.records == (std::vector<std::string>{"full", "joined"}));
  BOOST_REQUIRE(reporter.drops.size() == 3u);
  BOOST_TEST(reporter.drops[0].bytes == 13u);  // orphan-middle
  BOOST_TEST(reporter.drops[1].bytes == 9u);   // abandoned
  BOOST_TEST(reporter.drops[2].bytes == 11u);  // orphan-last
}

BOOST_AUTO_TEST_CASE(ChecksumOffReturnsDamagedPayloadWithoutReport) {
  std::vector<std::string> records = {"first record", "second record"};
  std::string log = Encode(records);
  log[kHeaderSize + 2] = 'X';  // inside "first record"
  CollectingReporter reporter;
  const auto unchecked = ParseAll(log, &reporter, /*checksum=*/false);
  BOOST_TEST(reporter.drops.empty());
  BOOST_TEST(unchecked.records ==
             (std::vector<std::string>{"fiXst record", "second record"}));
  // The same log with checksums on loses the block.
  const auto checked = ParseAll(log, &reporter, /*checksum=*/true);
  BOOST_TEST(checked.records.empty());
  BOOST_TEST(reporter.drops.size() == 1u);
}

BOOST_AUTO_TEST_CASE(InitialOffsetSkipsEarlierRecordsAndResyncs) {
  const auto records = ThreeBlockRecords();
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  struct Case {
    uint64_t offset;
    size_t first_record;
  };
  const std::vector<Case> cases = {
      {0, 0},           {1, 1},          {ends[0], 1},        {ends[0] + 1, 2},
      {ends[1], 2},     {kBlockSize, 3}, {kBlockSize + 3, 3}, {ends[2], 3},
      {ends[2] + 1, 4}, {ends[3], 4},    {2 * kBlockSize, 5}, {ends[4], 5},
      {ends[4] + 1, 6}, {log.size(), 6}, {kBlockSize - 3, 3}};
  for (const Case& c : cases) {
    CollectingReporter reporter;
    const auto got = ParseAll(log, &reporter, true, c.offset);
    BOOST_TEST(reporter.drops.empty(), "offset " << c.offset);
    BOOST_TEST(got.records == std::vector<std::string>(records.begin() + c.first_record,
                                                       records.end()),
               "offset " << c.offset);
  }
}

BOOST_AUTO_TEST_CASE(InitialOffsetInsideARecordSpanningManyBlocksSkipsItQuietly) {
  Random rnd(3);
  const std::vector<std::string> records = {"a", RandomString(80000, &rnd), "z"};
  const std::string log = Encode(records);
  for (uint64_t offset :
       {uint64_t{9}, uint64_t{100}, kBlockSize, kBlockSize + 3, 2 * kBlockSize + 3}) {
    CollectingReporter reporter;
    const auto got = ParseAll(log, &reporter, true, offset);
    BOOST_TEST(reporter.drops.empty(), "offset " << offset);
    BOOST_TEST(got.records == std::vector<std::string>{"z"}, "offset " << offset);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// The awaitable layer over a real file, on every I/O backend.
BOOST_AUTO_TEST_SUITE(LogFileReaderTest)

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  BOOST_REQUIRE(out.good());
}

std::unique_ptr<io::File> OpenForRead(const io::FileSystem& fs, const std::string& path) {
  auto f = fs.Open(path, io::OpenMode::kRead);
  BOOST_REQUIRE_MESSAGE(f.ok(), f.status().ToString());
  return std::move(f).value();
}

struct FileReadOutcome {
  std::vector<std::string> records;
  Status status;
  uint64_t end_of_last_record = 0;
};

boost::asio::awaitable<FileReadOutcome> ReadAllRecords(io::File& file,
                                                       Reporter* reporter) {
  Reader reader(file, reporter, /*checksum=*/true);
  FileReadOutcome out;
  std::string record;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) {
      out.status = more.status();
      break;
    }
    if (!*more) break;
    out.records.push_back(record);
  }
  out.end_of_last_record = reader.EndOfLastRecord();
  co_return out;
}

BOOST_DATA_TEST_CASE(ReadsRecordsWrittenByTheWriter, bdata::make(test::BackendNames()),
                     backend) {
  test::TempDir dir("log");
  io::FileSystem fs(test::MakeBackendByName(backend));
  Random rnd(77);
  std::vector<std::string> records;
  for (int i = 0; i < 100; ++i) records.push_back(RandomString(rnd.Skewed(17), &rnd));
  const std::string path = dir.Child("000005.log");
  WriteFile(path, Encode(records));
  auto file = OpenForRead(fs, path);
  CollectingReporter reporter;
  const FileReadOutcome got = test::Run(ReadAllRecords(*file, &reporter));
  BOOST_TEST(got.status.ok(), got.status.ToString());
  BOOST_TEST(got.records == records);
  BOOST_TEST(reporter.drops.empty());
}

BOOST_DATA_TEST_CASE(TornTailThenTruncateAndContinue, bdata::make(test::BackendNames()),
                     backend) {
  test::TempDir dir("log");
  io::FileSystem fs(test::MakeBackendByName(backend));
  const std::vector<std::string> records = {"one", std::string(50000, 'b'), "three"};
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  const std::string path = dir.Child("000005.log");
  // A crash cut the last record (and the file was zero-extended).
  WriteFile(path, log.substr(0, ends[1] + 4) + std::string(10, '\0'));
  {
    auto file = OpenForRead(fs, path);
    CollectingReporter reporter;
    const FileReadOutcome got = test::Run(ReadAllRecords(*file, &reporter));
    BOOST_TEST(got.status.ok());
    BOOST_TEST(got.records ==
               std::vector<std::string>(records.begin(), records.begin() + 2));
    BOOST_TEST(reporter.drops.empty());
    BOOST_REQUIRE(got.end_of_last_record == ends[1]);
  }
  // The DB truncates at the end of the last good record and continues there.
  BOOST_REQUIRE(::truncate(path.c_str(), static_cast<off_t>(ends[1])) == 0);
  Writer writer(ends[1]);
  std::string more;
  writer.AddRecord("four", &more);
  std::ofstream(path, std::ios::binary | std::ios::app)
      .write(more.data(), static_cast<std::streamsize>(more.size()));
  auto file = OpenForRead(fs, path);
  CollectingReporter reporter;
  const FileReadOutcome got = test::Run(ReadAllRecords(*file, &reporter));
  BOOST_TEST(got.records == (std::vector<std::string>{"one", records[1], "four"}));
  BOOST_TEST(reporter.drops.empty());
}

bool TornBeforeZeros(const io::FileSystem& fs, const std::string& path, const std::string& contents,
                     uint64_t offset) {
  WriteFile(path, contents);
  auto file = OpenForRead(fs, path);
  const Result<bool> torn = test::Run(IsTornRecordBeforeZeros(*file, offset));
  BOOST_REQUIRE_MESSAGE(torn.ok(), torn.status().ToString());
  return *torn;
}

// What a crash during a write into zero-filled log space can leave, and
// what it cannot.
BOOST_DATA_TEST_CASE(TornRecordBeforeZerosIsToldFromDamage, bdata::make(test::BackendNames()),
                     backend) {
  test::TempDir dir("log");
  io::FileSystem fs(test::MakeBackendByName(backend));
  const std::string path = dir.Child("000005.log");
  // r1 spans blocks 0 and 1 (FIRST, LAST); r2 is a FULL record in block 1.
  const std::vector<std::string> records = {"r0", std::string(kBlockSize, 'x'), "r2"};
  std::vector<uint64_t> ends;
  const std::string log = Encode(records, &ends);
  const std::string zeros(3 * kBlockSize, '\0');
  const std::string prealloc = log + zeros;

  // r2's payload half zero, then only zeros (a few bytes or blocks of them).
  std::string torn = prealloc;
  torn[ends[2] - 1] = '\0';
  BOOST_TEST(TornBeforeZeros(fs, path, torn, ends[1]));
  BOOST_TEST(TornBeforeZeros(fs, path, torn.substr(0, ends[2] + 1), ends[1]));
  // ...but nothing after it: the log was not preallocated there.
  BOOST_TEST(!TornBeforeZeros(fs, path, torn.substr(0, ends[2]), ends[1]));
  // A non-zero byte anywhere after the record.
  std::string later = torn;
  later[ends[2] + 2 * kBlockSize] = 'z';
  BOOST_TEST(!TornBeforeZeros(fs, path, later, ends[1]));
  // r1's LAST fragment never written: its FIRST is followed through.
  std::string first_only = prealloc;
  std::fill(first_only.begin() + kBlockSize, first_only.end(), '\0');
  BOOST_TEST(TornBeforeZeros(fs, path, first_only, ends[0]));
  // A length reaching past its block is damage, zeros or not.
  std::string long_length = prealloc;
  long_length[ends[1] + kLengthOffset + 1] = static_cast<char>(0x80);
  BOOST_TEST(!TornBeforeZeros(fs, path, long_length, ends[1]));
  // A FIRST fragment that does not fill its block is damage.
  std::string short_first = prealloc;
  short_first[ends[0] + kLengthOffset + 1] = 0;
  BOOST_TEST(!TornBeforeZeros(fs, path, short_first, ends[0]));
}

// Delegates to a real backend but fails the next `fail_reads` reads with EIO.
class FailingReadBackend final : public io::Backend {
 public:
  explicit FailingReadBackend(std::shared_ptr<io::Backend> inner)
      : inner_(std::move(inner)) {}
  std::string_view Name() const override { return "failing-read"; }
  void Start(const boost::asio::any_io_executor& ex, const io::IoRequest& req,
             io::IoHandler handler) override {
    if (req.opcode == io::IoOpcode::kRead && fail_reads > 0) {
      --fail_reads;
      boost::asio::post(ex, [h = std::move(handler)]() mutable {
        std::move(h)(io::IoCompletion{-EIO, 0});
      });
      return;
    }
    inner_->Start(ex, req, std::move(handler));
  }
  int fail_reads = 0;  // touched only from the test's single thread

 private:
  std::shared_ptr<io::Backend> inner_;
};

boost::asio::awaitable<std::vector<Result<bool>>> ReadTwice(Reader& reader,
                                                            std::string* record) {
  std::vector<Result<bool>> results;
  results.push_back(co_await reader.ReadRecord(record));
  results.push_back(co_await reader.ReadRecord(record));
  co_return results;
}

BOOST_AUTO_TEST_CASE(ReadErrorIsReturnedAndTheReadCanBeRetried) {
  test::TempDir dir("log");
  auto backend =
      std::make_shared<FailingReadBackend>(test::MakeBackendByName("threadpool"));
  io::FileSystem fs(backend);
  const std::string path = dir.Child("000011.log");
  WriteFile(path, Encode({"only"}));
  auto file = OpenForRead(fs, path);
  CollectingReporter reporter;
  Reader reader(*file, &reporter, true);
  std::string record;
  backend->fail_reads = 1;
  const auto results = test::Run(ReadTwice(reader, &record));
  BOOST_REQUIRE(!results[0].ok());
  BOOST_TEST(results[0].status().IsIOError());
  BOOST_TEST(results[0].status().ToString().find(path) != std::string::npos,
             results[0].status().ToString());
  BOOST_REQUIRE(results[1].ok());
  BOOST_TEST(*results[1]);
  BOOST_TEST(record == "only");
  BOOST_TEST(reporter.drops.empty());
}

BOOST_AUTO_TEST_CASE(CorruptionMessageNamesTheFile) {
  test::TempDir dir("log");
  io::FileSystem fs(test::MakeBackendByName("threadpool"));
  std::string log = Encode({"aaaa", "bbbb"});
  log[kHeaderSize] ^= 0x01;
  const std::string path = dir.Child("000009.log");
  WriteFile(path, log);
  auto file = OpenForRead(fs, path);
  CollectingReporter reporter;
  const FileReadOutcome got = test::Run(ReadAllRecords(*file, &reporter));
  BOOST_TEST(got.records.empty());
  BOOST_REQUIRE(reporter.drops.size() == 1u);
  BOOST_TEST(reporter.drops[0].message.find(path + ": offset 0: checksum mismatch") !=
                 std::string::npos,
             reporter.drops[0].message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::log
