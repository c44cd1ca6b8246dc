// FaultInjectionBackend: wraps a real backend for tests.
//
// - FailNthWrite / FailNthSync: the Nth write (or sync) from now completes with
//   -err and never reaches the file. Writes are kWrite and the write half of
//   kWriteThenFdatasync; syncs are kFdatasync, kFsync and the sync half. An
//   optional path filter makes only the writes/syncs of matching files count
//   (e.g. "the first write to a .ldb file from now").
// - FailNthRename: the Nth rename (FileSystem::Rename) from now fails with
//   err and renames nothing; an optional filter on the target path makes
//   only renames onto matching names count (e.g. "over CURRENT").
// - FailOpens / FailReads: every open of a file (FileSystem::Open) or every
//   read of a byte range that a filter accepts fails with the given errno,
//   until cleared: a missing resource (EMFILE, ENOMEM) or a bad sector
//   (EIO). While reads fail, no read bypasses the backend (AllowsCachedReads).
// - Power cut, file contents: the backend records, per file (by inode, so
//   renames do not confuse it), how many bytes were durable at the last
//   successful sync, and the old contents of every region overwritten
//   since; DropUnsyncedData() puts the overwritten bytes back and truncates
//   every tracked file to its durable length, as if the machine lost power
//   (appends and in-place overwrites both roll back). It keeps an O_PATH
//   descriptor per file it saw, so removed files stay allocated until the
//   backend is destroyed.
// - Power cut, directory entries (only for directories passed to
//   TrackDirectory): the entries of the directory as of the start of its
//   last successful fsync (FileSystem::SyncDir) are what survives.
//   DropUnsyncedData() removes names created since (files created, renamed
//   into place), and restores names removed or replaced since (unlinks,
//   renames over an existing name) with the inode they named then. This
//   covers files created or removed without the backend too (LOCK, LOG).
// - HoldSyncs: syncs started through Start() wait, already planned (they
//   cover the writes before them, and fail if they were chosen to), until
//   ReleaseSyncs() — so a test can look at the state while syncs are in flight.
//
// What the power-cut model does not cover:
// - Only one outcome of a power cut is produced: everything not synced is
//   lost. Real disks may keep any part of it (a later write but not an
//   earlier one, half of one write, one unsynced rename but not another);
//   those outcomes are not generated (torn records are tested separately by
//   damaging logs).
// - Metadata other than directory entries of tracked directories: a
//   truncation (File::Truncate, ftruncate) counts as durable at once (a file
//   never grows back); fsync(2) of a file is treated like fdatasync; the
//   creation of a tracked directory itself (its parent is not tracked);
//   subdirectories and symlinks in a tracked directory.
// - Contents of files written without the backend (LOG, LOCK): kept as they are.
// - An injected write error writes nothing; a real ENOSPC/EIO may write part
//   of the buffer first (short writes are tested with RLIMIT_FSIZE instead).
//
// Thread safety: all methods are thread-safe. Path filters are called with
// the backend's lock held, one call at a time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <compare>
#include <functional>
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
  // Closes the descriptors kept for tracked files and removes the shadow
  // directories of tracked directories.
  ~FaultInjectionBackend() override;

  std::string_view Name() const override { return name_; }
  void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
             IoHandler handler) override;
  IoCompletion RunInline(const IoRequest& req) override;
  void OnOpen(int fd, const std::string& path) override;
  void OnClose(int fd) override;
  int BeforeOpen(const std::string& path) override;
  int BeforeRename(const std::string& from, const std::string& to) override;
  bool AllowsCachedReads() const override;
  // Never (as the default): a power cut rolls back only the writes the
  // backend saw.
  bool AllowsMappedWrites() const override { return false; }

  // Selects the files whose writes/syncs an armed FailNth* counts, by the
  // path they were opened under (a directory's for SyncDir).
  using PathFilter = std::function<bool(const std::string& path)>;

  // The n-th (1-based) write / sync started from now (of a file `only`
  // accepts, when given) fails with `err`. n <= 0 disarms.
  void FailNthWrite(int n, int err, PathFilter only = nullptr);
  void FailNthSync(int n, int err, PathFilter only = nullptr);
  // The n-th (1-based) rename (FileSystem::Rename) started from now (onto a
  // path `only` accepts, when given) fails with `err`. n <= 0 disarms.
  void FailNthRename(int n, int err, PathFilter only = nullptr);
  // Every write / sync from now fails with `err` (0 clears), e.g. a full disk.
  void FailAllWrites(int err);
  void FailAllSyncs(int err);

  // Every open (FileSystem::Open) of a path `only` accepts fails with `err`
  // from now on, without opening it (0 clears).
  void FailOpens(int err, PathFilter only);
  // Every read that `only` accepts (the path the file was opened under and
  // the byte range asked for) fails with `err` from now on (0 clears).
  using ReadFilter =
      std::function<bool(const std::string& path, uint64_t offset, uint64_t len)>;
  void FailReads(int err, ReadFilter only);

  // Power cut right after the k-th successful sync from now (k >= 1): every
  // later write and sync fails with EIO, and a sync that completes after the
  // cut reports EIO and makes nothing durable. Then DropUnsyncedData() gives
  // the disk as the cut left it. successful_syncs() counts syncs that made
  // data durable (directory syncs included).
  void CutPowerAfterSyncs(int k);
  uint64_t successful_syncs();
  // The path of the file (or directory) whose sync was the last one before
  // the power cut; empty while the power is on.
  std::string power_cut_after_path();

  // Models the entries of `dir` (see the top of this file) from now on; what
  // it holds now counts as durable. `dir` may not exist yet (then it counts
  // as empty). Keeps hard links to the files of its durable entries in a
  // sibling directory "<dir>.fault-shadow-<n>" (same file system), removed
  // with the backend. Call before the I/O to be modeled starts.
  Status TrackDirectory(const std::string& dir);

  // While held, syncs (kFdatasync, kFsync) started through Start() wait.
  void HoldSyncs();
  // Stops holding and starts the held syncs, in the order they arrived.
  void ReleaseSyncs();
  size_t held_syncs();
  // The descriptors of the held syncs, in arrival order.
  std::vector<int> held_sync_fds();

  // Rolls every tracked file back to its durable contents, then every
  // tracked directory back to its durable entries. Call with no I/O in flight.
  Status DropUnsyncedData();

  uint64_t writes_started() const { return writes_.load(); }
  uint64_t syncs_started() const { return syncs_.load(); }
  uint64_t renames_started() const { return renames_.load(); }
  uint64_t faults_injected() const { return faults_.load(); }  // opens and reads too

 private:
  struct FileId {
    uint64_t dev = 0;
    uint64_t ino = 0;
    auto operator<=>(const FileId&) const = default;
  };
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
    int keep_fd = -1;          // O_PATH: keeps the inode (and its number) alive
    bool is_dir = false;
    std::string path;  // the path it was last opened under
  };
  struct OpenFd {
    FileId id;
    std::string path;
    std::string dir_key;  // canonical path, for directories
  };
  // Regular files of a directory: name -> inode.
  using Listing = std::map<std::string, FileId>;
  struct DirSnapshot {
    std::string key;
    uint64_t seq = 0;
    Listing entries;
  };
  struct DirState {
    std::string path;
    std::string shadow;  // hard links "<dev>-<ino>" to the inodes of `durable`
    Listing durable;
    uint64_t durable_seq = 0;
    int snapshots_in_flight = 0;
  };
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
    // A sync of a tracked directory: its entries when the sync started.
    std::shared_ptr<const DirSnapshot> dir;
  };

  // Saves what `req` (a write) is about to overwrite; returns its sequence.
  uint64_t SaveUndo(const IoRequest& req);
  // The sequence of the newest write started so far (a sync covers those).
  uint64_t LastWriteSeq();
  Plan Prepare(const IoRequest& req);
  // Fails `plan` at once or forwards it to the inner backend.
  void Launch(const boost::asio::any_io_executor& ex, const Plan& plan,
              IoHandler handler);
  void Finish(const Plan& plan, IoCompletion* c);
  // Returns the injected error for this write/sync of `fd`, or 0.
  int NextWriteFault(int fd);
  int NextSyncFault(int fd);
  int NextReadFault(const IoRequest& req);
  void RecordWrite(int fd, uint64_t end);
  // Marks `written_end` and the writes up to `seq` (both captured when the
  // sync started) durable, and the directory entries of `dir`. Returns false
  // (nothing recorded) after a power cut.
  bool RecordSync(int fd, uint64_t written_end, uint64_t seq, const DirSnapshot* dir);
  // Ends a directory sync's snapshot (durable or not) and prunes shadow links.
  void EndDirSnapshot(const DirSnapshot& dir);
  uint64_t WrittenEnd(int fd);
  // The entries of the tracked directory of `fd` (nullptr if it is none),
  // each linked into the shadow directory.
  std::shared_ptr<const DirSnapshot> SnapshotDir(int fd);
  // Lists the regular files of `dir` (an absent directory is empty).
  static Result<Listing> ListRegularFiles(const std::string& dir);
  // Links `dir/name` (inode `id`) as shadow/<id>; false if the name no longer
  // names that inode.
  static bool LinkIntoShadow(const std::string& dir, const std::string& name, FileId id,
                             const std::string& shadow);
  static std::string ShadowName(FileId id);
  // Removes shadow links no durable entry needs. REQUIRES: mu_ held.
  void PruneShadowLocked(DirState* dir);
  Status RollBackFileLocked(FileState* f);
  Status RollBackDirLocked(DirState* dir);

  std::shared_ptr<Backend> inner_;
  std::string name_;
  std::atomic<uint64_t> writes_{0}, syncs_{0}, renames_{0}, faults_{0};

  std::mutex mu_;
  int write_countdown_ = 0, write_err_ = 0, all_writes_err_ = 0;
  int sync_countdown_ = 0, sync_err_ = 0, all_syncs_err_ = 0;
  int rename_countdown_ = 0, rename_err_ = 0;
  PathFilter write_filter_, sync_filter_, rename_filter_;
  int open_err_ = 0, read_err_ = 0;
  PathFilter open_filter_;
  ReadFilter read_filter_;
  std::atomic<bool> reads_fail_{false};  // read_err_ != 0, read without mu_
  uint64_t successful_syncs_ = 0;
  uint64_t cut_after_syncs_ = 0;  // 0: no power cut planned
  bool power_cut_ = false;
  std::string power_cut_after_path_;
  std::unordered_map<int, OpenFd> fds_;
  std::map<FileId, FileState> files_;
  std::map<std::string, DirState> dirs_;  // by canonical path
  uint64_t dir_seq_ = 0;
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
