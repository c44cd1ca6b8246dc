// KeyCombiner: every write of a key takes the key's turn, so the writes of
// one key are ordered; read-modify-write commands (INCR, INCRBY, SET NX|XX)
// are made atomic per key, with the writes of concurrent ones combined.
//
// A read-modify-write is a Get, a computation and a Put; two clients doing
// it on one key at once must not both read the same old value, and no other
// write of the key may land between its Get and its Put (the Put would undo
// it). So each key has a turn, held either by one batch of read-modify-writes
// alone or by any number of plain writes (SET, MSET, DEL) together, and
// given in arrival order:
//   - a plain write takes it at once when the key is idle or held by plain
//     writes with nobody waiting (the fast path: a table lookup, no
//     suspension); otherwise it waits behind the commands queued before it;
//   - a read-modify-write waits until the plain writes holding the key are
//     written, then until the batches before it are done.
// So a read-modify-write sees every plain write of its key acknowledged
// before it started, and a plain write issued while one is in flight lands
// after it. Plain writes that share a turn are concurrent and the engine
// orders them.
//
// Read-modify-writes on a key queue in a per-key entry (a striped table: 64
// shards, each a mutex and a map from key to its state). The command that
// gets the turn becomes the key's leader: it takes the queue's run of
// read-modify-writes behind it as a batch, reads the key once, applies every
// command of the batch in queue order (each gets its own reply: INCR from 5
// by three clients answers 6, 7 and 8), writes the final value with one Put
// and, once that Put is acknowledged (durable with --sync=always), hands each
// queued client its reply. Commands that arrived meanwhile form the next
// batch. So a hot key costs one write (and one fdatasync) per batch, not per
// command.
//
// Invariants / thread safety: every method may be called from any thread and
// executor. A key has an entry exactly while its turn is held (by a leader,
// or by `plain_writes` > 0 plain writes, never both); the entry's queue holds
// commands waiting for the turn, oldest first. When the holders are done the
// turn passes to the queue's front (a read-modify-write: it leads; plain
// writes: all of them up to the next read-modify-write). Shard mutexes are
// held only for table operations, never across a suspension. A waiter is
// resumed on its own executor (its handler is posted there). A plain write
// holding turns on several keys took them in key order (a read-modify-write
// holds one key), so waits cannot form a cycle.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "corodb/db.h"

namespace corodb::resp {

class KeyCombiner {
 public:
  struct Op {
    enum class Kind { kIncrBy, kSetIfAbsent, kSetIfPresent };
    Kind kind = Kind::kIncrBy;
    int64_t delta = 0;  // kIncrBy
    std::string value;  // kSet*
  };

  // `db` must outlive the combiner; every write uses `write_options`.
  KeyCombiner(DB& db, WriteOptions write_options)
      : db_(db), write_options_(write_options) {}

  // Applies `op` to `key` in the key's turn, after every command queued on it
  // before, and returns the command's RESP reply (":6\r\n", "+OK\r\n",
  // "$-1\r\n" or an error such as "-ERR value is not an integer or out of
  // range\r\n"; a failed read or write is "-ERR <status>" for every command of
  // its batch).
  // SUSPENDS: until the batch holding `op` is written (a Get and a Put), or
  //           until the plain writes and batches before it on the key are.
  boost::asio::awaitable<std::string> Apply(std::string key, Op op);

  // The turns of a plain write's keys, held until Release() or destruction
  // (write the keys, then release). Move-only.
  class PlainTurns {
   public:
    PlainTurns() = default;
    PlainTurns(PlainTurns&& other) noexcept
        : combiner_(std::exchange(other.combiner_, nullptr)),
          keys_(std::move(other.keys_)) {}
    PlainTurns& operator=(PlainTurns&& other) noexcept;
    ~PlainTurns() { Release(); }
    // Gives the turns back: commands waiting on these keys may go on.
    void Release();

   private:
    friend class KeyCombiner;
    KeyCombiner* combiner_ = nullptr;
    std::vector<std::string> keys_;  // the turns held, in key order
  };
  // Takes the turn of every key in `keys` (any order, repeats allowed) for a
  // plain write (SET, MSET, DEL), to be written while the turns are held.
  // Plain writes share a key's turn; the returned turns are granted at once
  // unless a read-modify-write of one of the keys is running or waiting.
  // SUSPENDS: only while such a read-modify-write (and the commands queued
  //           before this write) is not done.
  boost::asio::awaitable<PlainTurns> TakePlainTurns(std::vector<std::string> keys);

 private:
  struct Waiter {
    const Op* op = nullptr;  // nullptr: a plain write waiting for its turn
    std::string reply;
    // Set under the shard's mutex: `reply` is final (served), or the key's
    // turn is this waiter's (turn: an op leads the next batch, a plain
    // write may write).
    bool served = false;
    bool turn = false;
    // The suspended coroutine, and the executor it must be resumed on.
    std::optional<boost::asio::any_completion_handler<void()>> handler;
    boost::asio::any_io_executor executor;
  };
  struct KeyState {
    std::deque<Waiter*> queue;  // waiting for the turn, oldest first
    int plain_writes = 0;       // plain writes holding the turn
    bool leader = false;        // a read-modify-write batch holds the turn
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, KeyState> keys;  // GUARDED_BY(mu)
  };
  static constexpr size_t kShards = 64;

  Shard& ShardFor(const std::string& key);
  // Suspends until `waiter` is served or given the turn.
  // SUSPENDS: until a leader or a releasing plain write wakes it.
  static boost::asio::awaitable<void> Wait(Shard& shard, Waiter& waiter);
  // Serves one batch of `key`, led by `self` (which holds the key's turn),
  // and passes the turn on.
  // SUSPENDS: for the Get and the Put.
  boost::asio::awaitable<void> Lead(const std::string& key, Shard& shard, Waiter& self);
  // Gives the free turn of `it`'s key to the queue's front, or removes the
  // entry when nobody waits. REQUIRES: shard.mu held; no holder left.
  static void PassTurn(Shard& shard,
                       std::unordered_map<std::string, KeyState>::iterator it);
  void ReleasePlainTurn(const std::string& key);
  // Applies `op` to *value (nullopt: absent); returns the reply and sets
  // *changed when *value changed.
  static std::string Compute(const Op& op, std::optional<std::string>* value,
                             bool* changed);
  static void Wake(Waiter* waiter);

  DB& db_;
  const WriteOptions write_options_;
  Shard shards_[kShards];
};

}  // namespace corodb::resp
