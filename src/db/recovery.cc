#include "db/recovery.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "db/config.h"
#include "db/write_batch_internal.h"
#include "io/file_names.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "util/logging.h"
#include "version/current_file.h"
#include "version/version_edit.h"

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

asio::awaitable<Result<Recovery::ManifestState>> Recovery::ReadManifest() {
  const std::string current_path = io::CurrentFileName(dbname_);
  std::string current;
  {
    std::ifstream in(current_path, std::ios::binary);
    if (!in) co_return Status::IOError(current_path, "cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    current = ss.str();
  }
  if (current.empty() || current.back() != '\n') {
    co_return Status::Corruption(current_path, "does not end with a newline");
  }
  current.pop_back();
  uint64_t manifest_number;
  io::FileType type;
  if (!io::ParseFileName(current, &manifest_number, &type) ||
      type != io::FileType::kDescriptorFile) {
    co_return Status::Corruption(current_path, "does not name a MANIFEST file: '" + current + "'");
  }
  const std::string manifest_path = dbname_ + "/" + current;
  auto file = fs_.Open(manifest_path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();

  CorruptionCollector reporter(logger_);
  log::Reader reader(**file, &reporter, /*checksum=*/true);
  ManifestState state;
  bool have_comparator = false, have_log = false, have_next = false, have_seq = false;
  std::string record;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) co_return more.status();
    if (!reporter.first.ok()) co_return reporter.first;  // MANIFEST damage is never skipped
    if (!*more) break;
    VersionEdit edit;
    if (Status s = edit.DecodeFrom(record); !s.ok()) {
      co_return Status::Corruption(manifest_path + " at offset " +
                                       std::to_string(reader.LastRecordOffset()),
                                   s.ToString());
    }
    if (edit.comparator()) {
      if (*edit.comparator() != icmp_.user_comparator()->Name()) {
        co_return Status::InvalidArgument(
            dbname_, "comparator '" + *edit.comparator() + "' does not match '" +
                         icmp_.user_comparator()->Name() + "'");
      }
      have_comparator = true;
    }
    if (!edit.new_files().empty()) {
      co_return Status::NotSupported(
          manifest_path, "the database has table files; reading tables arrives with the version set");
    }
    if (edit.log_number()) {
      state.log_number = *edit.log_number();
      have_log = true;
    }
    if (edit.prev_log_number()) state.prev_log_number = *edit.prev_log_number();
    if (edit.next_file_number()) {
      state.next_file_number = *edit.next_file_number();
      have_next = true;
    }
    if (edit.last_sequence()) {
      state.last_sequence = *edit.last_sequence();
      have_seq = true;
    }
  }
  (void)have_comparator;
  if (!have_next) co_return Status::Corruption(manifest_path, "no meta-nextfile entry");
  if (!have_log) co_return Status::Corruption(manifest_path, "no meta-lognumber entry");
  if (!have_seq) co_return Status::Corruption(manifest_path, "no last-sequence-number entry");
  co_return state;
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
    state->replayed_batches.push_back(std::move(record));
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

asio::awaitable<Status> Recovery::MakeReplayDurable(const RecoveredState& state,
                                                    uint64_t log_number, io::File& log,
                                                    log::Writer& writer, uint64_t manifest_number,
                                                    uint64_t next_file_number) {
  if (state.replayed_batches.empty()) co_return Status::OK();
  // 1. The replayed batches, byte for byte, into the new log, made durable.
  std::string bytes;
  uint64_t written = 0;
  for (size_t i = 0; i < state.replayed_batches.size(); ++i) {
    writer.AddRecord(state.replayed_batches[i], &bytes);
    if (bytes.size() >= config::kRecoveryRewriteChunk || i + 1 == state.replayed_batches.size()) {
      if (Status s = co_await log.Append(std::span<const char>(bytes)); !s.ok()) co_return s;
      written += bytes.size();
      bytes.clear();
    }
  }
  if (Status s = co_await log.Sync(); !s.ok()) co_return s;
  if (Status s = co_await fs_.SyncDir(dbname_); !s.ok()) co_return s;
  // 2. A MANIFEST whose log number makes the old logs obsolete, and CURRENT.
  if (Status s = co_await WriteManifest(manifest_number, log_number, next_file_number,
                                        state.last_sequence);
      !s.ok()) {
    co_return s;
  }
  if (Status s = co_await SetCurrentFile(fs_, dbname_, manifest_number); !s.ok()) co_return s;
  CORODB_LOG(logger_, "recovery: %zu replayed batches (%llu bytes) made durable in %s; now %s",
             state.replayed_batches.size(), static_cast<unsigned long long>(written),
             log.path().c_str(), io::DescriptorFileName(dbname_, manifest_number).c_str());
  // 3. What the new MANIFEST made obsolete.
  RemoveObsoleteFiles(log_number, manifest_number);
  co_return Status::OK();
}

void Recovery::RemoveObsoleteFiles(uint64_t log_number, uint64_t manifest_number) {
  auto names = io::ListDir(dbname_);
  if (!names.ok()) {
    CORODB_LOG(logger_, "recovery: cannot list obsolete files: %s", names.status().ToString().c_str());
    return;
  }
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    const bool obsolete = (type == io::FileType::kLogFile && number < log_number) ||
                          (type == io::FileType::kDescriptorFile && number < manifest_number);
    if (!obsolete) continue;
    if (Status s = io::RemoveFile(dbname_ + "/" + name); !s.ok()) {
      CORODB_LOG(logger_, "recovery: cannot remove obsolete %s: %s", name.c_str(),
                 s.ToString().c_str());
    } else {
      CORODB_LOG(logger_, "recovery: removed obsolete %s", name.c_str());
    }
  }
}

asio::awaitable<Result<RecoveredState>> Recovery::Run() {
  Result<ManifestState> manifest = co_await ReadManifest();
  if (!manifest.ok()) co_return manifest.status();

  RecoveredState state;
  state.last_sequence = manifest->last_sequence;
  state.next_file_number = manifest->next_file_number;
  auto names = io::ListDir(dbname_);
  if (!names.ok()) co_return names.status();
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    state.next_file_number = std::max(state.next_file_number, number + 1);
    if (type == io::FileType::kLogFile &&
        (number >= manifest->log_number || number == manifest->prev_log_number)) {
      state.log_numbers.push_back(number);
    }
  }
  std::sort(state.log_numbers.begin(), state.log_numbers.end());
  state.memtables.push_back(MemTable::Create(icmp_));
  for (uint64_t number : state.log_numbers) {
    if (Status s = co_await ReplayLog(number, &state); !s.ok()) co_return s;
  }
  co_return state;
}

}  // namespace corodb
