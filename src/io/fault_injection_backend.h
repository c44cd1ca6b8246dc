// FaultInjectionBackend: wraps a real backend for tests.
//
// - FailNthWrite / FailNthSync: the Nth write (or sync) from now completes with
//   -err and never reaches the file. Writes are kWrite and the write half of
//   kWriteThenFdatasync; syncs are kFdatasync, kFsync and the sync half.
// - Power cut: the backend records, per file path, how many bytes were
//   durable at the last successful sync, and the old contents of every
//   region overwritten since; DropUnsyncedData() puts the overwritten bytes
//   back and truncates every tracked file to its durable length, as if the
//   machine lost power (appends and in-place overwrites both roll back).
// - HoldSyncs: syncs started through Start() wait, already planned (they
//   cover the writes before them, and fail if they were chosen to), until
//   ReleaseSyncs() — so a test can look at the state while syncs are in flight.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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

  // Power cut right after the k-th successful sync from now (k >= 1): every
  // later write and sync fails with EIO, and a sync that completes after the
  // cut reports EIO and makes nothing durable. Then DropUnsyncedData() gives
  // the disk as the cut left it. successful_syncs() counts syncs that made
  // data durable.
  void CutPowerAfterSyncs(int k);
  uint64_t successful_syncs();

  // While held, syncs (kFdatasync, kFsync) started through Start() wait.
  void HoldSyncs();
  // Stops holding and starts the held syncs, in the order they arrived.
  void ReleaseSyncs();
  size_t held_syncs();
  // The descriptors of the held syncs, in arrival order.
  std::vector<int> held_sync_fds();

  // Truncates every tracked file to its durable length. Call with no I/O in flight.
  Status DropUnsyncedData();

  uint64_t writes_started() const { return writes_.load(); }
  uint64_t syncs_started() const { return syncs_.load(); }
  uint64_t faults_injected() const { return faults_.load(); }

 private:
  // Bytes a write overwrote, to put back if the write is not synced before a power cut.
  struct Undo {
    uint64_t offset = 0;
    std::string old_bytes;
    uint64_t seq = 0;  // write order
  };
  struct FileState {
    uint64_t written_end = 0;  // largest offset+len written so far
    uint64_t durable = 0;      // written_end as of the last successful sync
    std::vector<Undo> undo;    // overwrites not yet covered by a sync, oldest first
  };
  // Saves what `req` (a write) is about to overwrite; returns its sequence.
  uint64_t SaveUndo(const IoRequest& req);
  // The sequence of the newest write started so far (a sync covers those).
  uint64_t LastWriteSeq();
  // What to do with one request: fail it at once, or forward it (a failing
  // sync of a linked write is forwarded as a plain write) and record the
  // outcome afterwards. Shared by Start() and RunInline().
  struct Plan {
    IoRequest req;
    IoRequest forwarded;
    std::optional<IoCompletion> fail;
    int sync_err = 0;
    uint64_t written_before = 0;
    uint64_t seq = 0;
  };
  Plan Prepare(const IoRequest& req);
  // Fails `plan` at once or forwards it to the inner backend.
  void Launch(const boost::asio::any_io_executor& ex, const Plan& plan, IoHandler handler);
  void Finish(const Plan& plan, IoCompletion* c);
  // Returns the injected error for this write/sync, or 0.
  int NextWriteFault();
  int NextSyncFault();
  void RecordWrite(int fd, uint64_t end);
  // Marks `written_end` and the writes up to `seq` (both captured when the
  // sync started) durable. Returns false (nothing recorded) after a power cut.
  bool RecordSync(int fd, uint64_t written_end, uint64_t seq);
  uint64_t WrittenEnd(int fd);

  std::shared_ptr<Backend> inner_;
  std::string name_;
  std::atomic<uint64_t> writes_{0}, syncs_{0}, faults_{0};

  std::mutex mu_;
  int write_countdown_ = 0, write_err_ = 0, all_writes_err_ = 0;
  int sync_countdown_ = 0, sync_err_ = 0, all_syncs_err_ = 0;
  uint64_t successful_syncs_ = 0;
  uint64_t cut_after_syncs_ = 0;  // 0: no power cut planned
  bool power_cut_ = false;
  std::unordered_map<int, std::string> fd_paths_;
  std::map<std::string, FileState> files_;
  uint64_t write_seq_ = 0;
  struct Held {
    boost::asio::any_io_executor ex;
    Plan plan;
    IoHandler handler;
  };
  bool holding_syncs_ = false;
  std::vector<Held> held_;
};

}  // namespace corodb::io
