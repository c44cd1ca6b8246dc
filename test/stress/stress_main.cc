// corodb-stress: see stress.h.
//
//   corodb-stress --db=DIR --expected_state=FILE [--threads=4 --concurrency=8]
//                 [--duration=SECONDS | --ops_per_thread=N] [--kill_odds=N] [--seed=S]
//                 [--backend=auto|uring|threadpool] [--num_keys=10000] [--sync_odds=8]
//                 [--write_buffer_size=B --max_file_size=B --block_size=B --cache_size=B]
//   corodb-stress --verify_only --db=DIR --expected_state=FILE
//
// Exit status: 0 verified (and, unless --verify_only, ran and verified
// again); 1 a wrong answer or a failed operation (message and replay line on
// stderr); 2 bad flags or an unusable expected-state file; 77 --backend=uring
// where io_uring cannot be set up (a skip; a failure with
// CORODB_REQUIRE_URING=1). Killed by SIGKILL: --kill_odds.
//
// Lines on stdout, for tools/crash-test.sh:
//   verify: ok keys=K present=P pending=W landed=L batches=B
//   previous-run: ops=O flushes=F compactions=C trivial_moves=T
//   reopen: leftover_tables=U leftover_temp=M leftover_manifests=X
//   run: ops=O flushes=F compactions=C trivial_moves=T
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "corodb/filter_policy.h"
#include "stress.h"

namespace corodb::stress {
namespace asio = boost::asio;

namespace {

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr,
               "corodb-stress: %s\nflags: --db=DIR --expected_state=FILE --threads=N --concurrency=N "
               "--duration=SECONDS --ops_per_thread=N --kill_odds=N --seed=S "
               "--backend=auto|uring|threadpool --verify_only --num_keys=N --sync_odds=N "
               "--write_buffer_size=B --max_file_size=B --block_size=B --cache_size=B\n",
               msg.c_str());
  std::exit(2);
}

// Runs `task` on `ctx` until it completes; returns its result.
template <typename T>
T RunOn(asio::io_context& ctx, asio::awaitable<T> task) {
  std::future<T> result = asio::co_spawn(ctx, std::move(task), asio::use_future);
  ctx.restart();
  ctx.run();
  return result.get();
}

uint64_t StatOf(const std::string& stats, const std::string& name) {
  const size_t at = stats.find(name + ": ");
  if (at != 0 && (at == std::string::npos || stats[at - 1] != '\n')) return 0;
  return std::strtoull(stats.c_str() + at + name.size() + 2, nullptr, 10);
}

void PublishStats(DB& db, const Context& ctx, ExpectedState& state) {
  std::string stats;
  if (!db.GetProperty("corodb.stats", &stats)) return;
  RunCounters& c = state.counters();
  c.ops.store(ctx.ops.load(std::memory_order_relaxed), std::memory_order_relaxed);
  c.flushes.store(StatOf(stats, "flushes"), std::memory_order_relaxed);
  c.compactions.store(StatOf(stats, "compactions"), std::memory_order_relaxed);
  c.trivial_moves.store(StatOf(stats, "trivial_moves"), std::memory_order_relaxed);
}

// Table, temporary and MANIFEST files in the DB directory, by name.
std::set<std::string> TableTempAndManifestFiles(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (ext == ".ldb" || ext == ".sst" || ext == ".dbtmp" || name.starts_with("MANIFEST-")) {
      names.insert(name);
    }
  }
  return names;
}

Options MakeOptions(const Flags& f) {
  Options options;
  options.create_if_missing = true;
  if (f.backend == "uring") options.io_backend = IoBackendKind::kUring;
  if (f.backend == "threadpool") options.io_backend = IoBackendKind::kThreadPool;
  options.write_buffer_size = f.write_buffer_size;
  options.max_file_size = f.max_file_size;
  options.block_size = f.block_size;
  options.block_cache_capacity = f.cache_size;
  options.filter_policy = NewBloomFilterPolicy(10);
  return options;
}

