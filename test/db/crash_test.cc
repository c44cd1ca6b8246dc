// A real crash: a child process writes batches and reports every
// acknowledged key to the parent through a pipe; the parent SIGKILLs it at a
// random moment, reopens the directory and checks that every reported key is
// there. Sync writers and non-sync writers (acknowledged once in the page
// cache, which a process crash does not lose); buffers small enough that the
// child flushes memtables and compacts tables while it is killed. The child
// also reports its flush and compaction counts; the parent sums them and
// fails when no compaction ran.
//
//   crash_test [--iterations=N] [--seed=S]   parent; prints "N passed, M failed"
//   crash_test --child=DIR                    child (started by the parent)
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "corodb/db.h"
#include "corodb/sync_db.h"

namespace asio = boost::asio;

namespace {

constexpr int kSyncWriters = 8;
constexpr int kBulkWriters = 2;  // non-sync, larger values: most of the volume

// Stdout lines: an acknowledged key, or "#stats <flushes> <compactions> <trivial moves>".
void Report(const std::string& line) {
  if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::_Exit(4);
  }
}

uint64_t StatOf(const std::string& stats, const std::string& name) {
  const size_t at = stats.find("\n" + name + ": ");
  return at == std::string::npos ? 0 : std::strtoull(stats.c_str() + at + name.size() + 3, nullptr, 10);
}

void ReportStats(corodb::DB& db) {
  std::string stats;
  if (!db.GetProperty("corodb.stats", &stats)) return;
  Report("#stats " + std::to_string(StatOf(stats, "flushes")) + " " +
         std::to_string(StatOf(stats, "compactions")) + " " +
         std::to_string(StatOf(stats, "trivial_moves")) + "\n");
}

