// The public Cache (include/corodb/cache.h) is a table::BlockCache inside.
#pragma once

#include "corodb/cache.h"
#include "table/block_cache.h"

namespace corodb {

// The block cache inside a Cache made by NewLRUCache; nullptr for any other Cache.
table::BlockCache* BlockCacheOf(Cache& cache);

}  // namespace corodb