// The workload: threads × coroutines until --duration or --ops_per_thread;
// the expected state's counters are refreshed every 100 ms meanwhile.
// `contexts` receives the worker threads' io_contexts (kept until the DB is
// closed: their rings served the workers' reads).
void RunWorkload(const Flags& f, DB& db, ExpectedState& state, Context& ctx,
                 std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  const auto threads = static_cast<uint32_t>(f.threads);
  std::vector<uint64_t> thread_ops(threads, 0);
  for (uint32_t t = 0; t < threads; ++t) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    for (uint32_t c = 0; c < static_cast<uint32_t>(f.concurrency); ++c) {
      const uint32_t slot = t * static_cast<uint32_t>(f.concurrency) + c;
      const uint64_t seed = f.seed * 1000003 + slot;
      asio::co_spawn(*contexts[t], Worker(ctx, slot, seed, &thread_ops[t]), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
    }
  }
  std::mutex mu;
  std::condition_variable cv;
  uint32_t running = threads;
  std::vector<std::thread> workers;
  for (uint32_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        contexts[t]->run();
      } catch (const std::exception& e) {
        Fail(f, std::string("exception in a worker: ") + e.what());
      }
      std::lock_guard lock(mu);
      --running;
      cv.notify_all();
    });
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(f.duration > 0 ? f.duration : 1e9));
  {
    std::unique_lock lock(mu);
    while (running > 0) {
      if (std::chrono::steady_clock::now() >= deadline) ctx.stop.store(true);
      cv.wait_for(lock, std::chrono::milliseconds(100));
      PublishStats(db, ctx, state);
    }
  }
  for (auto& w : workers) w.join();
  PublishStats(db, ctx, state);
}

}  // namespace

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  bool seeded = false;
  f.replay = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) Usage("unexpected argument " + a);
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    const char* s = v.c_str();
    if (name == "threads") f.threads = std::atoi(s);
    else if (name == "concurrency") f.concurrency = std::atoi(s);
    else if (name == "duration") f.duration = std::atof(s);
    else if (name == "ops_per_thread") f.ops_per_thread = std::strtoull(s, nullptr, 10);
    else if (name == "kill_odds") f.kill_odds = std::strtoull(s, nullptr, 10);
    else if (name == "seed") f.seed = std::strtoull(s, nullptr, 10), seeded = true;
    else if (name == "backend") f.backend = v;
    else if (name == "db") f.db = v;
    else if (name == "expected_state") f.expected_state = v;
    else if (name == "verify_only") f.verify_only = v.empty() || v == "1" || v == "true";
    else if (name == "num_keys") f.num_keys = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
    else if (name == "sync_odds") f.sync_odds = std::strtoull(s, nullptr, 10);
    else if (name == "write_buffer_size") f.write_buffer_size = std::strtoull(s, nullptr, 10);
    else if (name == "max_file_size") f.max_file_size = std::strtoull(s, nullptr, 10);
    else if (name == "block_size") f.block_size = std::strtoull(s, nullptr, 10);
    else if (name == "cache_size") f.cache_size = std::strtoull(s, nullptr, 10);
    else Usage("unknown flag --" + name);
    if (name != "seed") f.replay += " " + a;
  }
  if (!seeded) f.seed = std::random_device{}() % 1000000000;
  f.replay += " --seed=" + std::to_string(f.seed);
  if (f.db.empty() || f.expected_state.empty()) Usage("--db and --expected_state are required");
  if (f.threads < 1 || f.concurrency < 1 ||
      static_cast<uint64_t>(f.threads) * static_cast<uint64_t>(f.concurrency) > ExpectedState::kSlots) {
    Usage("--threads × --concurrency must be between 1 and " + std::to_string(ExpectedState::kSlots));
  }
  if (f.num_keys < 1 || f.num_keys > 99999999) Usage("--num_keys must be in [1, 99999999]");
  if (f.backend != "auto" && f.backend != "uring" && f.backend != "threadpool") Usage("bad --backend");
  return f;
}

