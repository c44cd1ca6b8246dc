#include "db/block_cache_holder.h"

namespace corodb {
namespace {

class LruCache final : public Cache {
 public:
  explicit LruCache(size_t capacity) : cache_(capacity, 16) {}
  size_t capacity() const override { return cache_.capacity(); }
  size_t usage() const override { return cache_.TotalCharge(); }
  table::BlockCache* block_cache() { return &cache_; }

 private:
  table::BlockCache cache_;
};

}  // namespace

std::shared_ptr<Cache> NewLRUCache(size_t capacity) { return std::make_shared<LruCache>(capacity); }

table::BlockCache* BlockCacheOf(Cache& cache) {
  auto* lru = dynamic_cast<LruCache*>(&cache);
  return lru != nullptr ? lru->block_cache() : nullptr;
}

}  // namespace corodb
