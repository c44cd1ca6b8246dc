#include "db/recovery.h"

#include <algorithm>
#include <set>

#include "db/config.h"
#include "db/write_batch_internal.h"
#include "io/file_names.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "util/logging.h"
#include "version/current_file.h"
#include "version/version_edit.h"
#include "version/version_set.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// Collects what a log reader reports: the earliest dropped bytes (for
// paranoid_checks) and the total bytes dropped (logged otherwise).
class CorruptionCollector final : public log::Reporter {
 public:
  explicit CorruptionCollector(Logger* logger) : logger_(logger) {}
  void Corruption(uint64_t offset, size_t bytes, const Status& status) override {
    CORODB_LOG(logger_, "recovery: dropping %zu bytes: %s", bytes, status.ToString().c_str());
    bytes_dropped += bytes;
    if (first.ok() || offset < first_offset) {
      first = status;
      first_offset = offset;
    }
  }
  // The corruption at the smallest offset reported so far (OK if none).
  Status first;
  uint64_t first_offset = 0;
  size_t bytes_dropped = 0;

 private:
  Logger* logger_;
};

}  // namespace

asio::awaitable<Status> Recovery::WriteManifest(uint64_t number, uint64_t log_number,
                                                uint64_t next_file_number,
                                                SequenceNumber last_sequence) {
  VersionEdit edit;
  edit.SetComparatorName(icmp_.user_comparator()->Name());
  edit.SetLogNumber(log_number);
  edit.SetNextFile(next_file_number);
  edit.SetLastSequence(last_sequence);
  std::string record;
  edit.EncodeTo(&record);
  std::string bytes;
  log::Writer writer;
  writer.AddRecord(record, &bytes);

  const std::string manifest = io::DescriptorFileName(dbname_, number);
  Status s;
  {
    auto file = fs_.Open(manifest, io::OpenMode::kCreate);
    if (!file.ok()) co_return file.status();
    s = co_await (*file)->AppendAndSync(std::span<const char>(bytes));
  }
  // Not named by CURRENT yet: removing it loses nothing.
  if (!s.ok()) (void)io::RemoveFile(manifest);
  co_return s;
}

asio::awaitable<Status> Recovery::CreateNew() {
  if (Status s = co_await WriteManifest(1, /*log_number=*/0, /*next_file_number=*/2,
                                        /*last_sequence=*/0);
      !s.ok()) {
    co_return s;
  }
  // On failure the MANIFEST stays: CURRENT may already name it (a failed
  // directory sync after the rename); if not, the next Open creates it anew.
  co_return co_await SetCurrentFile(fs_, dbname_, 1);
}