void Fail(const Flags& flags, const std::string& what) {
  std::fprintf(stderr, "corodb-stress: FAILED: %s\n", what.c_str());
  if (!flags.verify_only) {
    std::fprintf(stderr,
                 "  replay (same seed and flags; thread interleavings differ), from a fresh --db and "
                 "--expected_state:\n    %s\n",
                 flags.replay.c_str());
  }
  std::fprintf(stderr,
               "  the DB and the expected state are left as they were; inspect with:\n"
               "    %s --verify_only --db=%s --expected_state=%s\n",
               flags.replay.substr(0, flags.replay.find(' ')).c_str(), flags.db.c_str(),
               flags.expected_state.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  ExpectedState state;
  if (std::string e = state.Open(f.expected_state, f.num_keys); !e.empty()) {
    std::fprintf(stderr, "corodb-stress: %s\n", e.c_str());
    return 2;
  }
  const std::set<std::string> files_before = TableTempAndManifestFiles(f.db);
  asio::io_context main_ctx(1);
  const Options options = MakeOptions(f);
  Result<std::unique_ptr<DB>> opened = RunOn(main_ctx, DB::Open(options, f.db));
  if (!opened.ok()) {
    const char* required = std::getenv("CORODB_REQUIRE_URING");
    if (f.backend == "uring" && opened.status().IsNotSupported() &&
        (required == nullptr || std::string(required) != "1")) {
      std::printf("skip: io_uring cannot be set up here: %s\n", opened.status().ToString().c_str());
      return 77;
    }
    Fail(f, "open: " + opened.status().ToString());
  }
  DB& db = **opened;
  // Open deleted what the crash left behind (no background work ran yet):
  // outputs of an interrupted flush or compaction, inputs whose deletion the
  // kill preempted, CURRENT temporaries, and MANIFESTs of an Open killed
  // around its MANIFEST switch (each Open starts a new MANIFEST and deletes
  // the old one; this Open's own old MANIFEST is not counted).
  const std::set<std::string> files_after = TableTempAndManifestFiles(f.db);
  uint64_t leftover_tables = 0, leftover_temp = 0, leftover_manifests = 0;
  bool own_old_manifest = true;
  for (auto name = files_before.rbegin(); name != files_before.rend(); ++name) {
    if (files_after.count(*name) != 0) continue;
    if (name->ends_with(".dbtmp")) {
      ++leftover_temp;
    } else if (name->starts_with("MANIFEST-")) {
      // Newest first: the newest deleted one was this Open's predecessor.
      if (own_old_manifest) {
        own_old_manifest = false;
      } else {
        ++leftover_manifests;
      }
    } else {
      ++leftover_tables;
    }
  }

  VerifyReport report;
  if (std::string e = RunOn(main_ctx, VerifyDb(db, state, /*after_crash=*/true, &report)); !e.empty()) {
    Fail(f, "verification after reopen: " + e);
  }
  RunCounters& prev = state.counters();
  std::printf("verify: ok keys=%u present=%u pending=%u landed=%u batches=%u\n", f.num_keys, report.present,
              report.pending, report.landed, report.batches);
  std::printf("previous-run: ops=%llu flushes=%llu compactions=%llu trivial_moves=%llu\n",
              static_cast<unsigned long long>(prev.ops.load()),
              static_cast<unsigned long long>(prev.flushes.load()),
              static_cast<unsigned long long>(prev.compactions.load()),
              static_cast<unsigned long long>(prev.trivial_moves.load()));
  std::printf("reopen: leftover_tables=%llu leftover_temp=%llu leftover_manifests=%llu\n",
              static_cast<unsigned long long>(leftover_tables),
              static_cast<unsigned long long>(leftover_temp),
              static_cast<unsigned long long>(leftover_manifests));
  std::fflush(stdout);
  prev.ops = prev.flushes = prev.compactions = prev.trivial_moves = 0;

  std::vector<std::unique_ptr<asio::io_context>> worker_contexts;
  if (!f.verify_only) {
    Context ctx(f, db, state);
    RunWorkload(f, db, state, ctx, worker_contexts);
    if (std::string e = RunOn(main_ctx, VerifyDb(db, state, /*after_crash=*/false, &report)); !e.empty()) {
      Fail(f, "verification after the run: " + e);
    }
    std::printf("run: ops=%llu flushes=%llu compactions=%llu trivial_moves=%llu present=%u\n",
                static_cast<unsigned long long>(prev.ops.load()),
                static_cast<unsigned long long>(prev.flushes.load()),
                static_cast<unsigned long long>(prev.compactions.load()),
                static_cast<unsigned long long>(prev.trivial_moves.load()), report.present);
    // Counted once: the next start must not report this run again.
    prev.ops = prev.flushes = prev.compactions = prev.trivial_moves = 0;
  }
  if (Status s = RunOn(main_ctx, db.Close()); !s.ok()) Fail(f, "close: " + s.ToString());
  opened->reset();
  return 0;
}

}  // namespace corodb::stress

int main(int argc, char** argv) { return corodb::stress::Main(argc, argv); }
