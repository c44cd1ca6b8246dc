// TableOutput: one table file being written by a flush, a compaction or a
// repair — a TableBuilder over a new file, plus the FileMetaData (number,
// size, smallest and largest key) of what was added.
//
// Invariants / thread safety: one coroutine uses it at a time. Keys are
// added in strictly increasing internal-key order (TableBuilder's rule).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "corodb/slice.h"
#include "corodb/status.h"
#include "io/file_system.h"
#include "table/table_builder.h"
#include "table/table_options.h"
#include "version/version_edit.h"

namespace corodb {

class TableOutput {
 public:
  // `options` and `fs` are not owned and must outlive the output.
  TableOutput(const table::TableOptions& options, const io::FileSystem& fs,
              std::string dbname)
      : options_(options), fs_(fs), dbname_(std::move(dbname)) {}

  bool is_open() const { return builder_ != nullptr; }

  // Creates table file `number` (NNNNNN.ldb), truncating one that exists.
  // Fails with the open's IOError.
  Status Open(uint64_t number);

  // Adds an entry. REQUIRES: is_open(); `key` after every key added before.
  // SUSPENDS: when the builder's buffer is flushed.
  boost::asio::awaitable<Status> Add(Slice key, Slice value);

  // Bytes written so far (buffered ones included). REQUIRES: is_open().
  uint64_t FileSize() const { return builder_->FileSize(); }
  // Entries added so far. REQUIRES: is_open().
  uint64_t NumEntries() const { return builder_->NumEntries(); }

  // Finishes, fdatasyncs and closes the table; fills *meta on success. The
  // file's directory entry is not synced (the caller syncs the directory
  // once for all its new files). On failure the file stays: the caller
  // removes it.
  // SUSPENDS: the last appends and the fdatasync.
  boost::asio::awaitable<Status> Finish(FileMetaData* meta);

  // Gives up on an unfinished table (the caller removes the file).
  void Abandon();

  uint64_t number() const { return meta_.number; }

 private:
  const table::TableOptions& options_;
  const io::FileSystem& fs_;
  const std::string dbname_;
  std::unique_ptr<io::File> file_;
  std::unique_ptr<table::TableBuilder> builder_;
  FileMetaData meta_;
  std::string last_key_;
};

}  // namespace corodb
