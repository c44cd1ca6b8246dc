// libFuzzer target: opening a table file (Table::Open: footer, index,
// metaindex, filter), iterating it both ways, the sequential (compaction)
// iterator, and point lookups (Get and TryGet).
//
// Input: byte 0 = flags: bit 0 bloom filter policy, bit 1 paranoid_checks,
// bit 2 a block cache, bit 3 mmap_reads; the rest is the table file, read as
// a database reads its tables (internal keys, InternalKeyComparator).
// Invariants checked:
// - every error (from Open, an iterator or a lookup) is Corruption and names
//   the file;
// - every key an iterator or a lookup returns is a well-formed internal key,
//   and no scan returns more entries than the file has bytes;
// - scanning twice gives the same entries;
// - with checksums verified, the block-by-block iterator and the sequential
//   iterator agree: same entries, and both fail or neither;
// - Get and TryGet (when it answers) agree, and a Get that finds an entry
//   finds the one Seek lands on.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "corodb/filter_policy.h"
#include "format/dbformat.h"
#include "fuzz_util.h"
#include "io/backend.h"
#include "io/file_system.h"
#include "table/block_cache.h"
#include "table/table.h"
#include "table/table_options.h"

namespace corodb::fuzz {
namespace {

namespace asio = boost::asio;
using Entry = std::pair<std::string, std::string>;

struct Scan {
  std::vector<Entry> entries;
  Status status;
};

bool WellFormedKey(Slice key) {
  ParsedInternalKey parsed;
  return ParseInternalKey(key, &parsed);
}

void CheckError(const Status& s, const std::string& path) {
  if (s.ok()) return;
  FUZZ_CHECK(s.IsCorruption(), s.ToString());
  FUZZ_CHECK(s.ToString().find(path) != std::string::npos,
             "error without the file name: " + s.ToString());
}

asio::awaitable<Scan> ScanForward(std::unique_ptr<table::AsyncIterator> it, size_t cap) {
  Scan scan;
  for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) {
    FUZZ_CHECK(scan.entries.size() < cap, "more entries than the file has bytes");
    scan.entries.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  scan.status = it->status();
  co_return scan;
}

asio::awaitable<Scan> ScanBackward(std::unique_ptr<table::AsyncIterator> it, size_t cap) {
  Scan scan;
  for (co_await it->SeekToLast(); it->Valid(); co_await it->Prev()) {
    FUZZ_CHECK(scan.entries.size() < cap, "more entries than the file has bytes");
    scan.entries.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  scan.status = it->status();
  co_return scan;
}

// Where Seek(key) lands: the entry, or nullopt-like empty key when invalid.
asio::awaitable<Scan> SeekOnce(std::unique_ptr<table::AsyncIterator> it,
                               std::string key) {
  Scan scan;
  co_await it->Seek(key);
  if (it->Valid())
    scan.entries.emplace_back(std::string(it->key()), std::string(it->value()));
  scan.status = it->status();
  co_return scan;
}

asio::awaitable<Result<table::LookupResult>> GetOnce(const table::Table* t,
                                                     ReadOptions ro, std::string key) {
  co_return co_await t->Get(ro, key);
}

asio::awaitable<Result<std::unique_ptr<table::Table>>> OpenTable(
    table::TableOptions options, std::unique_ptr<io::File> file, uint64_t size) {
  co_return co_await table::Table::Open(std::move(options), std::move(file), size);
}

void CheckScan(const Scan& scan, const std::string& path) {
  CheckError(scan.status, path);
  for (const Entry& e : scan.entries)
    FUZZ_CHECK(WellFormedKey(e.first), "malformed key returned");
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  static const InternalKeyComparator icmp(BytewiseComparator());
  static const std::shared_ptr<const FilterPolicy> bloom =
      std::make_shared<table::InternalFilterPolicy>(NewBloomFilterPolicy(10));
  static io::FileSystem fs = [] {
    Result<std::shared_ptr<io::Backend>> backend =
        io::MakeBackend(IoBackendKind::kThreadPool, 1, nullptr);
    FUZZ_CHECK(backend.ok(), backend.status().ToString());
    return io::FileSystem(*backend);
  }();

  Input in(data, size);
  const uint8_t flags = in.Byte();
  const std::string_view contents = in.Rest();
  const std::string path = ScratchDir() + "/000001.ldb";
  WriteFileOrDie(path, contents);

  table::BlockCache cache(1 << 20);
  table::TableOptions options;
  options.comparator = &icmp;
  options.internal_keys = true;
  if (flags & 1) options.filter_policy = bloom;
  options.paranoid_checks = (flags & 2) != 0;
  if (flags & 4) options.block_cache = &cache;
  options.mmap_reads = (flags & 8) != 0;

  Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
  FUZZ_CHECK(file.ok(), file.status().ToString());
  Result<std::unique_ptr<table::Table>> opened =
      Run(OpenTable(options, std::move(*file), contents.size()));
  if (!opened.ok()) {
    CheckError(opened.status(), path);
    return 0;
  }
  const table::Table& t = **opened;
  const size_t cap = contents.size() + 1;

  // First, while the block cache is empty (a cached block is not checked
  // again, as in LevelDB): verified reads, by both iterators.
  ReadOptions verify;
  verify.verify_checksums = true;
  verify.fill_cache = false;
  const Scan verified = Run(ScanForward(t.NewIterator(verify), cap));
  CheckScan(verified, path);
  const Scan sequential = Run(ScanForward(t.NewSequentialIterator(1024), cap));
  CheckScan(sequential, path);
  FUZZ_CHECK(sequential.entries == verified.entries,
             "sequential iterator read other entries");
  FUZZ_CHECK(sequential.status.ok() == verified.status.ok(),
             "sequential: " + sequential.status.ToString() +
                 " iterator: " + verified.status.ToString());

  ReadOptions plain;
  const Scan forward = Run(ScanForward(t.NewIterator(plain), cap));
  CheckScan(forward, path);
  const Scan again = Run(ScanForward(t.NewIterator(plain), cap));
  FUZZ_CHECK(again.entries == forward.entries && again.status.ok() == forward.status.ok(),
             "two scans differ");
  const Scan backward = Run(ScanBackward(t.NewIterator(plain), cap));
  CheckScan(backward, path);

  // Point lookups: the keys found, plus each with the sequence number raised
  // (a lookup key between entries).
  std::vector<std::string> keys;
  for (size_t i = 0; i < forward.entries.size() && keys.size() < 32; ++i) {
    keys.push_back(forward.entries[i].first);
    ParsedInternalKey parsed;
    if (ParseInternalKey(forward.entries[i].first, &parsed) &&
        parsed.sequence < kMaxSequenceNumber) {
      InternalKey later(parsed.user_key, parsed.sequence + 1, kValueTypeForSeek);
      keys.push_back(std::string(later.Encode()));
    }
  }
  for (const std::string& key : keys) {
    const Result<table::LookupResult> got = Run(GetOnce(&t, plain, key));
    if (!got.ok()) {
      CheckError(got.status(), path);
      continue;
    }
    if (got->found) FUZZ_CHECK(WellFormedKey(got->key), "Get returned a malformed key");
    const std::optional<Result<table::LookupResult>> tried = t.TryGet(plain, key);
    if (tried && tried->ok()) {
      FUZZ_CHECK((*tried)->found == got->found, "TryGet and Get disagree");
      FUZZ_CHECK(
          !got->found || ((*tried)->key == got->key && (*tried)->value == got->value),
          "TryGet and Get found other entries");
    } else if (tried) {
      CheckError(tried->status(), path);
    }
    if (got->found) {
      const Scan seek = Run(SeekOnce(t.NewIterator(plain), key));
      if (seek.status.ok()) {
        FUZZ_CHECK(seek.entries.size() == 1 && seek.entries[0].first == got->key &&
                       seek.entries[0].second == got->value,
                   "Get found an entry that Seek does not land on");
      }
    }
  }
  return 0;
}
