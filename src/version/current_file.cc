#include "version/current_file.h"

#include "io/file_names.h"

namespace corodb {
namespace asio = boost::asio;

asio::awaitable<Status> SetCurrentFile(const io::FileSystem& fs,
                                       const std::string& dbname,
                                       uint64_t manifest_number) {
  const std::string manifest = io::DescriptorFileName(dbname, manifest_number);
  const std::string contents = manifest.substr(dbname.size() + 1) + "\n";
  const std::string tmp = io::TempFileName(dbname, manifest_number);
  {
    auto file = fs.Open(tmp, io::OpenMode::kCreate);
    if (!file.ok()) co_return file.status();
    Status s = co_await (*file)->Append(std::span<const char>(contents));
    if (s.ok()) s = co_await (*file)->Sync();
    if (!s.ok()) {
      (void)io::RemoveFile(tmp);
      co_return s;
    }
  }
  if (Status s = fs.Rename(tmp, io::CurrentFileName(dbname)); !s.ok()) {
    (void)io::RemoveFile(tmp);
    co_return s;
  }
  co_return co_await fs.SyncDir(dbname);
}

asio::awaitable<Result<uint64_t>> ReadCurrentFile(const io::FileSystem& fs,
                                                  const std::string& dbname) {
  // A CURRENT longer than this names no MANIFEST (names have 15 to 29 bytes).
  constexpr size_t kMaxCurrentSize = 4096;
  const std::string path = io::CurrentFileName(dbname);
  auto file = fs.Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  std::string contents(kMaxCurrentSize + 1, '\0');
  Result<size_t> n = co_await (*file)->ReadAt(0, std::span<char>(contents));
  if (!n.ok()) co_return n.status();
  contents.resize(*n);
  if (contents.empty() || contents.back() != '\n') {
    co_return Status::Corruption(path, "does not end with a newline");
  }
  contents.pop_back();
  uint64_t number = 0;
  io::FileType type;
  if (!io::ParseFileName(contents, &number, &type) ||
      type != io::FileType::kDescriptorFile) {
    co_return Status::Corruption(
        path, "does not name a MANIFEST file: '" + contents.substr(0, 64) + "'");
  }
  co_return number;
}

}  // namespace corodb
