// Commands: the Redis commands the server understands, run against one DB.
//
// Supported: PING, ECHO, GET, SET [NX|XX], DEL, EXISTS, MGET, MSET, INCR,
// INCRBY, DECR, DECRBY, SCAN cursor [MATCH pattern] [COUNT n] [TYPE string],
// DBSIZE, INFO [section], COMMAND [COUNT|INFO|DOCS], CONFIG GET, QUIT.
// Anything else is "-ERR unknown command '<name>', with args beginning
// with: ..." as Redis words it.
//
// How commands map to the DB:
//   - a pipeline's consecutive plain writes (SET key value, MSET) are
//     committed as one WriteBatch; each is acknowledged ("+OK") once the
//     batch is (durable with --sync=always). Any other command ends the run
//     first, so it sees the writes before it, and replies keep their order;
//   - a pipeline's consecutive GETs are read with one DB::MultiGet (up to
//     32 at a time);
//   - MGET and EXISTS are one DB::MultiGet (one read point; the table
//     blocks they need are read together); DEL takes its keys' turns, then
//     is one MultiGet (for the count it returns: keys present when it read
//     them; a plain SET sharing the turn may race it), then one WriteBatch
//     deleting them all;
//   - INCR/INCRBY/DECR/DECRBY and SET NX|XX go through the KeyCombiner
//     (atomic per key, batches of one write per key); a pipeline's run of
//     them is started at once, in order, so a client's pipelined INCRs
//     share writes too;
//   - ordering rule: every write of a key takes the key's turn in the
//     KeyCombiner — a plain write (the WriteBatch of a run of SET/MSET, a
//     DEL) holds the turns of all its keys while it is written, shared with
//     other plain writes; a read-modify-write batch holds its key's turn
//     alone. Turns are given in arrival order, so a plain write issued while
//     an INCR of its key is in flight lands after the INCR's write, and an
//     INCR sees every plain write acknowledged before it was issued. When no
//     read-modify-write is running or waiting on the keys, taking the turns
//     does not suspend (the fast path: one WriteBatch, group-committed);
//   - SCAN walks an iterator; its cursor names the last key it examined
//     (see ScanCursors), so it survives writes: every key present from the
//     start to the end of a full scan is returned, exactly once;
//   - DBSIZE counts the keys with an iterator: exact at its read point, but
//     it visits every key (it yields to other clients every 4096 keys), and
//     writes racing it may or may not be counted — "approximate".
//
// Thread safety: one Commands object serves every connection on every
// thread; Run may be called concurrently.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "corodb/db.h"
#include "key_combiner.h"
#include "resp_parser.h"
#include "resp_writer.h"

