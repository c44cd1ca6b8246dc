// RocksDB (Debian's librocksdb) as a corodb-bench engine, set to LevelDB's
// shape so the three engines differ in implementation, not in tuning.
#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "engine.h"

namespace corodb::bench {
namespace {

class RocksDBEngine final : public BlockingEngine {
 public:
  explicit RocksDBEngine(const Flags& f) : f_(f) {}

  std::string Open(const std::string& dir) override {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(f_.cache_size));
    if (f_.bloom_bits >= 0) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(f_.bloom_bits));
    table.block_size = static_cast<size_t>(f_.block_size);
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    options.write_buffer_size = static_cast<size_t>(f_.write_buffer_size);
    options.max_write_buffer_number = 2;  // one memtable being written, one being flushed
    options.target_file_size_base = static_cast<uint64_t>(f_.max_file_size);
    options.max_open_files = f_.open_files;
    options.compression = f_.compression ? rocksdb::kSnappyCompression : rocksdb::kNoCompression;
    // LevelDB's level shape and write throttling.
    options.max_bytes_for_level_base = 10 << 20;
    options.max_bytes_for_level_multiplier = 10;
    options.level_compaction_dynamic_level_bytes = false;
    options.level0_file_num_compaction_trigger = 4;
    options.level0_slowdown_writes_trigger = 8;
    options.level0_stop_writes_trigger = 12;
    options.compaction_pri = rocksdb::kRoundRobin;
    options.max_background_jobs = 1;
    options.use_direct_reads = f_.direct_reads;
    rocksdb::DB* raw = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
    if (!s.ok()) return s.ToString();
    db_.reset(raw);
    return "";
  }

  std::string Execute(const Op& op, bool sync, uint64_t* scanned) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s;
    std::string value;
    switch (op.kind) {
      case OpKind::kPut:
        s = db_->Put(wo, op.key, rocksdb::Slice(op.value.data(), op.value.size()));
        break;
      case OpKind::kDelete:
        s = db_->Delete(wo, op.key);
        break;
      case OpKind::kGet:
        s = db_->Get({}, op.key, &value);
        break;
      case OpKind::kMultiGet: {
        std::vector<rocksdb::Slice> keys(op.keys.begin(), op.keys.end());
        std::vector<std::string> values;
        for (const rocksdb::Status& ks : db_->MultiGet({}, keys, &values)) {
          if (!ks.ok() && !ks.IsNotFound()) {
            s = ks;
            break;
          }
        }
        break;
      }
      case OpKind::kBatchPut: {
        rocksdb::WriteBatch batch;
        for (size_t j = 0; j < op.keys.size(); ++j) {
          s = batch.Put(op.keys[j], rocksdb::Slice(op.values[j].data(), op.values[j].size()));
          if (!s.ok()) break;
        }
        if (s.ok()) s = db_->Write(wo, &batch);
        break;
      }
      case OpKind::kScanAll:
      case OpKind::kSeekScan: {
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
        BlockingScan(*it, op, scanned);
        s = it->status();
        break;
      }
      case OpKind::kReadModifyWrite:
        s = db_->Get({}, op.key, &value);
        if (s.ok() || s.IsNotFound()) s = db_->Put(wo, op.key, rocksdb::Slice(op.value.data(), op.value.size()));
        break;
      case OpKind::kCompact:
        s = db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
        break;
    }
    return s.ok() || s.IsNotFound() ? "" : s.ToString();
  }

  std::string StatsText() override {
    std::string stats;
    db_->GetProperty("rocksdb.stats", &stats);
    return stats;
  }

  void Close() override {
    if (db_ != nullptr) (void)db_->Close();
    db_.reset();
  }

 private:
  const Flags& f_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

std::unique_ptr<Engine> NewRocksDBEngine(const Flags& f) { return std::make_unique<RocksDBEngine>(f); }

}  // namespace corodb::bench
