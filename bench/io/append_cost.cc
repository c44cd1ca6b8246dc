// corodb-append-cost DIR [RECORDS]: what appending one WAL record to the page
// cache costs here (docs/benchmarks.md, "WAL appends through a mapping"):
// a bare system call (getppid), a 130-byte pwrite appending to a file, the
// same into zeros written beforehand, and a memcpy into a MAP_SHARED mapping
// of zeros written beforehand (page faults included). Prints µs per record,
// three rounds each. Plain POSIX calls, no corodb.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

double MicrosPer(Clock::time_point start, long n) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
         static_cast<double>(n);
}

int Create(const std::string& path, size_t zeros) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) Die("open");
  const std::string z(1 << 20, '\0');
  for (size_t at = 0; at < zeros; at += z.size()) {
    if (::pwrite(fd, z.data(), std::min(z.size(), zeros - at), static_cast<off_t>(at)) < 0) {
      Die("pwrite zeros");
    }
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [RECORDS]\n", argv[0]);
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/append-cost";
  const long n = argc > 2 ? std::atol(argv[2]) : 500000;
  char record[130];
  std::memset(record, 'x', sizeof(record));
  const size_t bytes = static_cast<size_t>(n) * sizeof(record);
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    for (long i = 0; i < n; ++i) (void)::getppid();
    const double syscall = MicrosPer(start, n);

    int fd = Create(path, 0);
    start = Clock::now();
    for (long i = 0; i < n; ++i) {
      if (::pwrite(fd, record, sizeof(record), static_cast<off_t>(i * sizeof(record))) < 0) {
        Die("pwrite");
      }
    }
    const double append = MicrosPer(start, n);
    ::close(fd);

    fd = Create(path, bytes);
    start = Clock::now();
    for (long i = 0; i < n; ++i) {
      if (::pwrite(fd, record, sizeof(record), static_cast<off_t>(i * sizeof(record))) < 0) {
        Die("pwrite");
      }
    }
    const double overwrite = MicrosPer(start, n);
    ::close(fd);

    fd = Create(path, bytes);
    void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) Die("mmap");
    start = Clock::now();
    for (long i = 0; i < n; ++i) {
      std::memcpy(static_cast<char*>(map) + i * sizeof(record), record, sizeof(record));
    }
    const double copy = MicrosPer(start, n);
    ::munmap(map, bytes);
    ::close(fd);
    std::printf("round %d: getppid %.3f us, pwrite append %.3f us, pwrite into zeros %.3f us, "
                "mapped copy into zeros %.3f us per record\n",
                round + 1, syscall, append, overwrite, copy);
  }
  ::unlink(path.c_str());
  return 0;
}