namespace corodb::resp {

// Counters for INFO, updated by the server.
struct ServerStats {
  std::atomic<uint64_t> connected_clients{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> total_commands{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> reply_limit_disconnects{0};
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

struct CommandSettings {
  bool sync = false;  // every write is a sync write
  int threads = 1;
  uint16_t port = 0;
};

// SCAN cursors: a cursor is a number standing for the last key a SCAN call
// examined (redis-cli and most clients parse cursors as unsigned 64-bit
// numbers, so the key cannot travel in it). The table keeps the newest
// kMaxCursors; an older cursor is refused ("ERR invalid cursor") and the
// client must start again. Numbers start at a random point, so a cursor
// from before a restart is refused rather than taken for a new one.
// Thread safe.
class ScanCursors {
 public:
  static constexpr size_t kMaxCursors = 100000;
  ScanCursors();
  // A new cursor (never 0) for a scan that continues after `last_key`.
  uint64_t Save(std::string last_key);
  // The key cursor `id` continues after; nullopt when unknown or evicted.
  std::optional<std::string> Find(uint64_t id);

 private:
  std::mutex mu_;
  uint64_t next_id_;                                // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, std::string> keys_;  // GUARDED_BY(mu_)
  std::deque<uint64_t> order_;                      // GUARDED_BY(mu_), oldest first
};

class Commands {
 public:
  // `db` and `stats` must outlive this object.
  Commands(DB& db, const CommandSettings& settings, ServerStats& stats);

  enum class Outcome {
    kContinue,    // every command ran
    kQuit,        // QUIT ran: close the connection once its replies are sent
    kReplyLimit,  // over_limit() turned true: the rest was not run
  };
  // Runs `batch` (a pipeline's complete commands, in order), appending one
  // reply per command to *out, until QUIT or until `over_limit` (asked
  // before each command) says the client has too many unsent replies.
  // SUSPENDS: for writes and for reads that miss memory.
  boost::asio::awaitable<Outcome> Run(std::vector<Command>& batch, std::string* out,
                                      const std::function<bool()>& over_limit);

  struct Spec;

 private:
  using Handler = boost::asio::awaitable<void> (Commands::*)(const Command&,
                                                             ReplyWriter&);
  // The command table (commands.cc), and its entry for a lower-case name.
  static const Spec kSpecs[];
  static const Spec* FindSpec(std::string_view lower_name);

  // A pipeline's run of plain writes not yet committed (Run's state).
  struct PendingWrites {
    WriteBatch batch;
    std::vector<std::string> keys;  // the keys it writes (their turns are taken)
    size_t commands = 0;            // replies owed once the batch is written
  };
  // Commits `pending` (if it holds writes) in its keys' turns and appends
  // its replies.
  // SUSPENDS: for the write, and first for the turns of keys that a
  //           read-modify-write is working on or waiting for.
  boost::asio::awaitable<void> FlushWrites(PendingWrites& pending, std::string* out);
  // A pipeline's run of read-modify-write commands (INCR..., SET NX|XX).
  using RmwRun = std::vector<std::pair<std::string, KeyCombiner::Op>>;
  // The key and operation of a well-formed read-modify-write command;
  // otherwise nullopt with *error set to its error reply text ("" when `c`
  // is not such a command).
  static std::optional<std::pair<std::string, KeyCombiner::Op>> ParseRmw(
      const Command& c, const std::string& name, std::string* error);
  // Applies the run's commands concurrently (each queues on its key in
  // order, so commands on one key keep their order and a client's INCRs can
  // share one write) and appends their replies in order.
  // SUSPENDS: until every command's batch is written.
  boost::asio::awaitable<void> FlushRmw(RmwRun& run, std::string* out);
  // Reads a pipeline's run of GETs with one MultiGet and appends the replies.
  boost::asio::awaitable<void> FlushGets(std::vector<Slice>& keys, std::string* out);
  // Every key's value (or NotFound), at one read point (DB::MultiGet).
  boost::asio::awaitable<std::vector<Result<std::string>>> ReadMany(
      std::vector<Slice> keys);

  boost::asio::awaitable<void> Ping(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Echo(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Get(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Set(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Mset(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Del(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Exists(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Mget(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Incr(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Scan(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Dbsize(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Info(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> CommandCmd(const Command& c, ReplyWriter& w);
  boost::asio::awaitable<void> Config(const Command& c, ReplyWriter& w);

  struct ScanArgs {
    std::optional<std::string> after;  // the cursor's last key; none: from the start
    int64_t count = 10;
    std::optional<std::string> pattern;
    bool strings = true;  // TYPE: every value here is a string
  };
  // Parses SCAN's arguments; returns the error reply text, or "".
  std::string ParseScan(const Command& c, ScanArgs* args);
  std::string InfoText(const std::string& section);
  static void WriteSpec(const Spec& spec, ReplyWriter& w);

  DB& db_;
  const CommandSettings settings_;
  const WriteOptions write_options_;
  ServerStats& stats_;
  KeyCombiner combiner_;
  ScanCursors cursors_;
};

}  // namespace corodb::resp
