// KeyCombiner: read-modify-write commands (INCR, INCRBY, SET NX|XX) made
// atomic per key, with the writes of concurrent commands combined.
//
// A read-modify-write is a Get, a computation and a Put; two clients doing
// it on one key at once must not both read the same old value. Commands on
// a key queue in a per-key entry (a striped table: 64 shards, each a mutex
// and a map from key to its queue). The first command on an idle key
// becomes the key's leader: it takes the whole queue as a batch, reads the
// key once, applies every command of the batch in queue order (each gets its
// own reply: INCR from 5 by three clients answers 6, 7 and 8), writes the
// final value with one Put and, once that Put is acknowledged (durable with
// --sync=always), hands each queued client its reply. Commands that arrived
// meanwhile form the next batch, whose first client leads it. So a hot key
// costs one write (and one fdatasync) per batch, not per command.
//
// Invariants / thread safety: Apply may be called from any thread and
// executor. A key has an entry exactly while some leader owns it; the entry's
// queue holds commands not yet taken by a leader. Shard mutexes are held only
// for queue operations, never across a suspension. A waiter is resumed on
// its own executor (its handler is posted there), after the leader wrote its
// reply.
//
// Only these commands take the key's turn: a plain SET, MSET or DEL of the
// same key is written directly and is not ordered with a batch in flight
// (documented in docs/decisions.md).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
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

  // Applies `op` to `key` after every command queued on it before, and
  // returns the command's RESP reply (":6\r\n", "+OK\r\n", "$-1\r\n" or an
  // error such as "-ERR value is not an integer or out of range\r\n"; a
  // failed read or write is "-ERR <status>" for every command of its batch).
  // SUSPENDS: until the batch holding `op` is written (a Get and a Put), or
  //           until earlier batches on the key are.
  boost::asio::awaitable<std::string> Apply(std::string key, Op op);

 private:
  struct Waiter {
    const Op* op = nullptr;
    std::string reply;
    // Set under the shard's mutex by a leader: `reply` is final (served),
    // or this waiter leads the next batch (lead).
    bool served = false;
    bool lead = false;
    // The suspended coroutine, and the executor it must be resumed on.
    std::optional<boost::asio::any_completion_handler<void()>> handler;
    boost::asio::any_io_executor executor;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<Waiter*>> queues;  // GUARDED_BY(mu)
  };
  static constexpr size_t kShards = 64;

  Shard& ShardFor(const std::string& key);
  // Serves one batch of `key` (the caller, a leader, is the front of the
  // queue) and hands the key over to the next batch's first waiter, if any.
  boost::asio::awaitable<void> Lead(const std::string& key, Shard& shard);
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
