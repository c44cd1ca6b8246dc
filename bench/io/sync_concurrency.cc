// corodb-sync-concurrency DIR [SECONDS] [GROUP_BYTES]: how many fdatasyncs
// per second this disk completes with 1, 2, 3, 4 and 8 of them in flight on
// one log, as sync groups make them (docs/benchmarks.md, "Sync groups
// against the disk's own concurrency"). The log is 256 MiB of zeros written
// and synced first (corodb's preallocated log space); then T threads each
// loop: take the next GROUP_BYTES of the log (default 4160: 32 writes of a
// 130-byte record), pwrite them through a descriptor of its own, fdatasync
// it. Prints syncs/s and the mean latency of one sync for each T. From
// these, the most a sync-bound workload of W writers can reach with G
// groups in flight, and no CPU between groups, is (W / G) x the rate at
// T = G. Plain POSIX calls, no corodb.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kLogBytes = size_t{256} << 20;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// The log's zeros, written and made durable: overwrites of them need no
// journal commit for a new size or new blocks.
void Preallocate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) Die("open");
  const std::string z(1 << 20, '\0');
  for (size_t at = 0; at < kLogBytes; at += z.size()) {
    if (::pwrite(fd, z.data(), z.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(z.size())) {
      Die("pwrite zeros");
    }
  }
  if (::fdatasync(fd) != 0) Die("fdatasync");
  ::close(fd);
}

struct Result {
  double syncs_per_second;
  double mean_micros;
};

Result Run(const std::string& path, int threads, double seconds, size_t group) {
  std::mutex mu;
  size_t next = 0;
  std::atomic<long> syncs{0};
  std::atomic<long> nanos{0};
  const Clock::time_point start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      const int fd = ::open(path.c_str(), O_RDWR);  // a description per sync in flight
      if (fd < 0) Die("open");
      const std::string bytes(group, 'r');
      while (Clock::now() < end) {
        size_t at;
        {
          std::lock_guard lock(mu);
          at = next;
          next += group;
        }
        if (at + group > kLogBytes) break;
        const Clock::time_point t0 = Clock::now();
        if (::pwrite(fd, bytes.data(), group, static_cast<off_t>(at)) != static_cast<ssize_t>(group)) {
          Die("pwrite");
        }
        if (::fdatasync(fd) != 0) Die("fdatasync");
        nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
        ++syncs;
      }
      ::close(fd);
    });
  }
  for (std::thread& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const long n = std::max<long>(syncs.load(), 1);
  return {static_cast<double>(syncs.load()) / elapsed, static_cast<double>(nanos.load()) / 1e3 / n};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: corodb-sync-concurrency DIR [SECONDS] [GROUP_BYTES]\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/sync-concurrency.log";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  const size_t group = argc > 3 ? static_cast<size_t>(std::atol(argv[3])) : 4160;
  if (seconds <= 0 || group == 0 || group > (size_t{1} << 20)) {
    std::fprintf(stderr, "corodb-sync-concurrency: bad SECONDS or GROUP_BYTES\n");
    return 2;
  }
  std::printf("%zu-byte groups, %.1f s per row, a log of preallocated zeros\n", group, seconds);
  std::printf("%9s %12s %16s\n", "in flight", "syncs/s", "mean sync us");
  for (const int threads : {1, 2, 3, 4, 8}) {
    Preallocate(path);  // fresh zeros for every row
    const Result r = Run(path, threads, seconds, group);
    std::printf("%9d %12.0f %16.1f\n", threads, r.syncs_per_second, r.mean_micros);
  }
  ::unlink(path.c_str());
  return 0;
}
