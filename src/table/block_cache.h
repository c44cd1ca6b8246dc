// The block cache: decoded table blocks keyed by (table id, block offset),
// charged by the memory they hold. Tables get their ids from NewId().
#pragma once

#include <memory>

#include "table/block.h"
#include "table/lru_cache.h"
#include "table/table_options.h"

namespace corodb::table {

// Sixteen shards, each with its own mutex and 1/16 of the capacity.
inline std::unique_ptr<BlockCache> NewBlockCache(size_t capacity) {
  return std::make_unique<BlockCache>(capacity, 16);
}

}  // namespace corodb::table
