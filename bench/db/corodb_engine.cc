// corodb as corodb-bench engines: "corodb" (T threads, each an io_context
// driving C coroutines) and "corodb-sync" (the blocking SyncDB facade, one
// thread per worker like LevelDB).
#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "corodb/db.h"
#include "corodb/filter_policy.h"
#include "corodb/sync_db.h"
#include "corodb/write_batch.h"
#include "engine.h"

namespace asio = boost::asio;

namespace corodb::bench {
namespace {

corodb::Options CorodbOptions(const Flags& f) {
  corodb::Options options;
  options.create_if_missing = true;
  options.io_backend = f.backend == "uring"        ? corodb::IoBackendKind::kUring
                       : f.backend == "threadpool" ? corodb::IoBackendKind::kThreadPool
                                                   : corodb::IoBackendKind::kAuto;
  if (f.bloom_bits >= 0) options.filter_policy = corodb::NewBloomFilterPolicy(f.bloom_bits);
  options.block_cache_capacity = static_cast<size_t>(f.cache_size);
  options.write_buffer_size = static_cast<size_t>(f.write_buffer_size);
  options.max_file_size = static_cast<size_t>(f.max_file_size);
  if (f.compaction_readahead >= 0) {
    options.compaction_readahead_size = static_cast<size_t>(f.compaction_readahead);
  }
  options.max_open_files = f.open_files;
  options.block_size = static_cast<size_t>(f.block_size);
  options.mmap_reads = f.mmap_reads;
  options.compression =
      f.compression ? corodb::CompressionType::kSnappyCompression : corodb::CompressionType::kNoCompression;
  options.use_direct_reads = f.direct_reads;
  return options;
}

std::string ErrorOf(const Status& s) { return s.ok() || s.IsNotFound() ? "" : s.ToString(); }

// Runs a scan op on `it` (awaitable iterator): kScanAll walks op.n entries
// from one end, wrapping around; kSeekScan reads up to op.n from op.key.
asio::awaitable<std::string> CoroScan(corodb::Iterator& it, const Op& op, uint64_t* scanned) {
  int64_t n = 0;
  bool first = true;
  while (n < op.n) {
    if (op.kind == OpKind::kSeekScan) {
      if (!first) break;
      if (!it.TrySeek(op.key)) co_await it.Seek(op.key);
    } else if (op.reverse) {
      co_await it.SeekToLast();
    } else {
      co_await it.SeekToFirst();
    }
    first = false;
    if (!it.Valid()) break;
    while (it.Valid() && n < op.n) {
      *scanned += it.key().size() + it.value().size();
      ++n;
      if (op.reverse) {
        if (!it.TryPrev()) co_await it.Prev();
      } else {
        if (!it.TryNext()) co_await it.Next();
      }
    }
    if (!it.status().ok()) break;
  }
  co_return ErrorOf(it.status());
}

class CorodbEngine final : public Engine {
 public:
  explicit CorodbEngine(const Flags& f) : f_(f) {
    for (int t = 0; t < f.threads; ++t) contexts_.push_back(std::make_unique<asio::io_context>(1));
  }

  std::string Open(const std::string& dir) override {
    corodb::Options options = CorodbOptions(f_);
    // With one thread, the benchmark's io_context is also the engine's
    // executor, so no write crosses threads (--engine=shared).
    if (f_.engine == "shared" && f_.threads == 1) options.engine_context = contexts_[0].get();
    asio::io_context& ctx = *contexts_[0];
    auto opened = asio::co_spawn(ctx, corodb::DB::Open(options, dir), asio::use_future);
    ctx.restart();
    ctx.run();
    auto db = opened.get();
    if (!db.ok()) return db.status().ToString();
    db_ = std::move(*db);
    return "";
  }

  void Run(RunContext& ctx) override {
    const int workers = Workers(f_);
    auto rethrow = [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    };
    for (int t = 0; t < f_.threads; ++t) {
      for (int c = 0; c < f_.concurrency; ++c) {
        asio::co_spawn(*contexts_[static_cast<size_t>(t)], Worker(ctx, t * f_.concurrency + c, false), rethrow);
      }
    }
    // The writer has a thread of its own, as db_bench's writer thread.
    asio::io_context writer_context(1);
    if (ctx.w.writer) asio::co_spawn(writer_context, Worker(ctx, workers, true), rethrow);
    ctx.Begin();
    std::vector<std::thread> threads;
    for (auto& c : contexts_) {
      c->restart();
      threads.emplace_back([&c] { c->run(); });
    }
    if (ctx.w.writer) threads.emplace_back([&writer_context] { writer_context.run(); });
    for (auto& t : threads) t.join();
  }

  std::string StatsText() override {
    std::string stats;
    db_->GetProperty("corodb.stats", &stats);
    return stats;
  }

  EngineCounters Counters() override { return ParseCorodbStats(StatsText()); }

  void Close() override {
    if (db_ == nullptr) return;
    asio::io_context& ctx = *contexts_[0];
    auto closed = asio::co_spawn(ctx, db_->Close(), asio::use_future);
    ctx.restart();
    ctx.run();
    (void)closed.get();
    db_.reset();
  }

