// A block cache that several databases can share (Options::block_cache):
// decoded table blocks, least recently used evicted first, charged by the
// bytes they hold. Thread-safe.
//
//   auto cache = corodb::NewLRUCache(64 << 20);
//   options.block_cache = cache;   // every DB opened with it shares the 64 MiB
#pragma once

#include <cstddef>
#include <memory>

namespace corodb {

class Cache {
 public:
  virtual ~Cache() = default;
  // Bytes the cache may hold (blocks in use may exceed it for a while).
  virtual size_t capacity() const = 0;
  // Bytes held now.
  virtual size_t usage() const = 0;
};

// A sharded LRU cache of `capacity` bytes.
std::shared_ptr<Cache> NewLRUCache(size_t capacity);

}  // namespace corodb
