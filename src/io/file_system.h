// FileSystem: opens Files on one backend, plus the blocking metadata helpers
// (rename, remove, list, mkdir) that LevelDB's Env offers. Metadata calls are
// rare and cheap and run as plain syscalls on the calling thread.
//
// Thread safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "io/backend.h"
#include "io/file.h"
#include "util/result.h"

namespace corodb::io {

enum class OpenMode {
  kRead,          // O_RDONLY; fails NotFound-style IOError when missing
  kReadWrite,     // O_RDWR, must exist
  kCreate,        // O_RDWR | O_CREAT | O_TRUNC
  kAppend,        // O_RDWR | O_CREAT; append_offset() starts at the current size
};

class FileSystem {
 public:
  explicit FileSystem(std::shared_ptr<Backend> backend);

  Backend& backend() const { return *backend_; }
  const std::shared_ptr<Backend>& shared_backend() const { return backend_; }

  // Opens `path`. `direct` adds O_DIRECT (reads then need AlignedBuffer).
  // Fails with IOError naming the path (NotFound when kRead/kReadWrite and missing).
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode,
                                     bool direct = false) const;

  // fsync of a directory, so that creations, renames and removals in it are durable.
  // SUSPENDS: one backend fsync.
  boost::asio::awaitable<Status> SyncDir(const std::string& dir) const;

  // rename(2) of `from` to `to` (atomically replaces `to`), through the
  // backend's BeforeRename hook (fault injection). Errors as RenameFile's.
  Status Rename(const std::string& from, const std::string& to) const;

 private:
  std::shared_ptr<Backend> backend_;
};

// Blocking metadata helpers. Errors are IOError("<path>: <strerror>").
bool FileExists(const std::string& path);
Result<uint64_t> GetFileSize(const std::string& path);
// Names (not paths) of the entries of `dir`, without "." and "..".
Result<std::vector<std::string>> ListDir(const std::string& dir);
// Creates `dir` if it does not exist (parents must exist).
Status CreateDir(const std::string& dir);
Status RemoveFile(const std::string& path);
Status RemoveDir(const std::string& dir);
// rename(2): atomically replaces `to`.
Status RenameFile(const std::string& from, const std::string& to);

}  // namespace corodb::io