 private:
  asio::awaitable<void> Worker(RunContext& ctx, int worker, bool writer) {
    OpSource source(ctx.w, ctx.f, ctx.values, ctx.st, worker, writer);
    corodb::DB& db = *db_;
    corodb::WriteOptions wo;
    wo.sync = ctx.w.sync;
    Op op;
    uint64_t scanned = 0;
    std::vector<corodb::Slice> slices;
    while (source.Next(&op)) {
      ctx.Started(op);
      const auto t0 = std::chrono::steady_clock::now();
      std::string error;
      switch (op.kind) {
        case OpKind::kPut:
          error = ErrorOf(co_await db.Put(wo, op.key, op.value));
          break;
        case OpKind::kDelete:
          error = ErrorOf(co_await db.Delete(wo, op.key));
          break;
        case OpKind::kGet: {
          corodb::Result<std::string> got = co_await db.Get({}, op.key);
          if (!got.ok()) error = ErrorOf(got.status());
          break;
        }
        case OpKind::kMultiGet: {
          slices.assign(op.keys.begin(), op.keys.end());
          const std::vector<corodb::Result<std::string>> got = co_await db.MultiGet({}, slices);
          for (const auto& r : got) {
            if (!r.ok() && !r.status().IsNotFound()) {
              error = r.status().ToString();
              break;
            }
          }
          break;
        }
        case OpKind::kBatchPut: {
          corodb::WriteBatch batch;
          for (size_t j = 0; j < op.keys.size(); ++j) batch.Put(op.keys[j], op.values[j]);
          error = ErrorOf(co_await db.Write(wo, batch));
          break;
        }
        case OpKind::kScanAll:
        case OpKind::kSeekScan: {
          std::unique_ptr<corodb::Iterator> it = db.NewIterator({});
          error = co_await CoroScan(*it, op, &scanned);
          break;
        }
        case OpKind::kReadModifyWrite: {
          corodb::Result<std::string> got = co_await db.Get({}, op.key);
          error = got.ok() ? "" : ErrorOf(got.status());
          if (error.empty()) error = ErrorOf(co_await db.Put(wo, op.key, op.value));
          break;
        }
        case OpKind::kCompact:
          error = ErrorOf(co_await db.CompactRange(nullptr, nullptr));
          break;
      }
      const float micros = std::chrono::duration<float, std::micro>(std::chrono::steady_clock::now() - t0).count();
      ctx.Complete(op, worker, writer, micros, error, "corodb");
    }
    ctx.st.scanned_bytes.fetch_add(scanned, std::memory_order_relaxed);
    if (!writer) ctx.WorkerFinished();
  }

  const Flags& f_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<corodb::DB> db_;
};

class CorodbSyncEngine final : public BlockingEngine {
 public:
  explicit CorodbSyncEngine(const Flags& f) : f_(f) {}

  std::string Open(const std::string& dir) override {
    auto db = corodb::SyncDB::Open(CorodbOptions(f_), dir);
    if (!db.ok()) return db.status().ToString();
    db_ = std::move(*db);
    return "";
  }

  std::string Execute(const Op& op, bool sync, uint64_t* scanned) override {
    corodb::WriteOptions wo;
    wo.sync = sync;
    switch (op.kind) {
      case OpKind::kPut:
        return ErrorOf(db_->Put(wo, op.key, op.value));
      case OpKind::kDelete:
        return ErrorOf(db_->Delete(wo, op.key));
      case OpKind::kGet: {
        corodb::Result<std::string> got = db_->Get({}, op.key);
        return got.ok() ? "" : ErrorOf(got.status());
      }
      case OpKind::kMultiGet: {
        const std::vector<corodb::Slice> slices(op.keys.begin(), op.keys.end());
        for (const auto& r : db_->MultiGet({}, slices)) {
          if (!r.ok() && !r.status().IsNotFound()) return r.status().ToString();
        }
        return "";
      }
      case OpKind::kBatchPut: {
        corodb::WriteBatch batch;
        for (size_t j = 0; j < op.keys.size(); ++j) batch.Put(op.keys[j], op.values[j]);
        return ErrorOf(db_->Write(wo, batch));
      }
      case OpKind::kScanAll:
      case OpKind::kSeekScan: {
        std::unique_ptr<corodb::SyncIterator> it = db_->NewIterator({});
        BlockingScan(*it, op, scanned);
        return ErrorOf(it->status());
      }
      case OpKind::kReadModifyWrite: {
        corodb::Result<std::string> got = db_->Get({}, op.key);
        if (!got.ok() && !got.status().IsNotFound()) return got.status().ToString();
        return ErrorOf(db_->Put(wo, op.key, op.value));
      }
      case OpKind::kCompact:
        return ErrorOf(db_->CompactRange(nullptr, nullptr));
    }
    return "";
  }

  std::string StatsText() override {
    std::string stats;
    db_->GetProperty("corodb.stats", &stats);
    return stats;
  }

  EngineCounters Counters() override { return ParseCorodbStats(StatsText()); }

  void Close() override {
    if (db_ != nullptr) (void)db_->Close();
    db_.reset();
  }

 private:
  const Flags& f_;
  std::unique_ptr<corodb::SyncDB> db_;
};

}  // namespace

std::unique_ptr<Engine> NewCorodbEngine(const Flags& f) { return std::make_unique<CorodbEngine>(f); }
std::unique_ptr<Engine> NewCorodbSyncEngine(const Flags& f) { return std::make_unique<CorodbSyncEngine>(f); }

}  // namespace corodb::bench
