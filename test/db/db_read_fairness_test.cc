// Reads answered from memory complete without suspending, yet a coroutine
// looping over them must not hold its thread: handlers posted to its
// executor run within kReadsPerYield reads, and a flush whose install waits
// on the engine executor finishes while readers on that executor keep reading.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "db/read_yield.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

enum class ReadKind { kGet, kMultiGet, kSeek, kNext, kTryNext, kTryPrev };

// `reads` reads of kind `kind`, all answered from the memtable; counts them in *done.
asio::awaitable<void> ReadLoop(DB& db, ReadKind kind, int reads, int* done) {
  const Slice keys[] = {"a", "b"};
  std::unique_ptr<Iterator> it = db.NewIterator({});
  co_await it->SeekToFirst();
  for (int i = 0; i < reads; ++i) {
    switch (kind) {
      case ReadKind::kGet:
        (void)co_await db.Get({}, "a");
        break;
      case ReadKind::kMultiGet:
        (void)co_await db.MultiGet({}, keys);
        break;
      case ReadKind::kSeek:
        co_await it->Seek("a");
        break;
      case ReadKind::kNext:
        if (!it->Valid()) co_await it->SeekToFirst();
        co_await it->Next();
        break;
      case ReadKind::kTryNext:  // the scan idiom of iterator.h
        if (!it->Valid()) co_await it->SeekToFirst();
        if (!it->TryNext()) co_await it->Next();
        break;
      case ReadKind::kTryPrev:
        if (!it->Valid()) co_await it->SeekToLast();
        if (!it->TryPrev()) co_await it->Prev();
        break;
    }
    ++*done;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBReadFairnessTest)

BOOST_DATA_TEST_CASE(HandlersPostedBehindAReadLoopRunWithinItsBudget,
                     bdata::make(BackendNames()) * bdata::make({0, 1, 2, 3, 4, 5}), backend, kind) {
  TempDir dir;
  Options options = EngineOptions(backend);
  asio::io_context ctx(1);
  options.engine_context = &ctx;
  auto opened = RunOn(ctx, OpenDBWithBackend(options, dir.Child("db"), MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "a", "1")).ok());
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "b", "2")).ok());

  constexpr int kReads = 20000;
  int done = 0;
  int done_when_handler_ran = -1;
  asio::co_spawn(ctx, ReadLoop(db, static_cast<ReadKind>(kind), kReads, &done), asio::detached);
  // Queued behind the reader's first turn.
  asio::post(ctx, [&] { done_when_handler_ran = done; });
  ctx.restart();
  ctx.run();
  BOOST_TEST(done == kReads);
  BOOST_TEST(done_when_handler_ran >= 0);
  BOOST_TEST(done_when_handler_ran <= static_cast<int>(kReadsPerYield));
  BOOST_REQUIRE(RunOn(ctx, db.Close()).ok());
}

// The symptom the budget fixes: readers and a writer on the engine's own
// context; the writer fills memtable after memtable, and each switch waits
// for a flush to be installed on that context. Without yields the reader's
// loop, which only stops once the writer is done, held the context and the
// writer never finished (this test then hangs until CTest's timeout).
BOOST_DATA_TEST_CASE(AWriterOnTheReadersContextGetsItsFlushesInstalled, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);  // 32 KiB memtables
  asio::io_context ctx(1);
  options.engine_context = &ctx;
  auto opened = RunOn(ctx, OpenDBWithBackend(options, dir.Child("db"), MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "a", "1")).ok());

  bool writer_done = false;
  Status write_status;
  auto writer = [&]() -> asio::awaitable<void> {
    // 400 KiB: a dozen memtable switches, each waiting for room.
    for (int i = 0; i < 400 && write_status.ok(); ++i) {
      write_status = co_await db.Put({}, NumKey("w", i), SizedValue("w", 1000));
    }
    writer_done = true;
  };
  int64_t reads = 0;
  auto reader = [&]() -> asio::awaitable<void> {
    while (!writer_done) {
      (void)co_await db.Get({}, "a");
      ++reads;
    }
  };
  asio::co_spawn(ctx, writer(), asio::detached);
  asio::co_spawn(ctx, reader(), asio::detached);
  ctx.restart();
  ctx.run();
  BOOST_TEST(write_status.ok(), write_status.ToString());
  BOOST_TEST(writer_done);
  BOOST_TEST(reads > 0);
  std::string stats;
  BOOST_REQUIRE(db.GetProperty("corodb.stats", &stats));
  BOOST_TEST(stats.find("\nflushes: 0\n") == std::string::npos, stats);
  BOOST_REQUIRE(RunOn(ctx, db.Close()).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test
