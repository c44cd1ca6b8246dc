// corodb-log-switch-sync DIR [ROUNDS]: what a memory-table switch's fdatasync
// of the old log waits for (docs/benchmarks.md, "Where the owned 1 × 1
// fillseq loses to LevelDB"). Mimics one log in DIR: 4 MiB appended in
// 130-byte pwrites, with sync_file_range(WRITE) every MiB as corodb did
// until 2514420; then the switch's fdatasync, timed. Mode "plus fdatasync"
// also syncs every MiB (timed apart), as corodb now does in the background
// (docs/decisions.md, "Background log syncs"). Also times the
// directory fsync after each log is created. Plain POSIX calls, no corodb.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void RunMode(const std::string& dir, int rounds, bool sync_every_mib) {
  constexpr off_t kLogBytes = off_t{4} << 20;
  constexpr off_t kChunk = off_t{1} << 20;
  char record[130];
  std::memset(record, 'x', sizeof record);
  double final_ms = 0, every_mib_ms = 0, dir_ms = 0;
  for (int r = 0; r < rounds; ++r) {
    const std::string name = dir + "/log-switch-" + std::to_string(r);
    const int fd = ::open(name.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Die("open log");
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) Die("open directory");
    Clock::time_point start = Clock::now();
    if (::fsync(dir_fd) != 0) Die("fsync directory");
    dir_ms += MillisSince(start);
    off_t offset = 0, written_back = 0;
    while (offset < kLogBytes) {
      if (::pwrite(fd, record, sizeof record, offset) != static_cast<ssize_t>(sizeof record)) Die("pwrite");
      offset += static_cast<off_t>(sizeof record);
      if (offset - written_back >= kChunk) {
        if (::sync_file_range(fd, written_back, offset - written_back, SYNC_FILE_RANGE_WRITE) != 0) {
          Die("sync_file_range");
        }
        if (sync_every_mib) {
          start = Clock::now();
          if (::fdatasync(fd) != 0) Die("fdatasync");
          every_mib_ms += MillisSince(start);
        }
        written_back = offset;
      }
    }
    start = Clock::now();
    if (::fdatasync(fd) != 0) Die("fdatasync");
    final_ms += MillisSince(start);
    ::close(fd);
    ::close(dir_fd);
    ::unlink(name.c_str());
  }
  std::printf("%-26s final fdatasync %6.2f ms   fdatasyncs every MiB %6.2f ms per 4 MiB   directory fsync %5.2f ms\n",
              sync_every_mib ? "sync_file_range+fdatasync" : "sync_file_range only", final_ms / rounds,
              every_mib_ms / rounds, dir_ms / rounds);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: corodb-log-switch-sync DIR [ROUNDS]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 8;
  std::printf("averages over %d logs of 4 MiB each\n", rounds);
  RunMode(argv[1], rounds, /*sync_every_mib=*/false);
  RunMode(argv[1], rounds, /*sync_every_mib=*/true);
  return 0;
}
