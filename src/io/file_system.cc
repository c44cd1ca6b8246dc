#include "io/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corodb::io {
namespace asio = boost::asio;

namespace {

Status PosixError(const std::string& path, int err) {
  if (err == ENOENT) return Status::NotFound(path, std::strerror(err));
  return Status::IOError(path, std::strerror(err));
}

Status RenameError(const std::string& from, const std::string& to, int err) {
  return Status::IOError(from + " -> " + to, std::strerror(err));
}

}  // namespace

FileSystem::FileSystem(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

Result<std::unique_ptr<File>> FileSystem::Open(const std::string& path, OpenMode mode,
                                               bool direct) const {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kRead:
      flags |= O_RDONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case OpenMode::kCreate:
      flags |= O_RDWR | O_CREAT | O_TRUNC;
      break;
    case OpenMode::kAppend:
      flags |= O_RDWR | O_CREAT;
      break;
  }
  if (direct) flags |= O_DIRECT;
  if (const int err = backend_->BeforeOpen(path); err != 0) return PosixError(path, err);
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return PosixError(path, errno);
  uint64_t append_offset = 0;
  if (mode == OpenMode::kAppend) {
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return PosixError(path, err);
    }
    append_offset = static_cast<uint64_t>(st.st_size);
  }
  backend_->OnOpen(fd, path);
  return std::make_unique<File>(backend_, fd, path, append_offset, direct);
}

asio::awaitable<Status> FileSystem::SyncDir(const std::string& dir) const {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) co_return PosixError(dir, errno);
  backend_->OnOpen(fd, dir);
  File file(backend_, fd, dir, 0);
  co_return co_await file.FullSync();
}

Status FileSystem::Rename(const std::string& from, const std::string& to) const {
  if (const int err = backend_->BeforeRename(from, to); err != 0) {
    return RenameError(from, to, err);
  }
  return RenameFile(from, to);
}

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Result<uint64_t> GetFileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PosixError(path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return PosixError(dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    const std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return PosixError(dir, err);
  return names;
}

Status CreateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError(dir, errno);
  return Status::OK();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return PosixError(path, errno);
  return Status::OK();
}

Status RemoveDir(const std::string& dir) {
  if (::rmdir(dir.c_str()) != 0) return PosixError(dir, errno);
  return Status::OK();
}

Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return RenameError(from, to, errno);
  return Status::OK();
}

}  // namespace corodb::io