asio::awaitable<Status> Recovery::ReplayLog(uint64_t number, RecoveredState* state) {
  const std::string path = io::LogFileName(dbname_, number);
  auto file = fs_.Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  CorruptionCollector reporter(logger_);
  log::Reader reader(**file, &reporter, /*checksum=*/true);
  std::string record;
  WriteBatch batch;
  uint64_t records = 0;
  uint64_t copies = 0;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) co_return more.status();
    if (options_.paranoid_checks && !reporter.first.ok()) {
      // Bytes were dropped. A record after them means damage in the middle
      // of the log. Otherwise the reader ran to the end: from the first
      // dropped byte on, the log must be one torn record and zeros.
      if (*more) {
        co_return Status::Corruption(
            reporter.first.message(),
            "a record follows the damage (at offset " +
                std::to_string(reader.LastRecordOffset()) + "): not a torn tail");
      }
      Result<bool> torn = co_await log::IsTornRecordBeforeZeros(**file, reporter.first_offset);
      if (!torn.ok()) co_return torn.status();
      if (!*torn) co_return reporter.first;
      CORODB_LOG(logger_, "recovery: %s: torn record at offset %llu before preallocated zeros; "
                 "treated as end of log", path.c_str(),
                 static_cast<unsigned long long>(reporter.first_offset));
      break;
    }
    if (!*more) break;
    const std::string where = path + " at offset " + std::to_string(reader.LastRecordOffset());
    Status s = WriteBatchInternal::SetContents(&batch, record);
    const SequenceNumber first = s.ok() ? WriteBatchInternal::Sequence(batch) : 0;
    const SequenceNumber last = first + (s.ok() ? WriteBatchInternal::Count(batch) : 0) - 1;
    const uint32_t count = s.ok() ? WriteBatchInternal::Count(batch) : 0;
    if (s.ok() && count > 0 &&
        (first > kMaxSequenceNumber || count - 1 > kMaxSequenceNumber - first)) {
      // Keys carry 56-bit sequences: inserted, these would wrap to small
      // numbers, and older values would shadow newer ones.
      s = Status::Corruption("sequence numbers " + std::to_string(first) + ".." +
                             std::to_string(first + (count - 1)) + " run past the largest (" +
                             std::to_string(kMaxSequenceNumber) + ")");
    }
    if (s.ok() && state->max_replayed_sequence > 0 && first <= state->max_replayed_sequence) {
      if (last <= state->max_replayed_sequence) {
        ++copies;  // replayed already (see the replay rule in recovery.h)
        continue;
      }
      s = Status::Corruption("sequence numbers " + std::to_string(first) + ".." +
                             std::to_string(last) + " overlap those replayed (up to " +
                             std::to_string(state->max_replayed_sequence) + ")");
    }
    if (s.ok()) s = WriteBatchInternal::InsertInto(batch, state->memtables.back().get());
    if (!s.ok()) {
      const Status located = Status::Corruption(where, s.ToString());
      if (options_.paranoid_checks) co_return located;
      reporter.Corruption(reader.LastRecordOffset(), record.size(), located);
      continue;
    }
    ++records;
    if (WriteBatchInternal::Count(batch) > 0) {
      state->last_sequence = std::max(state->last_sequence, last);
      state->max_replayed_sequence = std::max(state->max_replayed_sequence, last);
    }
    if (state->memtables.back()->ApproximateMemoryUsage() > options_.write_buffer_size) {
      state->memtables.push_back(MemTable::Create(icmp_));
    }
  }
  const Result<uint64_t> size = (*file)->Size();
  if (size.ok() && *size > reader.EndOfLastRecord()) {
    CORODB_LOG(logger_, "recovery: %s: ignoring %llu bytes after offset %llu (torn tail or damage)",
               path.c_str(), static_cast<unsigned long long>(*size - reader.EndOfLastRecord()),
               static_cast<unsigned long long>(reader.EndOfLastRecord()));
  }
  CORODB_LOG(logger_, "recovery: %s: %llu records replayed, %llu copies of replayed records "
             "skipped, %zu bytes dropped", path.c_str(), static_cast<unsigned long long>(records),
             static_cast<unsigned long long>(copies), reporter.bytes_dropped);
  state->records_replayed += records;
  state->copies_skipped += copies;
  co_return Status::OK();
}

asio::awaitable<Result<RecoveredState>> Recovery::Run() {
  bool save_manifest = false;
  if (Status s = co_await versions_->Recover(&save_manifest); !s.ok()) co_return s;
  if (after_manifest_read_for_testing) after_manifest_read_for_testing();

  RecoveredState state;
  state.last_sequence = versions_->last_sequence();
  const uint64_t min_log = versions_->log_number();
  const uint64_t prev_log = versions_->prev_log_number();
  auto names = io::ListDir(dbname_);
  if (!names.ok()) co_return names.status();
  std::set<uint64_t> expected_tables;
  versions_->AddLiveFiles(&expected_tables);
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    versions_->MarkFileNumberUsed(number);
    if (type == io::FileType::kTableFile) expected_tables.erase(number);
    if (type == io::FileType::kLogFile && (number >= min_log || number == prev_log)) {
      state.log_numbers.push_back(number);
    }
  }
  if (!expected_tables.empty()) {
    co_return Status::Corruption(io::TableFileName(dbname_, *expected_tables.begin()),
                                 std::to_string(expected_tables.size()) +
                                     " table file(s) named by the MANIFEST are missing");
  }
  std::sort(state.log_numbers.begin(), state.log_numbers.end());
  state.memtables.push_back(MemTable::Create(icmp_));
  for (uint64_t number : state.log_numbers) {
    if (Status s = co_await ReplayLog(number, &state); !s.ok()) co_return s;
  }
  state.next_file_number = versions_->next_file_number();
  co_return state;
}

}  // namespace corodb
