// FaultInjectionBackend: wraps a real backend for tests.
//
// - FailNthWrite / FailNthSync: the Nth write (or sync) from now completes with
//   -err and never reaches the file. Writes are kWrite and the write half of
//   kWriteThenFdatasync; syncs are kFdatasync, kFsync and the sync half.
// - Power cut: the backend records, per file path, how many bytes were
//   durable at the last successful sync; DropUnsyncedData() truncates every
//   tracked file to that length, as if the machine lost power. (Like
//   LevelDB's fault-injection env, it models appends; data overwritten in
//   place before a crash is not rolled back.)
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "io/backend.h"

namespace corodb::io {

class FaultInjectionBackend final : public Backend {
 public:
  explicit FaultInjectionBackend(std::shared_ptr<Backend> inner);

  std::string_view Name() const override { return name_; }
  void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
             IoHandler handler) override;
  IoCompletion RunInline(const IoRequest& req) override;
  void OnOpen(int fd, const std::string& path) override;
  void OnClose(int fd) override;

  // The n-th (1-based) write / sync started from now fails with `err`. n <= 0 disarms.
  void FailNthWrite(int n, int err);
  void FailNthSync(int n, int err);
  // Every write / sync from now fails with `err` (0 clears), e.g. a full disk.
  void FailAllWrites(int err);
  void FailAllSyncs(int err);

  // Truncates every tracked file to its durable length. Call with no I/O in flight.
  Status DropUnsyncedData();

  uint64_t writes_started() const { return writes_.load(); }
  uint64_t syncs_started() const { return syncs_.load(); }
  uint64_t faults_injected() const { return faults_.load(); }

 private:
  struct FileState {
    uint64_t written_end = 0;  // largest offset+len written so far
    uint64_t durable = 0;      // written_end as of the last successful sync
  };
  // Returns the injected error for this write/sync, or 0.
  int NextWriteFault();
  int NextSyncFault();
  void RecordWrite(int fd, uint64_t end);
  // Marks `written_end` (captured when the sync started) durable.
  void RecordSync(int fd, uint64_t written_end);
  uint64_t WrittenEnd(int fd);

  std::shared_ptr<Backend> inner_;
  std::string name_;
  std::atomic<uint64_t> writes_{0}, syncs_{0}, faults_{0};

  std::mutex mu_;
  int write_countdown_ = 0, write_err_ = 0, all_writes_err_ = 0;
  int sync_countdown_ = 0, sync_err_ = 0, all_syncs_err_ = 0;
  std::unordered_map<int, std::string> fd_paths_;
  std::map<std::string, FileState> files_;
};

}  // namespace corodb::io
