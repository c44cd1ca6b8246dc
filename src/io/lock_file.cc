#include "io/lock_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corodb::io {

Result<std::unique_ptr<LockFile>> LockFile::Acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path, std::strerror(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EAGAIN || err == EACCES) {
      return Status::IOError(path, "lock held by another process or DB instance (the database is "
                                   "already open)");
    }
    return Status::IOError(path, std::string("lock: ") + std::strerror(err));
  }
  return std::unique_ptr<LockFile>(new LockFile(fd, path));
}

LockFile::~LockFile() { ::close(fd_); }  // closing the last descriptor drops the OFD lock

}  // namespace corodb::io
