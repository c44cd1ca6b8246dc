#include "corodb/write_batch.h"

#include <cassert>

#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "memtable/memtable.h"
#include "util/coding.h"

namespace corodb {
namespace {

constexpr size_t kHeader = WriteBatchInternal::kHeaderSize;

// Walks the records of `rep`, calling `handler` for each. Shared by Iterate
// and InsertInto's validation pass; a template so that InsertInto's final
// handlers are called directly.
template <class Handler>
Status ParseRecords(Slice rep, Handler& handler) {
  if (rep.size() < kHeader)
    return Status::Corruption("WriteBatch: too small (header cut)");
  const uint32_t expected = DecodeFixed32(rep.data() + 8);
  Slice input = rep.substr(kHeader);
  uint32_t found = 0;
  while (!input.empty()) {
    const auto tag = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    Slice key, value;
    switch (tag) {
      case kTypeValue:
        if (!GetLengthPrefixedSlice(&input, &key) ||
            !GetLengthPrefixedSlice(&input, &value)) {
          return Status::Corruption("WriteBatch: bad Put record (truncated)");
        }
        handler.Put(key, value);
        break;
      case kTypeDeletion:
        if (!GetLengthPrefixedSlice(&input, &key)) {
          return Status::Corruption("WriteBatch: bad Delete record (truncated)");
        }
        handler.Delete(key);
        break;
      default:
        return Status::Corruption("WriteBatch: unknown record tag " +
                                  std::to_string(tag));
    }
    ++found;
  }
  if (found != expected) {
    return Status::Corruption("WriteBatch: wrong count (header says " +
                              std::to_string(expected) + ", found " +
                              std::to_string(found) + ")");
  }
  return Status::OK();
}

class NullHandler final : public WriteBatch::Handler {
 public:
  void Put(Slice, Slice) override {}
  void Delete(Slice) override {}
};

class MemTableInserter final : public WriteBatch::Handler {
 public:
  MemTableInserter(SequenceNumber seq, MemTable* mem) : seq_(seq), mem_(mem) {}
  void Put(Slice key, Slice value) override { mem_->Add(seq_++, kTypeValue, key, value); }
  void Delete(Slice key) override { mem_->Add(seq_++, kTypeDeletion, key, Slice()); }

 private:
  SequenceNumber seq_;
  MemTable* mem_;
};

}  // namespace

WriteBatch::WriteBatch() { Clear(); }

WriteBatch::WriteBatch(WriteBatch&& other) noexcept : rep_(std::move(other.rep_)) {
  other.Clear();
}

WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  if (this != &other) {
    rep_ = std::move(other.rep_);
    other.Clear();
  }
  return *this;
}

void WriteBatch::Clear() {
  rep_.clear();
  rep_.resize(kHeader, '\0');
}

uint32_t WriteBatch::Count() const { return WriteBatchInternal::Count(*this); }

void WriteBatch::Put(Slice key, Slice value) {
  WriteBatchInternal::SetCount(this, Count() + 1);
  rep_.push_back(static_cast<char>(kTypeValue));
  PutLengthPrefixedSlice(&rep_, key);
  PutLengthPrefixedSlice(&rep_, value);
}

void WriteBatch::Delete(Slice key) {
  WriteBatchInternal::SetCount(this, Count() + 1);
  rep_.push_back(static_cast<char>(kTypeDeletion));
  PutLengthPrefixedSlice(&rep_, key);
}

void WriteBatch::Append(const WriteBatch& source) {
  WriteBatchInternal::Append(this, source);
}

Status WriteBatch::Iterate(Handler& handler) const { return ParseRecords(rep_, handler); }

uint32_t WriteBatchInternal::Count(const WriteBatch& batch) {
  assert(batch.rep_.size() >= kHeader);
  return DecodeFixed32(batch.rep_.data() + 8);
}

void WriteBatchInternal::SetCount(WriteBatch* batch, uint32_t n) {
  EncodeFixed32(batch->rep_.data() + 8, n);
}

SequenceNumber WriteBatchInternal::Sequence(const WriteBatch& batch) {
  return DecodeFixed64(batch.rep_.data());
}

void WriteBatchInternal::SetSequence(WriteBatch* batch, SequenceNumber seq) {
  EncodeFixed64(batch->rep_.data(), seq);
}

Status WriteBatchInternal::SetContents(WriteBatch* batch, Slice contents) {
  if (contents.size() < kHeader) {
    return Status::Corruption("WriteBatch: too small (" +
                              std::to_string(contents.size()) +
                              " bytes, header needs 12)");
  }
  batch->rep_.assign(contents.data(), contents.size());
  return Status::OK();
}

void WriteBatchInternal::Append(WriteBatch* dst, const WriteBatch& src) {
  SetCount(dst, Count(*dst) + Count(src));
  dst->rep_.append(src.rep_.data() + kHeader, src.rep_.size() - kHeader);
}

Status WriteBatchInternal::InsertInto(const WriteBatch& batch, MemTable* memtable) {
  NullHandler validator;
  if (Status s = ParseRecords(batch.rep_, validator); !s.ok()) return s;
  MemTableInserter inserter(Sequence(batch), memtable);
  return ParseRecords(batch.rep_, inserter);
}

}  // namespace corodb
