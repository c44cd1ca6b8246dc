// corodb-page-touch DIR: what reading a database's tables costs here through
// a mapping against reads into one reused buffer (docs/benchmarks.md, "Scans
// read ahead in windows"). Maps every *.ldb file of DIR read-only, touches
// one byte per page (first touch, at once again, then again after 100 ms
// and 1 s idle), then reads every file with pread in 256 KiB and 32 KiB
// pieces. Run it on a directory whose files the page cache holds (read them
// once first). Prints µs per 4 KiB page. Plain POSIX calls, no corodb.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kPage = 4096;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

std::vector<std::string> Tables(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) Die("opendir");
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".ldb") == 0) {
      out.push_back(dir + "/" + name);
    }
  }
  ::closedir(d);
  return out;
}

double MicrosPerPage(Clock::time_point start, size_t pages) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
         static_cast<double>(pages);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: corodb-page-touch DIR\n");
    return 2;
  }
  const std::vector<std::string> files = Tables(argv[1]);
  if (files.empty()) {
    std::fprintf(stderr, "no .ldb files in %s\n", argv[1]);
    return 2;
  }
  std::vector<std::pair<const char*, size_t>> maps;
  size_t bytes = 0;
  for (const std::string& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY);
    if (fd < 0) Die("open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) Die("fstat");
    const auto size = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) Die("mmap");
    ::close(fd);
    maps.emplace_back(static_cast<const char*>(p), size);
    bytes += size;
  }
  const size_t pages = (bytes + kPage - 1) / kPage;
  std::printf("%zu files, %zu bytes, %zu pages\n", files.size(), bytes, pages);
  unsigned sum = 0;
  const char* const labels[] = {"first touch", "again at once", "after 100 ms idle",
                                "after 1 s idle"};
  const unsigned idle_ms[] = {0, 100, 1000, 0};
  for (int pass = 0; pass < 4; ++pass) {
    const Clock::time_point start = Clock::now();
    for (const auto& [p, n] : maps) {
      for (size_t i = 0; i < n; i += kPage) sum += static_cast<unsigned char>(p[i]);
    }
    std::printf("mapping, %-18s %.3f us/page\n", labels[pass], MicrosPerPage(start, pages));
    if (idle_ms[pass] > 0) ::usleep(idle_ms[pass] * 1000);
  }
  for (size_t piece : {size_t{256} << 10, size_t{32} << 10}) {
    std::vector<char> buf(piece);
    const Clock::time_point start = Clock::now();
    for (const std::string& f : files) {
      const int fd = ::open(f.c_str(), O_RDONLY);
      if (fd < 0) Die("open");
      off_t off = 0;
      ssize_t got = 0;
      while ((got = ::pread(fd, buf.data(), buf.size(), off)) > 0) {
        off += got;
        sum += static_cast<unsigned char>(buf[0]);
      }
      if (got < 0) Die("pread");
      ::close(fd);
    }
    std::printf("pread, %3zu KiB pieces      %.3f us/page\n", piece >> 10, MicrosPerPage(start, pages));
  }
  std::printf("(checksum %u)\n", sum);
  return 0;
}
