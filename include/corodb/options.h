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

class Cache;
class Comparator;
class FilterPolicy;
class Snapshot;

// Which file-I/O backend the engine uses. The environment variable
// CORODB_IO_BACKEND=uring|threadpool overrides this for operators and tests.
enum class IoBackendKind {
  // io_uring when a probe ring with the real setup flags can be created on the
  // engine thread; otherwise the thread pool, with the reason logged once.
  // The first successful probe answers later opens in the process; an
  // io_context whose own ring fails later uses the thread pool (logged).
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
  // Open without changing anything in the directory: no lock is taken, no
  // LOG, log, table or MANIFEST is written, the logs are replayed into memory
  // only, and no flush or compaction runs. Reads see the database as it was
  // when it was opened; writes and CompactRange fail with NotSupported.
  // create_if_missing is ignored (a missing database is InvalidArgument).
  // A process writing the database meanwhile may delete tables this view
  // still names: reads of them then fail with IOError naming the file.
  bool read_only = false;

  IoBackendKind io_backend = IoBackendKind::kAuto;
  // Threads of the thread-pool backend (blocking syscalls run there).
  int io_threads = 8;

  // Bytes of memtable before it is frozen and a new log is started.
  size_t write_buffer_size = 4 * 1024 * 1024;

  // Table options.
  // Open files: tables kept open by the table cache get this minus 10 (the
  // logs, the MANIFEST, LOG and LOCK), as in LevelDB.
  int max_open_files = 1000;
  // Capacity of the DB's own block cache in bytes (when block_cache is null).
  // While a shard of the cache (one of 16) has room every block read into
  // it is kept; once it is full, a block read from the page cache (or the
  // mapping) is kept only on its second miss within the shard's recent
  // misses, so a scan or uniform random reads over far more data than the
  // cache holds do not churn it (blocks read from the disk are always kept;
  // docs/decisions.md, "Block cache admission").
  size_t block_cache_capacity = 8 * 1024 * 1024;
  // A block cache shared with other DBs (NewLRUCache); null: the DB makes
  // its own of block_cache_capacity bytes.
  std::shared_ptr<Cache> block_cache;
  // Read tables with O_DIRECT (aligned buffers; the page cache is bypassed):
  // for data far larger than memory, where the page cache only duplicates
  // the block cache. Compaction input is read the same way.
  bool use_direct_reads = false;
  // Read every data block that misses the block cache straight from a
  // read-only mapping of its table, as LevelDB does: no system call per
  // block. The price, also LevelDB's: a block whose pages are not in the
  // page cache blocks the reading thread on a page fault (a disk read)
  // instead of being awaited on the ring, and a disk error on a mapped page
  // kills the process (SIGBUS) instead of returning an IOError.
  // Off by default: tables are still mapped, but a block is read from the
  // mapping only when the page cache held its pages at the last look
  // (mincore, at most a second old) or a read brought them in since; other
  // blocks are copied with a non-blocking read (preadv2 RWF_NOWAIT), else
  // read on the ring. So only a page evicted in the last second can still
  // fault (docs/decisions.md). Ignored with use_direct_reads (nothing is
  // mapped).
  bool mmap_reads = false;
  // Approximate uncompressed size of a table data block.
  size_t block_size = 4 * 1024;
  // Entries between restart points in a block.
  int block_restart_interval = 16;
  // Bytes written to a table file before a new one is started.
  size_t max_file_size = 2 * 1024 * 1024;
  CompressionType compression = CompressionType::kSnappyCompression;
  // Bloom filter (or other) policy; nullptr means no filter blocks.
  std::shared_ptr<const FilterPolicy> filter_policy;

  // Threads running the background context, where flushes and compactions
  // run as coroutines (one flush-or-compaction chain at a time, LevelDB's
  // policy; more threads let its I/O completions and the chain's CPU work
  // overlap with other background handlers).
  int background_threads = 1;
  // Bytes per second compactions may write (0: unlimited). Paced with
  // awaited timers; flushes are never paced.
  uint64_t compaction_rate_limit = 0;
  // Bytes a compaction reads from an input table at a time (consecutive
  // data blocks, read together into a buffer of this size per input table
  // being merged; a larger block is read whole). RocksDB's
  // compaction_readahead_size. 0: one block at a time; at most 1 GiB. The
  // default was the fastest of 256 KiB to 2 MiB here (docs/decisions.md,
  // "The compaction read size is 512 KiB").
  size_t compaction_readahead_size = 512 << 10;

  // The engine executor: when set, the DB's commit loop runs on this context
  // (which the caller must run); otherwise the DB owns a context and a thread.
  boost::asio::io_context* engine_context = nullptr;
};

struct ReadOptions {
  // Verify the checksum of every table block this read loads.
  bool verify_checksums = false;
  // Keep table blocks loaded for this read in the block cache (as the
  // cache admits them: see Options::block_cache_capacity). false: never.
  bool fill_cache = true;
  // Read as of this snapshot (DB::GetSnapshot; must be this DB's and not
  // released). nullptr: the newest visible write when the read starts.
  const Snapshot* snapshot = nullptr;
};

struct WriteOptions {
  // fdatasync the log before the write is acknowledged.
  bool sync = false;
};

}  // namespace corodb
