// libFuzzer target: the log reader (log::RecordParser, which holds all of
// log::Reader's format logic), fed the input as a log file in 32 KiB blocks.
//
// Input: byte 0 bit 0 = verify checksums; the rest is the file.
// Invariants checked on every input:
// - every record and every reported drop lies inside the file, and records
//   come out at strictly increasing offsets (LastRecordOffset), each ending
//   (EndOfLastRecord) after it starts and within the file;
// - the bytes accounted for add up: payload returned plus bytes reported
//   dropped never exceed the file (no byte is both returned and dropped, or
//   dropped twice);
// - every drop reports a Corruption whose message names the file;
// - reading is deterministic;
// - when nothing was dropped, reading again from record k's offset
//   (initial_offset) yields exactly records k, k+1, ... (tried for the
//   first, the middle and the last record).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "log/log_format.h"
#include "log/log_reader.h"

namespace corodb::fuzz {
namespace {

constexpr char kFileName[] = "fuzz.log";

struct Drop {
  uint64_t offset;
  size_t bytes;
};

class Recorder final : public log::Reporter {
 public:
  void Corruption(uint64_t offset, size_t bytes, const Status& status) override {
    FUZZ_CHECK(status.IsCorruption(), status.ToString());
    FUZZ_CHECK(status.ToString().find(kFileName) != std::string::npos, status.ToString());
    drops.push_back({offset, bytes});
  }
  std::vector<Drop> drops;
};

struct Record {
  std::string data;
  uint64_t offset;
  uint64_t end;
};

std::vector<Record> ReadAll(std::string_view file, bool checksum, uint64_t initial_offset,
                            Recorder* recorder) {
  log::RecordParser parser(kFileName, recorder, checksum, initial_offset);
  std::vector<Record> records;
  std::string record;
  size_t blocks_fed = 0;
  for (;;) {
    const log::RecordParser::Step step = parser.Next(&record);
    if (step == log::RecordParser::Step::kEndOfLog) break;
    if (step == log::RecordParser::Step::kRecord) {
      records.push_back({record, parser.LastRecordOffset(), parser.EndOfLastRecord()});
      continue;
    }
    const uint64_t at = parser.NextBlockOffset();
    FUZZ_CHECK(at % log::kBlockSize == 0,
               "blocks are asked for at block boundaries: " + std::to_string(at) +
                   " initial " + std::to_string(initial_offset));
    FUZZ_CHECK(++blocks_fed <= file.size() / log::kBlockSize + 2,
               "the parser keeps asking");
    const std::string_view block =
        at >= file.size() ? std::string_view() : file.substr(at, log::kBlockSize);
    parser.FeedBlock(Slice(block.data(), block.size()));
  }
  return records;
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  Input in(data, size);
  const bool checksum = in.Bool();
  const std::string_view file = in.Rest();

  Recorder recorder;
  const std::vector<Record> records = ReadAll(file, checksum, 0, &recorder);

  uint64_t accounted = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    FUZZ_CHECK(r.data.size() <= file.size(), "record larger than the file");
    FUZZ_CHECK(r.offset + log::kHeaderSize <= r.end, "record ends before its header");
    FUZZ_CHECK(r.end <= file.size(), "record ends past the file");
    FUZZ_CHECK(i == 0 || records[i - 1].offset < r.offset,
               "record offsets not increasing");
    FUZZ_CHECK(i == 0 || records[i - 1].end <= r.offset, "records overlap");
    accounted += r.data.size();
  }
  for (const Drop& d : recorder.drops) {
    FUZZ_CHECK(d.bytes > 0, "empty drop reported");
    FUZZ_CHECK(d.offset < file.size() && d.bytes <= file.size() - d.offset,
               "drop outside the file");
    accounted += d.bytes;
  }
  FUZZ_CHECK(accounted <= file.size(), "records plus drops exceed the file");

  Recorder again_recorder;
  const std::vector<Record> again = ReadAll(file, checksum, 0, &again_recorder);
  FUZZ_CHECK(again.size() == records.size() &&
                 again_recorder.drops.size() == recorder.drops.size(),
             "reading is not deterministic");
  for (size_t i = 0; i < again.size(); ++i) {
    FUZZ_CHECK(again[i].data == records[i].data && again[i].offset == records[i].offset,
               "reading is not deterministic");
  }

  if (recorder.drops.empty() && !records.empty()) {
    for (const size_t k : {size_t{0}, records.size() / 2, records.size() - 1}) {
      Recorder suffix_recorder;
      const std::vector<Record> suffix =
          ReadAll(file, checksum, records[k].offset, &suffix_recorder);
      FUZZ_CHECK(suffix.size() == records.size() - k,
                 "initial_offset lost or found records");
      for (size_t i = 0; i < suffix.size(); ++i) {
        FUZZ_CHECK(suffix[i].data == records[k + i].data &&
                       suffix[i].offset == records[k + i].offset,
                   "initial_offset read a different record");
      }
      FUZZ_CHECK(suffix_recorder.drops.empty(), "initial_offset read reported a drop");
    }
  }
  return 0;
}
