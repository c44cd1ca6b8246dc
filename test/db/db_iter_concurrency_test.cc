// Iterators open while other threads write, and while memtable switches,
// flushes and compactions replace the files under them: each sees exactly
// the database as of its creation, in both directions. An iterator kept
// across many compactions keeps working and keeps its tables on disk, which
// go once it is destroyed.
//
// The model of what an iterator must see is exact: writer threads run fixed
// lists of batches and publish, per batch, "started" before and "done" after
// the write. An iterator created between reading every writer's `done` and
// then its `started` sees, of each writer, every batch before `done`, none
// from `started` on, and a prefix of those in between (a batch in flight may
// or may not be in; a batch is whole or absent). Half the iterators are
// created while the writers are paused at a gate (then done == started:
// exactly one state), half while their groups are in flight.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "db_iter_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace {

namespace bdata = boost::unit_test::data;

constexpr int kKeys = 3000;  // "k" keys; writer w owns those with index % writers == w

// One update of a batch; no value: a delete.
struct Update {
  std::string key;
  std::optional<std::string> value;
};

// A writer thread's fixed list of batches and how far it got.
struct WriterPlan {
  std::vector<std::vector<Update>> batches;
  std::atomic<size_t> started{0};  // batches whose Write began
  std::atomic<size_t> done{0};     // batches whose Write returned OK
  std::string failure;             // read after the thread is joined
};

std::vector<std::vector<Update>> MakeBatches(int writer, int writers, int count,
                                             uint32_t seed) {
  Random rnd(seed);
  std::vector<std::vector<Update>> batches(static_cast<size_t>(count));
  for (auto& batch : batches) {
    const int updates = 1 + static_cast<int>(rnd.Uniform(3));
    for (int u = 0; u < updates; ++u) {
      const int index = static_cast<int>(rnd.Uniform(kKeys / writers)) * writers + writer;
      Update update{NumKey("k", index), std::nullopt};
      if (!rnd.OneIn(5)) update.value = RandomValue(rnd, 300);
      batch.push_back(std::move(update));
    }
  }
  return batches;
}

void Apply(const std::vector<Update>& batch, Model* model) {
  for (const Update& u : batch) {
    if (u.value) {
      (*model)[u.key] = *u.value;
    } else {
      model->erase(u.key);
    }
  }
}

// Writers stop between batches while the gate is closed, and before a
// batch at or past the quota. Every wait is bounded (kEventMillis) and fails
// loudly instead of hanging.
class Gate {
 public:
  explicit Gate(int writers) : running_(writers) {}

