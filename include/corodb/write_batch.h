// WriteBatch: a group of updates applied atomically, in LevelDB's encoding:
//
//   rep     := sequence: fixed64, count: fixed32, record[count]
//   record  := kTypeValue(1) varstring(key) varstring(value)
//            | kTypeDeletion(0) varstring(key)
//   varstring := varint32(len) + bytes
//
// The same bytes are the payload of a write-ahead-log record, so a batch
// written by LevelDB decodes here and vice versa.
//
// Thread safety: a const WriteBatch may be read from many threads; a
// non-const method needs exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "corodb/slice.h"
#include "corodb/status.h"

namespace corodb {

class WriteBatch {
 public:
  // Receives the records of a batch in order (see Iterate()).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(Slice key, Slice value) = 0;
    virtual void Delete(Slice key) = 0;
  };

  WriteBatch();
  WriteBatch(const WriteBatch&) = default;
  WriteBatch& operator=(const WriteBatch&) = default;
  // A moved-from batch is empty (and valid).
  WriteBatch(WriteBatch&& other) noexcept;
  WriteBatch& operator=(WriteBatch&& other) noexcept;
  ~WriteBatch() = default;

  // Records "set key to value". The bytes are copied.
  void Put(Slice key, Slice value);
  // Records "remove key" (not an error when the key is absent).
  void Delete(Slice key);
  // Removes every record (the header is reset too).
  void Clear();

  // Appends the records of `source` after this batch's (sequence unchanged).
  void Append(const WriteBatch& source);

  // Bytes of the encoding, header included: what the log record will take.
  size_t ApproximateSize() const { return rep_.size(); }

  // Number of records, as stored in the header.
  uint32_t Count() const;

  // Calls `handler` once per record, in order. Returns OK, or
  // Corruption("WriteBatch: ...") when the encoding is malformed (bad tag,
  // truncated record, count mismatch, header too short); the records before
  // the bad one have then already been passed to the handler.
  Status Iterate(Handler& handler) const;

 private:
  friend class WriteBatchInternal;

  std::string rep_;
};

}  // namespace corodb
