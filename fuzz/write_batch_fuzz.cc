// libFuzzer target: WriteBatch decoding (WriteBatchInternal::SetContents,
// WriteBatch::Iterate, WriteBatchInternal::InsertInto), the path a log
// record takes into the memtable during recovery.
//
// Input: the whole input is a batch's encoding (a log record's payload).
// Invariants checked:
// - SetContents fails exactly when the input is shorter than the header;
// - a batch that iterates OK produced exactly Count() records; re-encoded
//   with Put/Delete and the same sequence, it is no longer than the input,
//   iterates to the same records, and re-encodes to identical bytes (the
//   encoding is canonical once the varints are minimal);
// - an input that decodes byte-for-byte like its re-encoding is the
//   re-encoding (nothing decoded is ignored);
// - InsertInto succeeds exactly when Iterate does; on success the memtable
//   holds each record once, at sequence Sequence() + i with its type, key
//   and value; on failure the memtable is untouched.
#include <cstdint>
#include <string>
#include <vector>

#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "fuzz_util.h"
#include "memtable/memtable.h"

namespace corodb::fuzz {
namespace {

struct Op {
  bool put;
  std::string key;
  std::string value;
  bool operator==(const Op&) const = default;
};

class Collector final : public WriteBatch::Handler {
 public:
  void Put(Slice key, Slice value) override {
    ops.push_back({true, std::string(key), std::string(value)});
  }
  void Delete(Slice key) override { ops.push_back({false, std::string(key), {}}); }
  std::vector<Op> ops;
};

WriteBatch Encode(const std::vector<Op>& ops, SequenceNumber seq) {
  WriteBatch batch;
  for (const Op& op : ops) {
    if (op.put) {
      batch.Put(op.key, op.value);
    } else {
      batch.Delete(op.key);
    }
  }
  WriteBatchInternal::SetSequence(&batch, seq);
  return batch;
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  static const InternalKeyComparator icmp(BytewiseComparator());
  const Slice input(reinterpret_cast<const char*>(data), size);

  WriteBatch batch;
  const Status set = WriteBatchInternal::SetContents(&batch, input);
  FUZZ_CHECK(set.ok() == (size >= WriteBatchInternal::kHeaderSize), set.ToString());
  if (!set.ok()) {
    FUZZ_CHECK(set.IsCorruption(), set.ToString());
    FUZZ_CHECK(WriteBatchInternal::Count(batch) == 0,
               "a failed SetContents changed the batch");
    return 0;
  }
  FUZZ_CHECK(WriteBatchInternal::Contents(batch) == input,
             "SetContents did not take the bytes");

  Collector collector;
  const Status iterated = batch.Iterate(collector);
  FUZZ_CHECK(iterated.ok() || iterated.IsCorruption(), iterated.ToString());
  const SequenceNumber seq = WriteBatchInternal::Sequence(batch);

  std::shared_ptr<MemTable> mem = MemTable::Create(icmp);
  const Status inserted = WriteBatchInternal::InsertInto(batch, mem.get());
  FUZZ_CHECK(inserted.ok() == iterated.ok(),
             inserted.ToString() + " vs " + iterated.ToString());

  if (!iterated.ok()) {
    FUZZ_CHECK(mem->Empty(), "a batch that failed to decode inserted records");
    return 0;
  }
  FUZZ_CHECK(collector.ops.size() == batch.Count(),
             "records iterated differ from the count");

  const WriteBatch reencoded = Encode(collector.ops, seq);
  const Slice bytes = WriteBatchInternal::Contents(reencoded);
  FUZZ_CHECK(bytes.size() <= input.size(), "re-encoding is longer than the input");
  FUZZ_CHECK(WriteBatchInternal::Count(reencoded) == batch.Count(),
             "re-encoded count differs");
  Collector again;
  FUZZ_CHECK(reencoded.Iterate(again).ok(), "the re-encoding does not decode");
  FUZZ_CHECK(again.ops == collector.ops, "the re-encoding decodes to other records");
  const WriteBatch twice = Encode(again.ops, seq);
  FUZZ_CHECK(WriteBatchInternal::Contents(twice) == bytes, "encoding is not canonical");
  if (bytes.size() == input.size()) {
    FUZZ_CHECK(bytes == input, "same length as the input but other bytes");
  }

  // The memtable holds every record once, at its own sequence number.
  auto it = mem->NewIterator();
  size_t found = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++found;
  FUZZ_CHECK(found == collector.ops.size(), "memtable holds another number of records");
  for (size_t i = 0; i < collector.ops.size(); ++i) {
    const Op& op = collector.ops[i];
    InternalKey want(op.key, seq + i, op.put ? kTypeValue : kTypeDeletion);
    it->Seek(want.Encode());
    FUZZ_CHECK(it->Valid() && it->key() == want.Encode(),
               "record missing from the memtable");
    FUZZ_CHECK(!op.put || it->value() == Slice(op.value), "memtable holds another value");
  }
  return 0;
}
