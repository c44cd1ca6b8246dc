// LevelDB (Debian's libleveldb) as a corodb-bench engine.
#include <memory>

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include "engine.h"

namespace corodb::bench {
namespace {

class LevelDBEngine final : public BlockingEngine {
 public:
  explicit LevelDBEngine(const Flags& f) : f_(f) {}

  std::string Open(const std::string& dir) override {
    leveldb::Options options;
    options.create_if_missing = true;
    cache_.reset(leveldb::NewLRUCache(static_cast<size_t>(f_.cache_size)));
    options.block_cache = cache_.get();
    filter_.reset(f_.bloom_bits >= 0 ? leveldb::NewBloomFilterPolicy(f_.bloom_bits) : nullptr);
    options.filter_policy = filter_.get();
    options.write_buffer_size = static_cast<size_t>(f_.write_buffer_size);
    options.max_file_size = static_cast<size_t>(f_.max_file_size);
    options.max_open_files = f_.open_files;
    options.block_size = static_cast<size_t>(f_.block_size);
    options.compression = f_.compression ? leveldb::kSnappyCompression : leveldb::kNoCompression;
    leveldb::DB* raw = nullptr;
    const leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
    if (!s.ok()) return s.ToString();
    db_.reset(raw);
    return "";
  }

  std::string Execute(const Op& op, bool sync, uint64_t* scanned) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    leveldb::Status s;
    std::string value;
    switch (op.kind) {
      case OpKind::kPut:
        s = db_->Put(wo, op.key, leveldb::Slice(op.value.data(), op.value.size()));
        break;
      case OpKind::kDelete:
        s = db_->Delete(wo, op.key);
        break;
      case OpKind::kGet:
        s = db_->Get({}, op.key, &value);
        break;
      case OpKind::kMultiGet:
        // No MultiGet in LevelDB: the batch's keys one after the other.
        for (const std::string& key : op.keys) {
          s = db_->Get({}, key, &value);
          if (!s.ok() && !s.IsNotFound()) break;
        }
        break;
      case OpKind::kBatchPut: {
        leveldb::WriteBatch batch;
        for (size_t j = 0; j < op.keys.size(); ++j) {
          batch.Put(op.keys[j], leveldb::Slice(op.values[j].data(), op.values[j].size()));
        }
        s = db_->Write(wo, &batch);
        break;
      }
      case OpKind::kScanAll:
      case OpKind::kSeekScan: {
        std::unique_ptr<leveldb::Iterator> it(db_->NewIterator({}));
        BlockingScan(*it, op, scanned);
        s = it->status();
        break;
      }
      case OpKind::kReadModifyWrite:
        s = db_->Get({}, op.key, &value);
        if (s.ok() || s.IsNotFound()) s = db_->Put(wo, op.key, leveldb::Slice(op.value.data(), op.value.size()));
        break;
      case OpKind::kCompact:
        db_->CompactRange(nullptr, nullptr);
        break;
    }
    return s.ok() || s.IsNotFound() ? "" : s.ToString();
  }

  std::string StatsText() override {
    std::string stats;
    db_->GetProperty("leveldb.stats", &stats);
    return stats;
  }

  void Close() override {
    db_.reset();
    cache_.reset();
  }

 private:
  const Flags& f_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace

std::unique_ptr<Engine> NewLevelDBEngine(const Flags& f) { return std::make_unique<LevelDBEngine>(f); }

}  // namespace corodb::bench