  // Writer: before its batch `index`. false: the gate stayed closed too long.
  bool Pass(size_t index) {
    std::unique_lock lock(mu_);
    if (!closed_ && index < quota_) return true;
    ++parked_;
    cv_.notify_all();
    const bool opened = cv_.wait_for(lock, std::chrono::milliseconds(kEventMillis),
                                     [&] { return !closed_ && index < quota_; });
    --parked_;
    return opened;
  }
  // Writer: it has no more batches.
  void Finished() {
    std::lock_guard lock(mu_);
    --running_;
    cv_.notify_all();
  }
  // Closes the gate and waits until every running writer is parked (at the
  // gate, or at the quota).
  bool Close() {
    std::unique_lock lock(mu_);
    closed_ = true;
    return cv_.wait_for(lock, std::chrono::milliseconds(kEventMillis),
                        [&] { return parked_ == running_; });
  }
  // Lets the writers run up to batch `quota` (exclusive).
  void Open(size_t quota) {
    std::lock_guard lock(mu_);
    closed_ = false;
    quota_ = quota;
    cv_.notify_all();
  }
  // Lets the writers run to their end.
  void OpenAll() { Open(SIZE_MAX); }
  // Writer: a batch is done.
  void Progress() {
    std::lock_guard lock(mu_);
    if (watchers_ > 0) cv_.notify_all();
  }
  // Waits until `done()` holds (checked after each batch), or no writer runs.
  template <typename Pred>
  bool WaitUntil(Pred done) {
    std::unique_lock lock(mu_);
    ++watchers_;
    const bool ok = cv_.wait_for(lock, std::chrono::milliseconds(kEventMillis),
                                 [&] { return done() || running_ == 0; });
    --watchers_;
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = true;
  size_t quota_ = 0;
  int parked_ = 0;
  int watchers_ = 0;
  int running_;
};

void RunWriter(DB* db, WriterPlan* plan, Gate* gate) {
  for (size_t i = 0; i < plan->batches.size(); ++i) {
    if (!gate->Pass(i)) {
      plan->failure = "the gate stayed closed";
      break;
    }
    WriteBatch batch;
    for (const Update& u : plan->batches[i]) {
      if (u.value) {
        batch.Put(u.key, *u.value);
      } else {
        batch.Delete(u.key);
      }
    }
    plan->started.store(i + 1, std::memory_order_release);
    if (Status s = Run(db->Write({}, batch)); !s.ok()) {
      plan->failure = "batch " + std::to_string(i) + ": " + s.ToString();
      break;
    }
    plan->done.store(i + 1, std::memory_order_release);
    gate->Progress();
  }
  gate->Finished();
}

// What an iterator created between reading `lo` (each writer's done) and
// `hi` (each writer's started) may see: per writer, its first n batches for
// one n in [lo, hi]. Picks, per writer, the n whose state `seen` shows, and
// returns the whole model; nullopt (and *error) when no n fits.
std::optional<Model> ResolveModel(const std::vector<std::unique_ptr<WriterPlan>>& plans,
                                  const std::vector<size_t>& lo,
                                  const std::vector<size_t>& hi, const Model& seen,
                                  std::string* error) {
  const int writers = static_cast<int>(plans.size());
  auto owner = [writers](const std::string& key) {
    return std::stoi(key.substr(1)) % writers;
  };
  std::vector<Model> seen_parts(plans.size());
  for (const auto& [k, v] : seen) {
    const int w = owner(k);
    if (w < 0 || w >= writers) {
      *error = "a key no writer wrote: " + Printable(k);
      return std::nullopt;
    }
    seen_parts[static_cast<size_t>(w)].emplace(k, v);
  }
  Model model;
  for (size_t w = 0; w < plans.size(); ++w) {
    Model part;
    for (size_t i = 0; i < lo[w]; ++i) Apply(plans[w]->batches[i], &part);
    size_t n = lo[w];
    while (part != seen_parts[w] && n < hi[w]) Apply(plans[w]->batches[n++], &part);
    if (part != seen_parts[w]) {
      *error = "writer " + std::to_string(w) +
               ": the iterator shows no state between batch " + std::to_string(lo[w]) +
               " and " + std::to_string(hi[w]) + " (" +
               std::to_string(seen_parts[w].size()) + " keys seen)";
      return std::nullopt;
    }
    model.insert(part.begin(), part.end());
  }
  return model;
}

// An iterator under test and the state it must show.
struct OpenIterator {
  std::unique_ptr<Iterator> it;
  Model model;
  int number = 0;
};

BOOST_AUTO_TEST_SUITE(DBIteratorConcurrencyTest)

// Writers write batches from their own threads; the main thread creates
// iterators (writers paused at the gate, or in full flight), walks each in
// both directions while the writers go on, lets them write a quota of
// batches (several memtables' worth), stops them and waits for the flushes
// and compactions that brings, and walks it again — and walks the previous
// round's iterator once more, after yet more of them.
BOOST_DATA_TEST_CASE(IteratorsSeeTheirCreationStateWhileOthersWriteAndCompact,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.background_threads = 2;
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  constexpr int kWriters = 3;
  constexpr int kRounds = 10;
  constexpr size_t kBatchesPerRound = 200;  // per writer: ~70 KiB, two memtables
  std::vector<std::unique_ptr<WriterPlan>> plans;
  for (int w = 0; w < kWriters; ++w) {
    plans.push_back(std::make_unique<WriterPlan>());
    plans.back()->batches =
        MakeBatches(w, kWriters, static_cast<int>(kRounds * kBatchesPerRound),
                    1000 + static_cast<uint32_t>(w));
  }
  Gate gate(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back(RunWriter, db.get(), plans[static_cast<size_t>(w)].get(), &gate);
  }
  // Writers are joined on every way out (a failed BOOST_REQUIRE throws).
  struct Joiner {
    Gate& gate;
    std::vector<std::thread>& threads;
    ~Joiner() {
      gate.OpenAll();
      for (std::thread& t : threads) t.join();
    }
  } joiner{gate, threads};

  Random rnd(77);
  std::optional<OpenIterator> previous;
  int rounds_over_flush = 0;
  int rounds_over_compaction = 0;
  int rounds_in_flight = 0;  // created while some writer's batch was in flight
  for (int round = 0; round < kRounds; ++round) {
    BOOST_TEST_CONTEXT("round " << round << ", " << LevelSummary(*db)) {
      // The writers stand at the gate (closed, or at the last quota).
      BOOST_REQUIRE_MESSAGE(gate.Close(), "the writers did not stop at the gate");
      const size_t quota = (static_cast<size_t>(round) + 1) * kBatchesPerRound;
      const bool paused = round % 2 == 0;
      if (!paused) {
        // Writers in full flight: each has committed a few batches.
        gate.Open(quota);
        std::vector<size_t> start(kWriters);
        for (size_t w = 0; w < start.size(); ++w) start[w] = plans[w]->done.load() + 20;
        BOOST_REQUIRE(gate.WaitUntil([&] {
          for (size_t w = 0; w < start.size(); ++w) {
            if (plans[w]->done.load(std::memory_order_acquire) < start[w]) return false;
          }
          return true;
        }));
      }
      std::vector<size_t> lo(kWriters), hi(kWriters);
      for (size_t w = 0; w < lo.size(); ++w)
        lo[w] = plans[w]->done.load(std::memory_order_acquire);
      OpenIterator current;
      current.it = db->NewIterator({});
      current.number = round;
      for (size_t w = 0; w < hi.size(); ++w)
        hi[w] = plans[w]->started.load(std::memory_order_acquire);
      if (paused) {
        BOOST_REQUIRE(lo == hi);
        gate.Open(quota);
      } else if (lo != hi) {
        ++rounds_in_flight;
      }
      const uint64_t flushes = Stat(*db, "flushes");
      const uint64_t compactions = Stat(*db, "compactions");

      // What it shows, while the writers go on: a state the writers were in
      // at its creation.
      const Scan scan = Run(ScanAll(*current.it, false));
      BOOST_REQUIRE_MESSAGE(scan.status.ok(), scan.status.ToString());
      const Model seen(scan.entries.begin(), scan.entries.end());
      std::string error;
      std::optional<Model> model = ResolveModel(plans, lo, hi, seen, &error);
      BOOST_REQUIRE_MESSAGE(model.has_value(), error);
      current.model = std::move(*model);
      std::string diff = CheckIterator(*current.it, current.model, rnd, 800);
      BOOST_REQUIRE_MESSAGE(diff.empty(), "new iterator: " << diff);

      // The writers reach the quota and stop; the flushes and compactions
      // their writes brought run to the end.
      BOOST_REQUIRE(gate.WaitUntil([&] {
        for (const auto& plan : plans) {
          if (plan->done.load(std::memory_order_acquire) < quota) return false;
        }
        return true;
      }));
      BOOST_REQUIRE_MESSAGE(gate.Close(), "the writers did not stop at the gate");
      for (size_t w = 0; w < plans.size(); ++w) {
        BOOST_REQUIRE_MESSAGE(plans[w]->failure.empty(), plans[w]->failure);
        BOOST_REQUIRE_EQUAL(plans[w]->done.load(), quota);
      }
      const Status idle = WaitIdle(*db);
      BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
      if (Stat(*db, "flushes") > flushes) ++rounds_over_flush;
      if (Stat(*db, "compactions") > compactions) ++rounds_over_compaction;

      diff = CheckIterator(*current.it, current.model, rnd, 800);
      BOOST_REQUIRE_MESSAGE(diff.empty(), "after flushes and compactions: " << diff);
      if (previous) {
        diff = CheckIterator(*previous->it, previous->model, rnd, 400);
        BOOST_REQUIRE_MESSAGE(diff.empty(),
                              "iterator of round " << previous->number << ": " << diff);
      }
      previous = std::move(current);
    }
  }
  gate.OpenAll();
  for (std::thread& t : threads) t.join();
  threads.clear();
  for (int w = 0; w < kWriters; ++w) {
    BOOST_TEST(plans[static_cast<size_t>(w)]->failure.empty(),
               "writer " << w << ": " << plans[static_cast<size_t>(w)]->failure);
  }
  BOOST_TEST_MESSAGE(
      backend << ": " << rounds_over_flush << " rounds over a flush, "
              << rounds_over_compaction << " over a compaction, " << rounds_in_flight
              << " iterators created with a write in flight; " << LevelSummary(*db));
  BOOST_TEST(rounds_over_flush == kRounds);
  BOOST_TEST(rounds_over_compaction >= kRounds / 2);
  // The writers' final state, through a fresh iterator.
  Model final_model;
  for (const auto& plan : plans) {
    for (const auto& batch : plan->batches) Apply(batch, &final_model);
  }
  std::unique_ptr<Iterator> last = db->NewIterator({});
  const std::string diff = CheckIterator(*last, final_model, rnd, 1000);
  BOOST_TEST(diff.empty(), "after the writers: " << diff);
}

// An iterator kept while flushes and compactions replace every table it
// reads keeps reading them (they stay on disk, and reopen when the table
// cache, kept small, has let them go); once it is destroyed, the next
// background step deletes them, leaving the directory equal to the live set.
BOOST_DATA_TEST_CASE(IteratorKeptAcrossManyCompactionsPinsItsTablesUntilDestroyed,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.max_open_files = 20;  // 10 tables: pinned ones get closed and reopened
  auto db = OpenOrDie(options, path, backend);
  Random rnd(99);
  Model model;
  WriteRandom(*db, rnd, 400 * kKiB, &model);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  WriteRandom(*db, rnd, 20 * kKiB, &model);  // and some in the memtable
  const std::set<uint64_t> pinned = LiveTables(*db);
  BOOST_TEST_MESSAGE("pinned " << Numbers(pinned) << " " << LevelSummary(*db));
  std::unique_ptr<Iterator> it = db->NewIterator({});
  const Model at_creation = model;
  std::string diff = CheckIterator(*it, at_creation, rnd, 300);
  BOOST_REQUIRE_MESSAGE(diff.empty(), diff);

  const uint64_t compactions = Stat(*db, "compactions");
  for (int round = 0; round < 15; ++round) {
    WriteRandom(*db, rnd, 80 * kKiB, &model);
    BOOST_REQUIRE(WaitIdle(*db).ok());
    diff = CheckIterator(*it, at_creation, rnd, 200);
    BOOST_REQUIRE_MESSAGE(diff.empty(),
                          "round " << round << " " << LevelSummary(*db) << ": " << diff);
  }
  BOOST_REQUIRE_MESSAGE(Stat(*db, "compactions") >= compactions + 10,
                        Stat(*db, "compactions") - compactions << " compactions");
  const std::set<uint64_t> live = LiveTables(*db);
  std::set<uint64_t> replaced;
  std::set_difference(pinned.begin(), pinned.end(), live.begin(), live.end(),
                      std::inserter(replaced, replaced.end()));
  BOOST_TEST_MESSAGE("replaced " << Numbers(replaced) << ", live " << Numbers(live));
  BOOST_REQUIRE_MESSAGE(
      replaced.size() * 2 > pinned.size(),
      "compactions replaced only " << Numbers(replaced) << " of " << Numbers(pinned));
  const std::set<uint64_t> on_disk = ListDbFiles(path).tables;
  for (uint64_t number : replaced) {
    BOOST_TEST(on_disk.count(number) == 1,
               "table " << number << " deleted under the iterator");
  }
  // A fresh iterator reads the current state, not the pinned one.
  {
    std::unique_ptr<Iterator> now = db->NewIterator({});
    diff = CheckIterator(*now, model, rnd, 300);
    BOOST_REQUIRE_MESSAGE(diff.empty(), "current state: " << diff);
  }

  it.reset();
  // The next background step (a flush) deletes what only the iterator held.
  const uint64_t flushes = Stat(*db, "flushes");
  WriteRandom(*db, rnd, 40 * kKiB, &model);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_REQUIRE_GT(Stat(*db, "flushes"), flushes);
  const std::set<uint64_t> after = ListDbFiles(path).tables;
  BOOST_TEST(after == LiveTables(*db),
             "directory " << Numbers(after) << ", live " << Numbers(LiveTables(*db)));
  for (uint64_t number : replaced) {
    BOOST_TEST(after.count(number) == 0, "table " << number << " outlived the iterator");
  }
  std::unique_ptr<Iterator> now = db->NewIterator({});
  diff = CheckIterator(*now, model, rnd, 300);
  BOOST_TEST(diff.empty(), "after the flush: " << diff);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::test
