#include "commands.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string_view>
#include <utility>

#include "glob.h"

namespace corodb::resp {

namespace asio = boost::asio;

namespace {

// A run of plain writes is committed once it reaches this size (one group
// of the engine's group commit holds up to 1 MiB).
constexpr size_t kMaxPendingBytes = 1024 * 1024;
// A run of pipelined GETs is read (one MultiGet) every this many keys, so
// the reply limit, checked between commands, is passed by at most that many
// replies.
constexpr size_t kMaxGetRun = 32;
// DBSIZE yields to other clients on its thread every this many keys.
constexpr uint64_t kDbsizeYieldEvery = 4096;
// SCAN examines at most this many keys per call, whatever COUNT says.
constexpr int64_t kMaxScanCount = 100000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

// A status as the text of a RESP error (CR and LF become spaces).
std::string ErrorText(const Status& s) {
  std::string text = "ERR " + s.ToString();
  for (char& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return text;
}

// Redis's "-ERR unknown command" wording; argument bytes that could break
// the error line are replaced.
std::string UnknownCommand(const Command& c) {
  auto clean = [](std::string_view s) {
    std::string out(s.substr(0, 128));
    for (char& ch : out) {
      if (ch == '\r' || ch == '\n') ch = ' ';
    }
    return out;
  };
  std::string text =
      "ERR unknown command '" + clean(c[0]) + "', with args beginning with: ";
  for (size_t i = 1; i < c.size() && i <= 8; ++i) text += "'" + clean(c[i]) + "' ";
  return text;
}

}  // namespace

struct Commands::Spec {
  const char* name;
  // Redis's convention: n > 0 exactly n words (the name included); n < 0 at least -n.
  int arity;
  bool write;
  // Key positions for COMMAND (Redis's first key, last key, step).
  int first_key, last_key, step;
  Handler handler;  // nullptr: handled by Run (QUIT)
};

// The command table, in COMMAND's order.
const Commands::Spec Commands::kSpecs[] = {
    {"ping", -1, false, 0, 0, 0, &Commands::Ping},
    {"echo", 2, false, 0, 0, 0, &Commands::Echo},
    {"get", 2, false, 1, 1, 1, &Commands::Get},
    {"set", -3, true, 1, 1, 1, &Commands::Set},
    {"mset", -3, true, 1, -1, 2, &Commands::Mset},
    {"del", -2, true, 1, -1, 1, &Commands::Del},
    {"exists", -2, false, 1, -1, 1, &Commands::Exists},
    {"mget", -2, false, 1, -1, 1, &Commands::Mget},
    {"incr", 2, true, 1, 1, 1, &Commands::Incr},
    {"incrby", 3, true, 1, 1, 1, &Commands::Incr},
    {"decr", 2, true, 1, 1, 1, &Commands::Incr},
    {"decrby", 3, true, 1, 1, 1, &Commands::Incr},
    {"scan", -2, false, 0, 0, 0, &Commands::Scan},
    {"dbsize", 1, false, 0, 0, 0, &Commands::Dbsize},
    {"info", -1, false, 0, 0, 0, &Commands::Info},
    {"command", -1, false, 0, 0, 0, &Commands::CommandCmd},
    {"config", -2, false, 0, 0, 0, &Commands::Config},
    {"quit", -1, false, 0, 0, 0, nullptr},
};

const Commands::Spec* Commands::FindSpec(std::string_view lower_name) {
  for (const auto& spec : kSpecs) {
    if (lower_name == spec.name) return &spec;
  }
  return nullptr;
}

namespace {

bool ArityOk(const Commands::Spec& spec, size_t words) {
  return spec.arity > 0 ? words == static_cast<size_t>(spec.arity)
                        : words >= static_cast<size_t>(-spec.arity);
}

}  // namespace

// ---- ScanCursors ----

ScanCursors::ScanCursors() {
  std::random_device rd;
  next_id_ = ((static_cast<uint64_t>(rd()) << 32) | rd()) >> 2;  // room to count up
  if (next_id_ == 0) next_id_ = 1;
}

uint64_t ScanCursors::Save(std::string last_key) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  keys_.emplace(id, std::move(last_key));
  order_.push_back(id);
  if (order_.size() > kMaxCursors) {
    keys_.erase(order_.front());
    order_.pop_front();
  }
  return id;
}

std::optional<std::string> ScanCursors::Find(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

// ---- Commands ----

Commands::Commands(DB& db, const CommandSettings& settings, ServerStats& stats)
    : db_(db),
      settings_(settings),
      write_options_{.sync = settings.sync},
      stats_(stats),
      combiner_(db, write_options_) {}

asio::awaitable<Commands::Outcome> Commands::Run(
    std::vector<Command>& batch, std::string* out,
    const std::function<bool()>& over_limit) {
  ReplyWriter w(out);
  // At most one run is open at a time: a command of another kind closes it.
  PendingWrites pending;
  RmwRun rmw;
  std::vector<Slice> gets;
  for (Command& c : batch) {
    if (over_limit()) break;
    stats_.total_commands.fetch_add(1, std::memory_order_relaxed);
    const std::string name = Lower(c[0]);
    // Consecutive GETs: one MultiGet.
    // (Each Flush* is awaited only when its run holds something: an empty
    // one would still cost a coroutine frame per command.)
    if (name == "get" && c.size() == 2) {
      if (pending.commands != 0) co_await FlushWrites(pending, out);
      if (!rmw.empty()) co_await FlushRmw(rmw, out);
      gets.push_back(c[1]);
      if (gets.size() >= kMaxGetRun) co_await FlushGets(gets, out);
      continue;
    }
    if (!gets.empty()) co_await FlushGets(gets, out);
    // A plain SET or an MSET joins the pending run of writes.
    if ((name == "set" && c.size() == 3) ||
        (name == "mset" && c.size() >= 3 && c.size() % 2 == 1)) {
      if (!rmw.empty()) co_await FlushRmw(rmw, out);
      for (size_t i = 1; i + 1 < c.size(); i += 2) {
        pending.batch.Put(c[i], c[i + 1]);
        pending.keys.push_back(std::move(c[i]));  // c is not read again
      }
      ++pending.commands;
      if (pending.batch.ApproximateSize() >= kMaxPendingBytes)
        co_await FlushWrites(pending, out);
      continue;
    }
    if (pending.commands != 0) co_await FlushWrites(pending, out);
    // A well-formed INCR... or SET NX|XX joins the run of read-modify-writes.
    std::string error;
    if (auto op = ParseRmw(c, name, &error)) {
      rmw.push_back(std::move(*op));
      continue;
    }
    if (!rmw.empty()) co_await FlushRmw(rmw, out);
    const Spec* spec = FindSpec(name);
    if (spec == nullptr) {
      w.Error(UnknownCommand(c));
    } else if (!ArityOk(*spec, c.size())) {
      w.Error("ERR wrong number of arguments for '" + name + "' command");
    } else if (!error.empty()) {
      w.Error(error);
    } else if (spec->handler == nullptr) {  // QUIT
      w.SimpleString("OK");
      co_return Outcome::kQuit;
    } else {
      co_await (this->*(spec->handler))(c, w);
    }
  }
  co_await FlushGets(gets, out);
  co_await FlushWrites(pending, out);
  co_await FlushRmw(rmw, out);
  co_return over_limit() ? Outcome::kReplyLimit : Outcome::kContinue;
}

asio::awaitable<void> Commands::FlushGets(std::vector<Slice>& keys, std::string* out) {
  if (keys.empty()) co_return;
  std::vector<Result<std::string>> values = co_await ReadMany(std::move(keys));
  keys.clear();
  ReplyWriter w(out);
  for (const auto& v : values) {
    if (v.ok()) {
      w.Bulk(*v);
    } else if (v.status().IsNotFound()) {
      w.NullBulk();
    } else {
      w.Error(ErrorText(v.status()));
    }
  }
}

std::optional<std::pair<std::string, KeyCombiner::Op>> Commands::ParseRmw(
    const Command& c, const std::string& name, std::string* error) {
  KeyCombiner::Op op;
  if (name == "incr" || name == "decr" || name == "incrby" || name == "decrby") {
    const bool by = name.size() == 6;
    if (c.size() != (by ? 3u : 2u)) return std::nullopt;  // the arity check reports it
    int64_t delta = 1;
    if (by && !ParseInteger(c[2], &delta)) {
      *error = "ERR value is not an integer or out of range";
      return std::nullopt;
    }
    if (name[0] == 'd') {
      if (delta == std::numeric_limits<int64_t>::min()) {
        *error = "ERR decrement would overflow";
        return std::nullopt;
      }
      delta = -delta;
    }
    op.kind = KeyCombiner::Op::Kind::kIncrBy;
    op.delta = delta;
    return std::make_pair(c[1], std::move(op));
  }
  if (name != "set" || c.size() < 4) return std::nullopt;
  bool nx = false, xx = false;
  for (size_t i = 3; i < c.size(); ++i) {
    if (EqualsIgnoreCase(c[i], "nx")) {
      nx = true;
    } else if (EqualsIgnoreCase(c[i], "xx")) {
      xx = true;
    } else {
      *error = "ERR syntax error (this server supports SET key value [NX|XX], no expiry)";
      return std::nullopt;
    }
  }
  if (nx && xx) {
    *error = "ERR syntax error";
    return std::nullopt;
  }
  op.kind =
      nx ? KeyCombiner::Op::Kind::kSetIfAbsent : KeyCombiner::Op::Kind::kSetIfPresent;
  op.value = c[2];
  return std::make_pair(c[1], std::move(op));
}

asio::awaitable<void> Commands::FlushRmw(RmwRun& run, std::string* out) {
  if (run.empty()) co_return;
  if (run.size() == 1) {
    const std::string reply =
        co_await combiner_.Apply(std::move(run[0].first), std::move(run[0].second));
    out->append(reply);
    run.clear();
    co_return;
  }
  // One coroutine per command, started in order on this connection's
  // executor: each queues on its key before the next starts.
  const auto executor = co_await asio::this_coro::executor;
  using Operation =
      decltype(asio::co_spawn(executor, combiner_.Apply({}, {}), asio::deferred));
  std::vector<Operation> operations;
  operations.reserve(run.size());
  for (auto& [key, op] : run) {
    operations.push_back(asio::co_spawn(
        executor, combiner_.Apply(std::move(key), std::move(op)), asio::deferred));
  }
  run.clear();
  auto [order, errors, replies] =
      co_await asio::experimental::make_parallel_group(std::move(operations))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (size_t i = 0; i < replies.size(); ++i) {
    if (errors[i]) std::rethrow_exception(errors[i]);
    out->append(replies[i]);
  }
}

asio::awaitable<void> Commands::FlushWrites(PendingWrites& pending, std::string* out) {
  if (pending.commands == 0) co_return;
  KeyCombiner::PlainTurns turns =
      co_await combiner_.TakePlainTurns(std::move(pending.keys));
  const Status s = co_await db_.Write(write_options_, pending.batch);
  turns.Release();
  ReplyWriter w(out);
  for (size_t i = 0; i < pending.commands; ++i) {
    if (s.ok()) {
      w.SimpleString("OK");
    } else {
      w.Error(ErrorText(s));
    }
  }
  pending.batch.Clear();
  pending.keys.clear();
  pending.commands = 0;
}

asio::awaitable<std::vector<Result<std::string>>> Commands::ReadMany(
    std::vector<Slice> keys) {
  // One read point for all keys; the blocks they need are read together.
  co_return co_await db_.MultiGet({}, keys);
}

asio::awaitable<void> Commands::Ping(const Command& c, ReplyWriter& w) {
  if (c.size() > 2) {
    w.Error("ERR wrong number of arguments for 'ping' command");
  } else if (c.size() == 2) {
    w.Bulk(c[1]);
  } else {
    w.SimpleString("PONG");
  }
  co_return;
}

asio::awaitable<void> Commands::Echo(const Command& c, ReplyWriter& w) {
  w.Bulk(c[1]);
  co_return;
}

asio::awaitable<void> Commands::Get(const Command& c, ReplyWriter& w) {
  Result<std::string> v = co_await db_.Get({}, c[1]);
  if (v.ok()) {
    w.Bulk(*v);
  } else if (v.status().IsNotFound()) {
    w.NullBulk();
  } else {
    w.Error(ErrorText(v.status()));
  }
}

asio::awaitable<void> Commands::Set(const Command& c, ReplyWriter& w) {
  // Run takes a plain SET into a batch and SET NX|XX into the combiner, and
  // answers malformed options; what is left is a plain SET of its own.
  std::vector<std::string> keys = {c[1]};  // (g++ 12: no braced list in co_await)
  KeyCombiner::PlainTurns turns = co_await combiner_.TakePlainTurns(std::move(keys));
  const Status s = co_await db_.Put(write_options_, c[1], c[2]);
  turns.Release();
  if (s.ok()) {
    w.SimpleString("OK");
  } else {
    w.Error(ErrorText(s));
  }
}

asio::awaitable<void> Commands::Mset(const Command& c, ReplyWriter& w) {
  // Run merges every well-formed MSET; this one has a key without a value.
  (void)c;
  w.Error("ERR wrong number of arguments for 'mset' command");
  co_return;
}

namespace {

// How many of `values` were found; the first error other than NotFound.
Result<int64_t> CountFound(const std::vector<Result<std::string>>& values) {
  int64_t found = 0;
  for (const auto& v : values) {
    if (v.ok()) {
      ++found;
    } else if (!v.status().IsNotFound()) {
      return v.status();
    }
  }
  return found;
}

}  // namespace

asio::awaitable<void> Commands::Del(const Command& c, ReplyWriter& w) {
  // Each key counts once, however often it is named (as Redis counts).
  std::set<std::string_view> unique(c.begin() + 1, c.end());
  std::vector<Slice> keys(unique.begin(), unique.end());
  // The keys' turns, so that an INCR in flight does not recreate a key
  // after the delete (KeyCombiner); the count is read within them.
  KeyCombiner::PlainTurns turns = co_await combiner_.TakePlainTurns(
      std::vector<std::string>(unique.begin(), unique.end()));
  std::vector<Result<std::string>> values = co_await ReadMany(keys);
  const Result<int64_t> found = CountFound(values);
  if (!found.ok()) {
    w.Error(ErrorText(found.status()));
    co_return;
  }
  WriteBatch batch;
  for (Slice key : keys) batch.Delete(key);
  const Status s = co_await db_.Write(write_options_, batch);
  turns.Release();
  if (s.ok()) {
    w.Integer(*found);
  } else {
    w.Error(ErrorText(s));
  }
}

asio::awaitable<void> Commands::Exists(const Command& c, ReplyWriter& w) {
  // A key named twice counts twice (Redis's rule).
  std::vector<Slice> keys(c.begin() + 1, c.end());
  std::vector<Result<std::string>> values = co_await ReadMany(keys);
  const Result<int64_t> found = CountFound(values);
  if (!found.ok()) {
    w.Error(ErrorText(found.status()));
    co_return;
  }
  w.Integer(*found);
}

asio::awaitable<void> Commands::Mget(const Command& c, ReplyWriter& w) {
  std::vector<Slice> keys(c.begin() + 1, c.end());
  std::vector<Result<std::string>> values = co_await ReadMany(keys);
  for (const auto& v : values) {
    if (!v.ok() && !v.status().IsNotFound()) {
      w.Error(ErrorText(v.status()));
      co_return;
    }
  }
  w.ArrayHeader(values.size());
  for (const auto& v : values) {
    if (v.ok()) {
      w.Bulk(*v);
    } else {
      w.NullBulk();
    }
  }
}

asio::awaitable<void> Commands::Incr(const Command& c, ReplyWriter& w) {
  // Run sends well-formed ones to the combiner; this is the fallback.
  std::string error;
  auto op = ParseRmw(c, Lower(c[0]), &error);
  if (!op) {
    w.Error(error.empty() ? "ERR syntax error" : error);
    co_return;
  }
  const std::string reply =
      co_await combiner_.Apply(std::move(op->first), std::move(op->second));
  w.Raw(reply);
}

std::string Commands::ParseScan(const Command& c, ScanArgs* args) {
  if (c[1] != "0") {
    // Cursors are printed as unsigned numbers; parse the same way.
    bool ok = !c[1].empty() && c[1].size() <= 20;
    for (char ch : c[1]) {
      if (ch < '0' || ch > '9') ok = false;
    }
    uint64_t id = 0;
    if (ok) {
      errno = 0;
      id = std::strtoull(c[1].c_str(), nullptr, 10);
      ok = errno == 0;
    }
    if (ok) args->after = cursors_.Find(id);
    if (!args->after) return "ERR invalid cursor";
  }
  for (size_t i = 2; i < c.size(); i += 2) {
    if (i + 1 >= c.size()) return "ERR syntax error";
    if (EqualsIgnoreCase(c[i], "match")) {
      args->pattern = c[i + 1];
    } else if (EqualsIgnoreCase(c[i], "count")) {
      if (!ParseInteger(c[i + 1], &args->count))
        return "ERR value is not an integer or out of range";
      if (args->count < 1) return "ERR syntax error";
    } else if (EqualsIgnoreCase(c[i], "type")) {
      args->strings = EqualsIgnoreCase(c[i + 1], "string");
    } else {
      return "ERR syntax error";
    }
  }
  args->count = std::min(args->count, kMaxScanCount);
  return "";
}

asio::awaitable<void> Commands::Scan(const Command& c, ReplyWriter& w) {
  ScanArgs args;
  if (const std::string error = ParseScan(c, &args); !error.empty()) {
    w.Error(error);
    co_return;
  }

  std::unique_ptr<Iterator> it = db_.NewIterator({});
  if (args.after) {
    const std::string target = *args.after + '\0';  // the smallest key after it
    co_await it->Seek(target);
  } else {
    co_await it->SeekToFirst();
  }
  std::vector<std::string> keys;
  std::string last;
  for (int64_t examined = 0; it->Valid() && examined < args.count; ++examined) {
    last.assign(it->key());
    if (args.strings && (!args.pattern || GlobMatch(*args.pattern, last)))
      keys.push_back(last);
    if (!it->TryNext()) co_await it->Next();
  }
  if (!it->status().ok()) {
    w.Error(ErrorText(it->status()));
    co_return;
  }
  const uint64_t next = it->Valid() ? cursors_.Save(std::move(last)) : 0;
  w.ArrayHeader(2);
  w.Bulk(std::to_string(next));
  w.ArrayHeader(keys.size());
  for (const auto& k : keys) w.Bulk(k);
}

asio::awaitable<void> Commands::Dbsize(const Command&, ReplyWriter& w) {
  std::unique_ptr<Iterator> it = db_.NewIterator({});
  int64_t n = 0;
  for (co_await it->SeekToFirst(); it->Valid();) {
    ++n;
    if (n % kDbsizeYieldEvery == 0) {
      const auto executor = co_await asio::this_coro::executor;
      co_await asio::post(executor, asio::use_awaitable);
    }
    if (!it->TryNext()) co_await it->Next();
  }
  if (!it->status().ok()) {
    w.Error(ErrorText(it->status()));
  } else {
    w.Integer(n);
  }
}

std::string Commands::InfoText(const std::string& section) {
  const bool all = section.empty() || section == "all" || section == "default" ||
                   section == "everything";
  std::string out;
  auto line = [&out](const std::string& key, const std::string& value) {
    out += key + ":" + value + "\r\n";
  };
  if (all || section == "server") {
    const auto up = std::chrono::steady_clock::now() - stats_.start;
    out += "# Server\r\n";
    // The Redis protocol level a client may check; this is not Redis.
    line("redis_version", "7.0.0");
    line("server_name", "corodb-resp-server");
    line("process_id", std::to_string(::getpid()));
    line("tcp_port", std::to_string(settings_.port));
    line("io_threads", std::to_string(settings_.threads));
    line("sync_writes", settings_.sync ? "always" : "none");
    line("uptime_in_seconds",
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(up).count()));
    out += "\r\n";
  }
  if (all || section == "clients") {
    out += "# Clients\r\n";
    line("connected_clients", std::to_string(stats_.connected_clients.load()));
    out += "\r\n";
  }
  if (all || section == "stats") {
    out += "# Stats\r\n";
    line("total_connections_received", std::to_string(stats_.total_connections.load()));
    line("total_commands_processed", std::to_string(stats_.total_commands.load()));
    line("protocol_errors", std::to_string(stats_.protocol_errors.load()));
    line("reply_limit_disconnects",
         std::to_string(stats_.reply_limit_disconnects.load()));
    out += "\r\n";
  }
  if (all || section == "corodb") {
    out += "# Corodb\r\n";
    std::string value;
    if (db_.GetProperty("corodb.io-backend", &value)) line("io_backend", value);
    // "name: value" lines, then a "level files bytes" table.
    if (db_.GetProperty("corodb.stats", &value)) {
      size_t pos = 0;
      while (pos < value.size()) {
        size_t eol = value.find('\n', pos);
        if (eol == std::string::npos) eol = value.size();
        const std::string l = value.substr(pos, eol - pos);
        pos = eol + 1;
        const size_t colon = l.find(": ");
        int level = 0;
        unsigned long long files = 0, bytes = 0;
        if (colon != std::string::npos) {
          line(l.substr(0, colon), l.substr(colon + 2));
        } else if (std::sscanf(l.c_str(), "%d %llu %llu", &level, &files, &bytes) == 3) {
          line("level" + std::to_string(level),
               "files=" + std::to_string(files) + ",bytes=" + std::to_string(bytes));
        }
      }
    }
    out += "\r\n";
  }
  return out;
}

asio::awaitable<void> Commands::Info(const Command& c, ReplyWriter& w) {
  w.Bulk(InfoText(c.size() > 1 ? Lower(c[1]) : std::string()));
  co_return;
}

void Commands::WriteSpec(const Spec& spec, ReplyWriter& w) {
  // Redis 7's COMMAND entry: name, arity, flags, first key, last key, step,
  // ACL categories, tips, key specifications, subcommands.
  w.ArrayHeader(10);
  w.Bulk(spec.name);
  w.Integer(spec.arity);
  if (spec.write) {
    w.ArrayHeader(2);
    w.SimpleString("write");
    w.SimpleString("denyoom");
  } else {
    w.ArrayHeader(1);
    w.SimpleString("fast");
  }
  w.Integer(spec.first_key);
  w.Integer(spec.last_key);
  w.Integer(spec.step);
  for (int i = 0; i < 4; ++i) w.ArrayHeader(0);
}

asio::awaitable<void> Commands::CommandCmd(const Command& c, ReplyWriter& w) {
  constexpr size_t n = sizeof(kSpecs) / sizeof(kSpecs[0]);
  if (c.size() == 1) {
    w.ArrayHeader(n);
    for (const auto& spec : kSpecs) WriteSpec(spec, w);
    co_return;
  }
  const std::string sub = Lower(c[1]);
  if (sub == "count") {
    w.Integer(static_cast<int64_t>(n));
  } else if (sub == "info") {
    w.ArrayHeader(c.size() - 2);
    for (size_t i = 2; i < c.size(); ++i) {
      const Spec* spec = FindSpec(Lower(c[i]));
      if (spec) {
        WriteSpec(*spec, w);
      } else {
        w.NullArray();
      }
    }
  } else if (sub == "docs") {
    w.ArrayHeader(0);  // no documentation: clients fall back to their own
  } else {
    w.Error("ERR unknown subcommand '" + Lower(c[1]).substr(0, 64) +
            "'. Try COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS.");
  }
  co_return;
}

asio::awaitable<void> Commands::Config(const Command& c, ReplyWriter& w) {
  // Only CONFIG GET, for clients that look at the persistence settings
  // (redis-benchmark asks for "save" and "appendonly").
  if (!EqualsIgnoreCase(c[1], "get") || c.size() != 3) {
    w.Error("ERR this server supports only CONFIG GET parameter");
    co_return;
  }
  const std::string param = Lower(c[2]);
  if (GlobMatch(param, "save")) {
    w.ArrayHeader(2);
    w.Bulk("save");
    w.Bulk("");
  } else if (GlobMatch(param, "appendonly")) {
    w.ArrayHeader(2);
    w.Bulk("appendonly");
    w.Bulk("no");
  } else {
    w.ArrayHeader(0);
  }
  co_return;
}

}  // namespace corodb::resp
