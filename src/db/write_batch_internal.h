// WriteBatchInternal: engine-side access to a WriteBatch's header and bytes,
// which the public interface keeps hidden.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corodb/slice.h"
#include "corodb/status.h"
#include "corodb/write_batch.h"
#include "format/dbformat.h"

namespace corodb {

class MemTable;

class WriteBatchInternal {
 public:
  // Size of the header: fixed64 sequence + fixed32 count.
  static constexpr size_t kHeaderSize = 12;

  static uint32_t Count(const WriteBatch& batch);
  static void SetCount(WriteBatch* batch, uint32_t n);

  // The sequence number of the batch's first record.
  static SequenceNumber Sequence(const WriteBatch& batch);
  static void SetSequence(WriteBatch* batch, SequenceNumber seq);

  // The encoded bytes (what goes into the log). Valid until the batch changes.
  static Slice Contents(const WriteBatch& batch) { return batch.rep_; }
  static size_t ByteSize(const WriteBatch& batch) { return batch.rep_.size(); }

  // Replaces the batch's bytes with `contents` (e.g. a log record). Fails with
  // Corruption, leaving the batch unchanged, when contents is shorter than the
  // header; the records themselves are checked later, by Iterate/InsertInto.
  static Status SetContents(WriteBatch* batch, Slice contents);

  // Appends src's records to dst and adds to dst's count.
  static void Append(WriteBatch* dst, const WriteBatch& src);

  // Adds the batch's records to `memtable`, the i-th with sequence
  // Sequence(batch) + i. The whole batch is validated first: on Corruption
  // nothing was inserted.
  // REQUIRES: the memtable's single writer (on engine executor).
  static Status InsertInto(const WriteBatch& batch, MemTable* memtable);
};

}  // namespace corodb
