// corodb-stress: many threads × coroutines hammering one DB with puts,
// deletes, batches, sync and non-sync writes, gets, MultiGets, iterator scans in both
// directions and snapshot reads over a small key space, with buffers tiny
// enough that flushes and compactions never stop; every read is checked
// against the expected state (expected_state.h), kept in a file outside the
// process. With --kill_odds the process SIGKILLs itself at random points;
// tools/crash-test.sh also kills it from outside. Each start, and
// --verify_only, reopens the DB and compares all of it with the expected
// state first.
//
// The rule checked after a crash (a process crash, not a power cut): every
// acknowledged write is present, sync or not. It holds because the commit
// path hands a group's log record to the kernel (pwrite, in BeginGroup,
// src/db/db_impl.cc) before the group ends and its writers are resumed
// (EndGroup, in log order, src/db/write_queue.cc); a SIGKILL does not lose
// what the page cache holds. A write in flight at the kill may be present or
// not; a batch is all there or not at all.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "corodb/db.h"
#include "expected_state.h"

namespace corodb::stress {

struct Flags {
  int threads = 4;
  int concurrency = 8;
  double duration = 10;          // seconds; 0: until --ops_per_thread
  uint64_t ops_per_thread = 0;   // 0: until --duration
  // SIGKILL itself with odds 1/kill_odds at the start of each operation,
  // and for a write also after marking it pending and after its
  // acknowledgement (before the expected state commits it). 0: never.
  uint64_t kill_odds = 0;
  uint64_t seed = 0;
  std::string backend = "auto";
  std::string db;
  std::string expected_state;
  bool verify_only = false;
  uint32_t num_keys = 10000;
  uint64_t sync_odds = 8;        // one write in sync_odds is a sync write
  size_t write_buffer_size = 64 << 10;
  size_t max_file_size = 64 << 10;
  size_t block_size = 1024;
  size_t cache_size = 256 << 10;
  // The command line to print for a replay (the seed always included).
  std::string replay;
};

// Parses argv; exits with a usage message (status 2) on a bad flag.
Flags ParseFlags(int argc, char** argv);

// Prints `what`, the replay command line and how to inspect the state left
// behind, then ends the process at once with status 1 (the DB and the
// expected state stay as they are).
[[noreturn]] void Fail(const Flags& flags, const std::string& what);

// Kills the process with SIGKILL, once in flags.kill_odds calls.
void MaybeKill(const Flags& flags, uint64_t random);

// Shared by the workers of one run.
struct Context {
  Context(const Flags& f, DB& d, ExpectedState& s)
      : flags(f), db(d), state(s), key_locks(new std::atomic<uint8_t>[s.num_keys()]()) {}

  // Takes key `index` for a write; false when another coroutine writes it.
  bool TryLockKey(uint32_t index) { return key_locks[index].exchange(1, std::memory_order_acquire) == 0; }
  void UnlockKey(uint32_t index) { key_locks[index].store(0, std::memory_order_release); }

  const Flags& flags;
  DB& db;
  ExpectedState& state;
  std::unique_ptr<std::atomic<uint8_t>[]> key_locks;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
};

// One worker coroutine: operations until ctx.stop, or until its thread's
// `thread_ops` (shared by the coroutines of one thread) reaches
// --ops_per_thread. `slot`: its expected-state slot. Fails the process on
// any wrong answer.
boost::asio::awaitable<void> Worker(Context& ctx, uint32_t slot, uint64_t seed,
                                    uint64_t* thread_ops);

struct VerifyReport {
  uint32_t present = 0;        // keys with a value
  uint32_t pending = 0;        // writes in flight at the crash
  uint32_t landed = 0;         // ... of which the DB has
  uint32_t batches = 0;        // batches in flight checked for atomicity
};

// Compares the whole DB (forward and backward scans, a point Get per key)
// with the expected state, then settles every write that was in flight
// (committed as the DB has it) and clears the batch slots. `after_crash`
// false: no write may be in flight (a run that ended normally). Returns ""
// or the first mismatch.
// SUSPENDS: reads the DB.
boost::asio::awaitable<std::string> VerifyDb(DB& db, ExpectedState& state, bool after_crash,
                                             VerifyReport* report);

}  // namespace corodb::stress
