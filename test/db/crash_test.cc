// A real crash: a child process writes sync=true batches and reports every
// acknowledged key to the parent through a pipe; the parent SIGKILLs it at a
// random moment, reopens the directory and checks that every reported key is
// there.
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
#include <boost/asio/use_future.hpp>

#include "corodb/db.h"
#include "corodb/sync_db.h"

namespace asio = boost::asio;

namespace {

constexpr int kChildWriters = 8;

// Each writer appends batches of two keys, reporting the batch's first key after
// its acknowledgement ("w<writer>-<n>").
asio::awaitable<void> ChildWriter(corodb::DB& db, int writer) {
  for (uint64_t n = 0;; ++n) {
    const std::string key = "w" + std::to_string(writer) + "-" + std::to_string(n);
    corodb::WriteBatch batch;
    batch.Put(key, "value-" + key);
    batch.Put(key + "-b", std::string(100 + n % 400, 'x'));
    corodb::WriteOptions wo;
    wo.sync = true;
    const corodb::Status s = co_await db.Write(wo, batch);
    if (!s.ok()) {
      std::fprintf(stderr, "child: write failed: %s\n", s.ToString().c_str());
      std::_Exit(3);
    }
    const std::string line = key + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::_Exit(4);
    }
  }
}

int RunChild(const std::string& dir) {
  corodb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 * 1024;  // switch logs now and then
  asio::io_context ctx;
  auto opened = asio::co_spawn(ctx, corodb::DB::Open(options, dir), asio::use_future);
  ctx.run();
  auto db = opened.get();
  if (!db.ok()) {
    std::fprintf(stderr, "child: open failed: %s\n", db.status().ToString().c_str());
    return 2;
  }
  ctx.restart();
  for (int w = 0; w < kChildWriters; ++w) asio::co_spawn(ctx, ChildWriter(**db, w), asio::detached);
  ctx.run();  // until killed
  return 0;
}

// One crash round; returns an empty string on success, else what went wrong.
std::string RunRound(const std::string& self, const std::string& dir, std::mt19937& rng,
                     uint64_t* verified) {
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
  for (size_t pos = 0; pos < reported.size();) {
    const size_t end = reported.find('\n', pos);
    if (end == std::string::npos) break;  // a line cut by the kill was never fully reported
    keys.push_back(reported.substr(pos, end - pos));
    pos = end + 1;
  }
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
  for (int i = 0; i < iterations; ++i) {
    // Rounds reuse one directory: each reopen also recovers the earlier crashes' logs.
    const std::string dir = std::string(base) + "/db";
    const std::string error = RunRound(self, dir, rng, &verified);
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
  if (iterations > 0 && verified == 0) {
    std::fprintf(stderr, "no write was ever acknowledged: the test proved nothing\n");
    ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