// Each writer appends batches of two keys, reporting the batch's first key after
// its acknowledgement ("w<writer>-<n>"; "n<writer>-<n>" for non-sync writers).
// The first sync writer also reports the statistics every 32 writes.
asio::awaitable<void> ChildWriter(corodb::DB& db, int writer, bool sync) {
  for (uint64_t n = 0;; ++n) {
    const std::string key = (sync ? "w" : "n") + std::to_string(writer) + "-" + std::to_string(n);
    corodb::WriteBatch batch;
    batch.Put(key, "value-" + key);
    batch.Put(key + "-b", std::string(sync ? 100 + n % 400 : 1000 + n % 1000, 'x'));
    corodb::WriteOptions wo;
    wo.sync = sync;
    const corodb::Status s = co_await db.Write(wo, batch);
    if (!s.ok()) {
      std::fprintf(stderr, "child: write failed: %s\n", s.ToString().c_str());
      std::_Exit(3);
    }
    Report(key + "\n");
    if (sync && writer == 0 && n % 32 == 31) ReportStats(db);
    if (!sync) {
      // Let the other writers' groups in between (a non-sync write may
      // commit without suspending).
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  }
}

int RunChild(const std::string& dir) {
  corodb::Options options;
  options.create_if_missing = true;
  // Small memtables and tables: flushes every few hundred writes, and
  // compactions (L0 -> L1 at four tables) within a round.
  options.write_buffer_size = 64 * 1024;
  options.max_file_size = 64 * 1024;
  asio::io_context ctx;
  auto opened = asio::co_spawn(ctx, corodb::DB::Open(options, dir), asio::use_future);
  ctx.run();
  auto db = opened.get();
  if (!db.ok()) {
    std::fprintf(stderr, "child: open failed: %s\n", db.status().ToString().c_str());
    return 2;
  }
  ctx.restart();
  for (int w = 0; w < kSyncWriters; ++w) asio::co_spawn(ctx, ChildWriter(**db, w, true), asio::detached);
  for (int w = 0; w < kBulkWriters; ++w) asio::co_spawn(ctx, ChildWriter(**db, w, false), asio::detached);
  ctx.run();  // until killed
  return 0;
}

// What the children reported having done, summed over rounds.
struct ChildStats {
  uint64_t flushes = 0;
  uint64_t compactions = 0;
  uint64_t trivial_moves = 0;
};

// One crash round; returns an empty string on success, else what went wrong.
std::string RunRound(const std::string& self, const std::string& dir, std::mt19937& rng,
                     uint64_t* verified, ChildStats* child_stats) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    const std::string arg = "--child=" + dir;
    ::execl(self.c_str(), self.c_str(), arg.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  std::string reported;
  // Most rounds wait for the first acknowledgement, then kill at a random
  // moment of the write stream; one in four kills blindly (maybe during open
  // or recovery).
  if (std::uniform_int_distribution<int>(0, 3)(rng) != 0) {
    struct pollfd pfd = {pipefd[0], POLLIN, 0};
    if (::poll(&pfd, 1, 20000) == 1) {
      char first[4096];
      const ssize_t got = ::read(pipefd[0], first, sizeof(first));
      if (got > 0) reported.append(first, static_cast<size_t>(got));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  char buf[65536];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) reported.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  if (std::getenv("CRASH_TEST_DEBUG")) std::fprintf(stderr, "reported %zu bytes\n", reported.size());
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    return "child exited on its own (status " + std::to_string(status) + ")";
  }

  std::vector<std::string> keys;
  ChildStats last;  // the child's last report (its counters only grow)
  for (size_t pos = 0; pos < reported.size();) {
    const size_t end = reported.find('\n', pos);
    if (end == std::string::npos) break;  // a line cut by the kill was never fully reported
    const std::string line = reported.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("#stats ")) {
      unsigned long long f = 0, c = 0, t = 0;
      if (std::sscanf(line.c_str(), "#stats %llu %llu %llu", &f, &c, &t) == 3) last = {f, c, t};
      continue;
    }
    keys.push_back(line);
  }
  child_stats->flushes += last.flushes;
  child_stats->compactions += last.compactions;
  child_stats->trivial_moves += last.trivial_moves;
  if (!std::filesystem::exists(dir + "/CURRENT")) {
    return keys.empty() ? "" : "no database although writes were acknowledged";
  }
  corodb::Options options;
  auto db = corodb::SyncDB::Open(options, dir);
  if (!db.ok()) return "reopen failed: " + db.status().ToString();
  for (const std::string& key : keys) {
    auto v = (*db)->Get({}, key);
    if (!v.ok() || *v != "value-" + key) {
      return "acknowledged key " + key + " lost (" + (v.ok() ? "wrong value" : v.status().ToString()) +
             "), " + std::to_string(keys.size()) + " keys reported";
    }
  }
  *verified += keys.size();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 30;
  unsigned seed = static_cast<unsigned>(std::random_device{}());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--child=", 0) == 0) return RunChild(arg.substr(8));
    if (arg.rfind("--iterations=", 0) == 0) iterations = std::atoi(arg.c_str() + 13);
    if (arg.rfind("--seed=", 0) == 0) seed = static_cast<unsigned>(std::strtoul(arg.c_str() + 7, nullptr, 10));
  }
  std::mt19937 rng(seed);
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0) return 2;
  self[len] = '\0';
  char tmpl[] = "/tmp/corodb-crash-XXXXXX";
  const char* base = ::mkdtemp(tmpl);
  if (base == nullptr) return 2;
  int passed = 0, failed = 0;
  uint64_t verified = 0;
  ChildStats child_stats;
  for (int i = 0; i < iterations; ++i) {
    // Rounds reuse one directory: each reopen also recovers the earlier crashes' logs.
    const std::string dir = std::string(base) + "/db";
    const std::string error = RunRound(self, dir, rng, &verified, &child_stats);
    if (error.empty()) {
      ++passed;
    } else {
      ++failed;
      std::fprintf(stderr, "round %d (seed %u): %s\n", i, seed, error.c_str());
    }
    if (i % 10 == 9) std::filesystem::remove_all(dir);  // keep recovery short
  }
  std::filesystem::remove_all(base);
  std::fprintf(stderr, "%llu acknowledged keys verified after %d kills\n",
               static_cast<unsigned long long>(verified), iterations);
  std::fprintf(stderr, "the killed children reported %llu flushes, %llu compactions (%llu trivial moves)\n",
               static_cast<unsigned long long>(child_stats.flushes),
               static_cast<unsigned long long>(child_stats.compactions),
               static_cast<unsigned long long>(child_stats.trivial_moves));
  if (iterations > 0 && verified == 0) {
    std::fprintf(stderr, "no write was ever acknowledged: the test proved nothing\n");
    ++failed;
  }
  if (iterations > 0 && child_stats.compactions == 0) {
    std::fprintf(stderr, "no child reported a compaction: the kills never hit one\n");
    ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
