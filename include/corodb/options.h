// Options for opening a database, and per-read / per-write options.
// Defaults match LevelDB's where LevelDB has the same knob.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace corodb {

class Comparator;
class FilterPolicy;

// Which file-I/O backend the engine uses. The environment variable
// CORODB_IO_BACKEND=uring|threadpool overrides this for operators and tests.
enum class IoBackendKind {
  // io_uring when a probe ring with the real setup flags can be created on the
  // engine thread; otherwise the thread pool, with the reason logged once.
  kAuto,
  // io_uring; opening fails when the ring cannot be set up.
  kUring,
  // pread/pwrite/fdatasync on a thread pool.
  kThreadPool,
};

enum class CompressionType : unsigned char { kNoCompression = 0, kSnappyCompression = 1 };

struct Options {
  // Key order. Default: bytewise, named "leveldb.BytewiseComparator".
  const Comparator* comparator = nullptr;

  bool create_if_missing = false;
  bool error_if_exists = false;
  // Verify every checksum while reading, and stop recovery at the first
  // corruption instead of skipping the damaged records.
  bool paranoid_checks = false;

  IoBackendKind io_backend = IoBackendKind::kAuto;
  // Threads of the thread-pool backend (blocking syscalls run there).
  int io_threads = 8;

  // Bytes of memtable before it is frozen and a new log is started.
  size_t write_buffer_size = 4 * 1024 * 1024;

  // Table options. corodb does not write or read tables yet (memtables are
  // not flushed): until it does, Open fails with NotSupported when one of
  // these differs from its default, rather than accept a setting that has
  // no effect.
  // Tables kept open by the table cache.
  int max_open_files = 1000;
  // Capacity of the block cache in bytes.
  size_t block_cache_capacity = 8 * 1024 * 1024;
  // Approximate uncompressed size of a table data block.
  size_t block_size = 4 * 1024;
  // Entries between restart points in a block.
  int block_restart_interval = 16;
  // Bytes written to a table file before a new one is started.
  size_t max_file_size = 2 * 1024 * 1024;
  CompressionType compression = CompressionType::kSnappyCompression;
  // Bloom filter (or other) policy; nullptr means no filter blocks.
  std::shared_ptr<const FilterPolicy> filter_policy;

  // Threads running flushes and compactions (none yet: must stay 1).
  int background_threads = 1;

  // The engine executor: when set, the DB's commit loop runs on this context
  // (which the caller must run); otherwise the DB owns a context and a thread.
  boost::asio::io_context* engine_context = nullptr;
};

struct ReadOptions {
  // Verify the checksum of every table block this read loads. (Reads find
  // everything in memtables until tables are written.)
  bool verify_checksums = false;
  // Keep table blocks loaded for this read in the block cache.
  bool fill_cache = true;
  // (LevelDB's `snapshot` arrives with snapshots.)
};

struct WriteOptions {
  // fdatasync the log before the write is acknowledged.
  bool sync = false;
};

}  // namespace corodb
