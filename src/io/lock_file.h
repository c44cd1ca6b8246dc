// LockFile: the database directory's LOCK, held for the life of an open DB.
//
// Uses an open-file-description lock (F_OFD_SETLK), which excludes a second
// opener in another process *and* in this process (POSIX record locks would
// not exclude the same process). The lock is released when the object dies,
// or by the kernel when the process dies (so SIGKILL leaves no stale lock).
#pragma once

#include <memory>
#include <string>

#include "util/result.h"

namespace corodb::io {

class LockFile {
 public:
  // Creates `path` if needed and locks it. Fails with IOError
  // "<path>: lock held by another process or DB instance" when someone holds it.
  static Result<std::unique_ptr<LockFile>> Acquire(const std::string& path);

  ~LockFile();
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  LockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

}  // namespace corodb::io
