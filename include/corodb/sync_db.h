// SyncDB: the blocking facade over DB, for code without an event loop.
// Each method runs the same coroutine as DB on the calling thread (on an
// io_context of that thread's own, run until the call completes): no logic
// is written twice, a read never queues behind the commit loop, and an
// uncontended write commits on the calling thread without a thread switch.
//
//   auto db = corodb::SyncDB::Open(options, "/path/to/db");
//   Status s = (*db)->Put({}, "key", "value");
//
// Thread safety: as DB. Must not be called from inside a handler or
// coroutine of an io_context (it would block that context's thread).
#pragma once

#include <memory>
#include <string>

#include "corodb/db.h"

namespace corodb {

class DBImpl;

// A blocking Iterator: each move runs on the calling thread (a move that
// needs no I/O costs no coroutine; one that does reads on this thread).
// Same semantics and errors as Iterator.
class SyncIterator {
 public:
  explicit SyncIterator(std::unique_ptr<Iterator> it) : it_(std::move(it)) {}

  bool Valid() const { return it_->Valid(); }
  Slice key() const { return it_->key(); }
  Slice value() const { return it_->value(); }
  Status status() const { return it_->status(); }
  void SeekToFirst();
  void SeekToLast();
  void Seek(Slice target);
  void Next();
  void Prev();

  // The asynchronous iterator underneath.
  Iterator& async() { return *it_; }

 private:
  std::unique_ptr<Iterator> it_;
};

class SyncDB {
 public:
  static Result<std::unique_ptr<SyncDB>> Open(const Options& options, const std::string& name);
  // RepairDB (corodb/db.h), blocking until the repair is done.
  static Status Repair(const std::string& name, const Options& options);

  explicit SyncDB(std::unique_ptr<DB> db);
  ~SyncDB();

  Status Put(const WriteOptions& options, Slice key, Slice value);
  Status Delete(const WriteOptions& options, Slice key);
  Status Write(const WriteOptions& options, const WriteBatch& batch);
  Result<std::string> Get(const ReadOptions& options, Slice key);
  std::vector<Result<std::string>> MultiGet(const ReadOptions& options,
                                            std::span<const Slice> keys);
  Status Close();
  std::unique_ptr<SyncIterator> NewIterator(const ReadOptions& options) {
    return std::make_unique<SyncIterator>(db_->NewIterator(options));
  }
  SnapshotHandle GetSnapshot() { return db_->GetSnapshot(); }
  Status CompactRange(const Slice* begin, const Slice* end);
  std::vector<uint64_t> GetApproximateSizes(std::span<const DB::Range> ranges);
  void ReleaseSnapshot(SnapshotHandle& snapshot) { snapshot.reset(); }
  bool GetProperty(Slice property, std::string* value) { return db_->GetProperty(property, value); }

  // The asynchronous DB underneath.
  DB& async() { return *db_; }

 private:
  std::unique_ptr<DB> db_;
  DBImpl* impl_;  // db_ when it is corodb's engine (its fast paths), else nullptr
};

}  // namespace corodb
