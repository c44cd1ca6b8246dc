// Commands (examples/resp_server/commands.h) in process, over a DB that can
// hold a write in flight: a plain write (SET, MSET, DEL) of a key that a
// read-modify-write command (INCR) is working on is ordered with it, so
// every outcome is one a sequence of the two commands would give.
#include "commands.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <exception>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "corodb/db.h"
#include "open_db.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace corodb::resp {
namespace {

namespace asio = boost::asio;

// Forwards to a real DB, except that after HoldNextPut() the next Put stops
// before it writes (held() turns true) until Release(). Single-threaded:
// the test drives one io_context.
class GatedDb : public DB {
 public:
  GatedDb(DB& db, asio::io_context& ctx) : db_(db), gate_(ctx) {
    gate_.expires_at(asio::steady_timer::time_point::max());
  }
  void HoldNextPut() { hold_next_ = true; }
  bool held() const { return held_; }
  void Release() { gate_.cancel(); }

  asio::awaitable<Status> Put(const WriteOptions& options, Slice key,
                              Slice value) override {
    if (hold_next_) {
      hold_next_ = false;
      held_ = true;
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled
      held_ = false;
    }
    co_return co_await db_.Put(options, key, value);
  }
  asio::awaitable<Status> Delete(const WriteOptions& options, Slice key) override {
    return db_.Delete(options, key);
  }
  asio::awaitable<Status> Write(const WriteOptions& options,
                                const WriteBatch& batch) override {
    return db_.Write(options, batch);
  }
  asio::awaitable<Result<std::string>> Get(const ReadOptions& options,
                                           Slice key) override {
    return db_.Get(options, key);
  }
  asio::awaitable<std::vector<Result<std::string>>> MultiGet(
      const ReadOptions& options, std::span<const Slice> keys) override {
    return db_.MultiGet(options, keys);
  }
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) override {
    return db_.NewIterator(options);
  }
  SnapshotHandle GetSnapshot() override { return db_.GetSnapshot(); }
  asio::awaitable<Status> CompactRange(const Slice* begin, const Slice* end) override {
    return db_.CompactRange(begin, end);
  }
  asio::awaitable<std::vector<uint64_t>> GetApproximateSizes(
      std::span<const Range> ranges) override {
    return db_.GetApproximateSizes(ranges);
  }
  asio::awaitable<Status> Close() override { return db_.Close(); }
  bool GetProperty(Slice property, std::string* value) override {
    return db_.GetProperty(property, value);
  }
  asio::any_io_executor engine_executor() override { return db_.engine_executor(); }

 private:
  DB& db_;
  asio::steady_timer gate_;
  bool hold_next_ = false;
  bool held_ = false;
};

// Runs one command; *reply is its RESP reply, *done turns true at the end.
asio::awaitable<void> RunCommand(Commands& commands, Command command, std::string* reply,
                                 bool* done) {
  std::vector<Command> batch = {std::move(command)};
  const std::function<bool()> over_limit = [] { return false; };
  const Commands::Outcome outcome = co_await commands.Run(batch, reply, over_limit);
  BOOST_CHECK(outcome == Commands::Outcome::kContinue);
  *done = true;
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// What a plain write racing an INCR may end in. The key holds 5 before both
// start, and the two run concurrently, so either order is allowed: the
// INCR's reply, the write's reply and the key's final value ("" = absent)
// for "INCR first", then for "write first".
struct Race {
  Command write;
  std::string incr_first_incr, incr_first_write, incr_first_value;
  std::string write_first_incr, write_first_write, write_first_value;
};

std::ostream& operator<<(std::ostream& os, const Race& race) {
  for (const auto& word : race.write) os << word << ' ';
  return os;
}

const Race kRaces[] = {
    {{"SET", "k", "100"}, ":6\r\n", "+OK\r\n", "100", ":101\r\n", "+OK\r\n", "101"},
    {{"MSET", "j", "1", "k", "100"},
     ":6\r\n",
     "+OK\r\n",
     "100",
     ":101\r\n",
     "+OK\r\n",
     "101"},
    {{"DEL", "k"}, ":6\r\n", ":1\r\n", "", ":1\r\n", ":0\r\n", "1"},
};

BOOST_AUTO_TEST_SUITE(CommandsTest)

// The INCR's write is held after its read; the plain write is issued then
// and given every chance to finish (the context runs until nothing is
// ready). Without ordering it lands between the INCR's read and write and
// the INCR then overwrites it with a value computed from the old one — an
// outcome of neither order.
BOOST_DATA_TEST_CASE(APlainWriteDuringAnIncrIsOrderedWithIt,
                     boost::unit_test::data::make(kRaces), race) {
  OpenDb open("commands");
  GatedDb db(*open.db, open.ctx);
  ServerStats stats;
  Commands commands(db, CommandSettings{}, stats);
  BOOST_REQUIRE(test::RunOn(open.ctx, open.db->Put({}, "k", "5")).ok());

  std::string incr_reply, write_reply;
  bool incr_done = false, write_done = false;
  db.HoldNextPut();
  asio::co_spawn(open.ctx, RunCommand(commands, {"INCR", "k"}, &incr_reply, &incr_done),
                 Rethrow);
  open.ctx.restart();
  while (!db.held() && open.ctx.run_one() > 0) {
  }
  BOOST_REQUIRE(db.held());  // the INCR has read "5" and is about to write

  asio::co_spawn(open.ctx, RunCommand(commands, race.write, &write_reply, &write_done),
                 Rethrow);
  open.ctx.poll();
  db.Release();
  open.ctx.run();
  BOOST_REQUIRE(incr_done && write_done);

  Result<std::string> value = test::RunOn(open.ctx, open.db->Get({}, "k"));
  BOOST_REQUIRE(value.ok() || value.status().IsNotFound());
  const std::string final_value = value.ok() ? *value : "";
  const bool incr_first = incr_reply == race.incr_first_incr &&
                          write_reply == race.incr_first_write &&
                          final_value == race.incr_first_value;
  const bool write_first = incr_reply == race.write_first_incr &&
                           write_reply == race.write_first_write &&
                           final_value == race.write_first_value;
  BOOST_TEST((incr_first || write_first),
             "INCR replied " << incr_reply.substr(0, incr_reply.size() - 2) << ", "
                             << race.write[0] << " replied "
                             << write_reply.substr(0, write_reply.size() - 2)
                             << ", k is now \"" << final_value << "\"");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::resp
