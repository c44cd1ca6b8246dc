// Engine tunables, each with the reason for its value.
#pragma once

#include <cstddef>

namespace corodb::config {

// Sync groups write into zero-filled, already-synced log space: an fdatasync
// after an in-place overwrite needs no journal commit for the file size and
// block allocation. Measured here (fio, 4 KiB + fdatasync): appending 720 µs,
// overwriting pre-written blocks 310 µs. The log grows in chunks of this size
// (one zero write + fdatasync per chunk), and only while sync writes arrive.
inline constexpr size_t kWalPreallocChunk = 1 << 20;

// Up to write_buffer_size + kWalMapSlack bytes of a log (rounded up to MiB,
// at most kWalMapMax), non-sync groups copy their records into a moving
// window of a mapping of the log (io::File::MapForAppend, zeros written
// ahead) instead of a pwrite each: a
// system call costs about 1 µs on this VM, a 130-byte pwrite 1.6-3.0 µs
// against 0.2 µs for the copy, page faults included (corodb-append-cost;
// docs/benchmarks.md, "WAL appends through a mapping"). A log rarely outgrows its memtable by more
// than the last group; past the mapping, groups use pwrite.
inline constexpr size_t kWalMapSlack = 1 << 20;
inline constexpr size_t kWalMapMax = size_t{1} << 30;

// Non-sync log bytes are made durable by a background fdatasync (one at a
// time, on a file description of its own) every this many bytes, so the
// fdatasync that makes an old log durable at a memtable switch (the switch
// waits for it) finds little left to do. Starting writeback instead
// (sync_file_range) left that fdatasync 4.6-4.9 ms against 0.1 ms:
// bench/io/log_switch_sync.cc, docs/benchmarks.md ("Log switches").
inline constexpr size_t kWalWritebackChunk = 1 << 20;
// Close to the switch, when the memtable has less than this much room left
// (or an eighth of write_buffer_size, if smaller; not at all when that is
// under two chunks), a background sync starts once kWalPreSwitchChunk bytes
// are unsynced: the switch's own fdatasync then finds at most a chunk and
// the last group (its wait halved in docs/benchmarks.md, "Syncs before the
// switch").
inline constexpr size_t kWalPreSwitchRoom = 256 << 10;
inline constexpr size_t kWalPreSwitchChunk = 64 << 10;

// Groups between begin (logged, fdatasync started, applied invisibly) and end
// (synced, visible, acknowledged). Two let the next group be logged and
// applied, and its fdatasync run, while the previous group's sync is in
// flight: this disk completes two concurrent fdatasyncs of one file at 1.75x
// the rate of one (fio). Measured in docs/benchmarks.md ("Pipelined group
// commit").
inline constexpr size_t kMaxGroupsInFlight = 2;

// When Open makes the records it replayed durable in the new log, it
// appends them in pieces of about this size: few writes, and a buffer that
// does not double the memory recovery already holds.
inline constexpr size_t kRecoveryRewriteChunk = 1 << 20;

// LevelDB's write-stall triggers: at this many level-0 files each write
// group is delayed once by 1 ms (an awaited timer) ...
inline constexpr int kL0SlowdownWritesTrigger = 8;
// ... and at this many, groups wait until a compaction brings it down.
inline constexpr int kL0StopWritesTrigger = 12;
// A compaction lets other handlers of the background context run every
// this many input entries.
inline constexpr int kCompactionYieldEvery = 1024;

}  // namespace corodb::config
