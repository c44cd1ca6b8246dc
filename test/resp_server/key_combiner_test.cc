// KeyCombiner (examples/resp_server/key_combiner.h) in process: commands on
// one key from coroutines on several threads and io_contexts are applied
// one at a time, in queue order, and share writes; plain writes share a
// key's turn with each other, never with a read-modify-write, in arrival
// order.
#include "key_combiner.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corodb/db.h"
#include "open_db.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace corodb::resp {
namespace {

namespace asio = boost::asio;

KeyCombiner::Op Incr(int64_t delta) {
  KeyCombiner::Op op;
  op.kind = KeyCombiner::Op::Kind::kIncrBy;
  op.delta = delta;
  return op;
}

KeyCombiner::Op SetIf(bool absent, std::string value) {
  KeyCombiner::Op op;
  op.kind =
      absent ? KeyCombiner::Op::Kind::kSetIfAbsent : KeyCombiner::Op::Kind::kSetIfPresent;
  op.value = std::move(value);
  return op;
}

asio::awaitable<void> IncrMany(KeyCombiner& combiner, int n,
                               std::vector<std::string>* replies) {
  for (int i = 0; i < n; ++i)
    replies->push_back(co_await combiner.Apply("counter", Incr(1)));
}

asio::awaitable<void> SetNx(KeyCombiner& combiner, std::string value,
                            std::string* reply) {
  *reply = co_await combiner.Apply("lock", SetIf(true, std::move(value)));
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

BOOST_AUTO_TEST_SUITE(KeyCombinerTest)

BOOST_AUTO_TEST_CASE(IncrsFromManyThreadsEachGetADistinctValue) {
  OpenDb open("combiner");
  KeyCombiner combiner(*open.db, WriteOptions{.sync = true});
  constexpr int kContexts = 3, kCoroutines = 4, kIncrs = 50;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::vector<std::string>> replies(kContexts * kCoroutines);
  std::vector<std::string> nx(kContexts * kCoroutines);
  for (int c = 0; c < kContexts; ++c) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    for (int k = 0; k < kCoroutines; ++k) {
      const int i = c * kCoroutines + k;
      asio::co_spawn(*contexts.back(), IncrMany(combiner, kIncrs, &replies[i]), Rethrow);
      asio::co_spawn(*contexts.back(),
                     SetNx(combiner, "owner" + std::to_string(i), &nx[i]), Rethrow);
    }
  }
  std::vector<std::thread> threads;
  for (auto& ctx : contexts) threads.emplace_back([&ctx] { ctx->run(); });
  for (auto& t : threads) t.join();

  std::vector<int64_t> all;
  for (const auto& r : replies) {
    std::vector<int64_t> mine;
    for (const auto& reply : r) {
      BOOST_REQUIRE(reply.size() > 3 && reply[0] == ':');
      mine.push_back(std::stoll(reply.substr(1)));
    }
    BOOST_TEST(std::is_sorted(mine.begin(), mine.end()));
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(all.size());
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i + 1);
  BOOST_TEST(all.size() == static_cast<size_t>(kContexts * kCoroutines * kIncrs));
  BOOST_TEST((all == expected));
  BOOST_TEST(std::count(nx.begin(), nx.end(), "+OK\r\n") == 1);
  BOOST_TEST(std::count(nx.begin(), nx.end(), "$-1\r\n") == kContexts * kCoroutines - 1);

  Result<std::string> value = test::RunOn(open.ctx, open.db->Get({}, "counter"));
  BOOST_REQUIRE(value.ok());
  BOOST_TEST(*value == std::to_string(all.size()));
  // Concurrent sync writes on one key were combined: fewer writes than INCRs.
  std::string stats;
  BOOST_REQUIRE(open.db->GetProperty("corodb.stats", &stats));
  const size_t at = stats.find("writes: ");
  BOOST_REQUIRE(at != std::string::npos);
  BOOST_TEST(std::stoll(stats.substr(at + 8)) < static_cast<int64_t>(all.size()));
}

asio::awaitable<void> Apply(KeyCombiner& combiner, KeyCombiner::Op op,
                            std::string* reply) {
  *reply = co_await combiner.Apply("k", std::move(op));
}

BOOST_AUTO_TEST_CASE(CommandsApplyInQueueOrderAndAFailedOneChangesNothing) {
  OpenDb open("combiner");
  BOOST_REQUIRE(test::RunOn(open.ctx, open.db->Put({}, "k", "not a number")).ok());
  KeyCombiner combiner(*open.db, WriteOptions{.sync = true});
  const std::vector<KeyCombiner::Op> ops = {
      Incr(1),            // not an integer: error, no change
      SetIf(false, "5"),  // XX: present, set
      Incr(2),            // 7
      SetIf(true, "9"),   // NX: present, nothing
      Incr(INT64_MAX),    // overflow: error, no change
      Incr(-10),          // -3
  };
  std::vector<std::string> replies(ops.size());
  // Started in order on one thread: they queue in this order, however they
  // are batched.
  for (size_t i = 0; i < ops.size(); ++i) {
    asio::co_spawn(open.ctx, Apply(combiner, ops[i], &replies[i]), Rethrow);
  }
  open.ctx.restart();
  open.ctx.run();
  const std::vector<std::string> expected = {
      "-ERR value is not an integer or out of range\r\n", "+OK\r\n", ":7\r\n", "$-1\r\n",
      "-ERR increment or decrement would overflow\r\n",   ":-3\r\n"};
  BOOST_TEST((replies == expected));
  Result<std::string> value = test::RunOn(open.ctx, open.db->Get({}, "k"));
  BOOST_REQUIRE(value.ok());
  BOOST_TEST(*value == "-3");
}

// Takes plain turns on `keys`, keeps them in *turns and logs `name`.
asio::awaitable<void> TakeTurns(KeyCombiner& combiner, std::vector<std::string> keys,
                                std::optional<KeyCombiner::PlainTurns>* turns,
                                std::string name, std::vector<std::string>* log) {
  *turns = co_await combiner.TakePlainTurns(std::move(keys));
  log->push_back(std::move(name));
}

// Applies `op` to "k" and logs `name` with the reply.
asio::awaitable<void> ApplyLogged(KeyCombiner& combiner, KeyCombiner::Op op,
                                  std::string name, std::vector<std::string>* log) {
  const std::string reply = co_await combiner.Apply("k", std::move(op));
  log->push_back(name + " " + reply.substr(0, reply.size() - 2));
}

BOOST_AUTO_TEST_CASE(PlainWritesAndReadModifyWritesTakeTurnsInArrivalOrder) {
  OpenDb open("combiner");
  KeyCombiner combiner(*open.db, WriteOptions{});
  using Log = std::vector<std::string>;
  Log log;
  std::optional<KeyCombiner::PlainTurns> set1, set2, set3, other;
  auto start = [&open](asio::awaitable<void> step) {
    asio::co_spawn(open.ctx, std::move(step), Rethrow);
    open.ctx.restart();
    open.ctx.poll();  // runs it until it waits
  };
  // Plain writes share an idle key's turn.
  start(TakeTurns(combiner, {"k"}, &set1, "set1", &log));
  start(TakeTurns(combiner, {"k", "j"}, &set2, "set2", &log));
  BOOST_TEST((log == Log{"set1", "set2"}));
  // A read-modify-write waits for them; a plain write after it waits for it
  // (not sharing the turn with set1 and set2, or the INCR could starve).
  start(ApplyLogged(combiner, Incr(1), "incr", &log));
  start(TakeTurns(combiner, {"k"}, &set3, "set3", &log));
  start(TakeTurns(combiner, {"j"}, &other, "other", &log));  // j is held by plain writes
  BOOST_TEST((log == Log{"set1", "set2", "other"}));
  set1->Release();
  open.ctx.poll();
  BOOST_TEST((log == Log{"set1", "set2", "other"}));  // set2 still holds k
  set2->Release();
  open.ctx.run();
  BOOST_TEST((log == Log{"set1", "set2", "other", "incr :1", "set3"}));
  // And a read-modify-write behind set3 waits for it.
  start(ApplyLogged(combiner, Incr(1), "incr", &log));
  BOOST_TEST(log.size() == 5u);
  set3.reset();  // released by the destructor
  open.ctx.run();
  BOOST_TEST(log.back() == "incr :2");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::resp
