// Compaction-policy tunables of the version module, each with the reason for
// its value. LevelDB's values: the on-disk format does not depend on them,
// but a directory shared with LevelDB is shaped the same way by both.
#pragma once

#include <cstdint>

namespace corodb::config {

// A level-0 compaction starts at this many level-0 files: every read
// consults each level-0 file, so their count is what costs.
inline constexpr int kL0_CompactionTrigger = 4;

// Level 1 holds this many bytes before it is compacted; each deeper level
// ten times more (MaxBytesForLevel). With 2 MiB tables, about five files.
inline constexpr double kL1MaxBytes = 10.0 * 1048576.0;

// A flushed memtable's table is pushed down to at most this level when
// nothing overlaps it: deeper would skip levels a later compaction of the
// range must cross anyway, and pushing less far leaves work in level 0.
inline constexpr int kMaxMemCompactLevel = 2;

// A compaction output (or a trivially moved file) may overlap at most this
// many max_file_size of level + 2, so a later compaction of it stays small.
inline constexpr uint64_t kMaxGrandparentOverlapFiles = 10;

// A compaction grows its level's inputs (without adding level + 1 files)
// only while all its inputs stay under this many max_file_size.
inline constexpr uint64_t kExpandedCompactionFiles = 25;

}  // namespace corodb::config
