// Helpers shared by the log tests: encode records with log::Writer, parse a
// whole in-memory log with log::RecordParser, collect reported corruption.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "log/log_format.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "util/random.h"

namespace corodb::log::testing {

struct Drop {
  size_t bytes;
  std::string message;  // Status::ToString()
  uint64_t offset = 0;
};

class CollectingReporter final : public Reporter {
 public:
  void Corruption(uint64_t offset, size_t bytes, const Status& status) override {
    BOOST_TEST(status.IsCorruption());
    // The message names the same offset.
    BOOST_TEST(status.ToString().find(": offset " + std::to_string(offset) + ": ") !=
                   std::string::npos,
               status.ToString());
    drops.push_back({bytes, status.ToString(), offset});
  }
  size_t TotalDropped() const {
    size_t n = 0;
    for (const Drop& d : drops) n += d.bytes;
    return n;
  }
  std::vector<Drop> drops;
};

// Encodes `records` as one log (starting at offset 0).
inline std::string Encode(const std::vector<std::string>& records,
                          std::vector<uint64_t>* ends = nullptr) {
  Writer writer;
  std::string out;
  for (const std::string& r : records) {
    writer.AddRecord(r, &out);
    if (ends != nullptr) ends->push_back(out.size());
  }
  BOOST_REQUIRE(writer.length() == out.size());
  return out;
}

struct ParseOutcome {
  std::vector<std::string> records;
  std::vector<uint64_t> record_offsets;  // LastRecordOffset() after each
  uint64_t end_of_last_record = 0;
};

// Reads `file` to its end through a RecordParser fed 32 KiB blocks.
inline ParseOutcome ParseAll(const std::string& file, Reporter* reporter,
                             bool checksum = true, uint64_t initial_offset = 0) {
  RecordParser parser("000007.log", reporter, checksum, initial_offset);
  ParseOutcome out;
  std::string record;
  for (int guard = 0; guard < 1000000; ++guard) {
    switch (parser.Next(&record)) {
      case RecordParser::Step::kRecord:
        out.records.push_back(record);
        out.record_offsets.push_back(parser.LastRecordOffset());
        break;
      case RecordParser::Step::kNeedBlock: {
        const uint64_t offset = parser.NextBlockOffset();
        BOOST_REQUIRE(offset % kBlockSize == 0);
        const Slice block =
            offset >= file.size() ? Slice() : Slice(file).substr(offset, kBlockSize);
        parser.FeedBlock(block);
        break;
      }
      case RecordParser::Step::kEndOfLog:
        out.end_of_last_record = parser.EndOfLastRecord();
        return out;
    }
  }
  BOOST_FAIL("parser did not terminate");
  return out;
}

inline std::string RandomString(size_t n, Random* rnd) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(' ' + rnd->Uniform(95));
  return s;
}

}  // namespace corodb::log::testing
