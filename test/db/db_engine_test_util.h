// Helpers for the engine tests (db_engine_test.cc, db_write_stall_test.cc):
// the engine options they share, keys and values, a model check, flushing a
// memtable at a chosen point, and what the directory and its tables hold.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "corodb/filter_policy.h"
#include "db_test_util.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "table/table.h"
#include "table/table_options.h"
#include "util/random.h"

namespace corodb::test {

using Model = std::map<std::string, std::string>;

inline constexpr size_t kKiB = 1024;
// Generous bound for events that must happen (a hang fails instead of
// stalling the run); nothing is decided by it.
inline constexpr int kEventMillis = 60000;

// The engine settings the brief asks for: small memtables and tables, 1 KiB
// blocks, a 10-bit bloom filter, snappy.
inline Options EngineOptions(const std::string& backend) {
  Options o = TestOptions(backend);
  o.write_buffer_size = 32 * kKiB;
  o.max_file_size = 64 * kKiB;
  o.block_size = 1 * kKiB;
  o.filter_policy = NewBloomFilterPolicy(10);
  o.compression = CompressionType::kSnappyCompression;
  return o;
}

inline std::string NumKey(const std::string& prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d", i);
  return prefix + buf;
}

inline std::string SizedValue(const std::string& tag, size_t size) {
  std::string v = tag + ":";
  while (v.size() < size) v += static_cast<char>('a' + v.size() % 23);
  v.resize(size);
  return v;
}

inline std::string RandomValue(Random& rnd, size_t max_len) {
  const size_t len = rnd.Uniform(static_cast<uint32_t>(max_len) + 1);
  std::string v(len, '\0');
  if (rnd.OneIn(2)) {
    for (char& c : v) c = static_cast<char>(rnd.Uniform(256));
  } else {
    const char c = static_cast<char>('a' + rnd.Uniform(26));
    for (size_t i = 0; i < len; ++i)
      v[i] = (i % 7 == 0) ? static_cast<char>(rnd.Uniform(256)) : c;
  }
  return v;
}

inline std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// Get with `options`, as a string: the value, "NOT_FOUND", or the error.
inline std::string GetOrStatus(DB& db, const ReadOptions& options,
                               const std::string& key) {
  Result<std::string> r = Run(db.Get(options, key));
  if (r.ok()) return *r;
  if (r.status().IsNotFound()) return "NOT_FOUND";
  return r.status().ToString();
}

// Checks every key of `model`. Reports at most a few mismatches, then stops the test.
inline void CheckAll(DB& db, const Model& model, const std::string& where) {
  int bad = 0;
  for (const auto& [k, v] : model) {
    const std::string got = GetOrStatus(db, k);
    if (got == v) continue;
    BOOST_ERROR(where << ": key \"" << Printable(k) << "\": expected " << v.size()
                      << " bytes, got "
                      << (got.size() < 100 ? "\"" + Printable(got) + "\""
                                           : std::to_string(got.size()) + " bytes"));
    BOOST_REQUIRE_MESSAGE(++bad < 5, where << ": too many mismatches");
  }
}

// Makes the memtable a table: `filler_key` is written with a value as large
// as the memtable, so the empty batch after it finds the memtable full and
// freezes it; then waits until flushes and compactions are done.
// REQUIRES: the memtable holds less than half of write_buffer_size.
inline void FlushWithFiller(DB& db, const std::string& filler_key,
                            size_t write_buffer_size, Model* model) {
  const uint64_t switches = Stat(db, "memtable_switches");
  const std::string filler(write_buffer_size, 'f');
  BOOST_REQUIRE(Run(db.Put({}, filler_key, filler)).ok());
  if (model != nullptr) (*model)[filler_key] = filler;
  BOOST_REQUIRE(Run(db.Write({}, WriteBatch())).ok());
  BOOST_REQUIRE_EQUAL(Stat(db, "memtable_switches"), switches + 1);
  const Status idle = WaitIdle(db);
  BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
}

// Writes `count` 1000-byte values of random "r" keys into one memtable
// (write_buffer_size 4 MiB) and closes: left in the log, a reopen with 32 KiB
// memtables recovers them into about count / 31 overlapping level-0 tables.
// Returns what was written.
inline Model WriteForRecoveryIntoLevel0(const std::string& backend,
                                        const std::string& path, int count) {
  Options big = EngineOptions(backend);
  big.write_buffer_size = 4 << 20;
  auto db = OpenOrDie(big, path, backend);
  Random rnd(7);
  Model model;
  for (int i = 0; i < count; ++i) {
    const std::string key = NumKey("r", static_cast<int>(rnd.Uniform(100000)));
    model[key] = SizedValue(key, 1000);
    BOOST_REQUIRE(Run(db->Put({}, key, model[key])).ok());
  }
  BOOST_REQUIRE_EQUAL(Stat(*db, "memtable_switches"), 0u);
  BOOST_REQUIRE(Run(db->Close()).ok());
  return model;
}

// Flips one bit of the byte at `offset` of file `path`.
inline void FlipBit(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f.is_open(), path);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  BOOST_REQUIRE(f.good());
}

inline std::string LevelSummary(DB& db) {
  std::string s;
  for (int level = 0; level < kNumLevels; ++level) {
    s += (level == 0 ? "" : " ") + std::to_string(FilesAtLevel(db, level));
  }
  return "files[ " + s + " ]";
}

// --- Files in the directory, and what the tables hold ---

struct DirFiles {
  std::set<uint64_t> tables;
  int logs = 0;
  int manifests = 0;
  int temps = 0;
};

inline DirFiles ListDbFiles(const std::string& dir) {
  DirFiles out;
  auto names = io::ListDir(dir);
  BOOST_REQUIRE_MESSAGE(names.ok(), names.status().ToString());
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    if (type == io::FileType::kTableFile) out.tables.insert(number);
    if (type == io::FileType::kLogFile) ++out.logs;
    if (type == io::FileType::kDescriptorFile) ++out.manifests;
    if (type == io::FileType::kTempFile) ++out.temps;
  }
  return out;
}

inline std::string Numbers(const std::set<uint64_t>& numbers) {
  std::string s;
  for (uint64_t n : numbers) s += (s.empty() ? "" : " ") + std::to_string(n);
  return "{" + s + "}";
}

// The table numbers "leveldb.sstables" lists (LevelDB's format: one
// " number:size[smallest .. largest]" line per file under "--- level N ---").
inline std::set<uint64_t> LiveTables(DB& db) {
  std::string listing;
  BOOST_REQUIRE(db.GetProperty("leveldb.sstables", &listing));
  std::set<uint64_t> numbers;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos ||
        !std::isdigit(static_cast<unsigned char>(line[start])))
      continue;
    const size_t colon = line.find(':', start);
    if (colon == std::string::npos) continue;
    numbers.insert(std::stoull(line.substr(start, colon - start)));
  }
  size_t files = 0;
  for (int level = 0; level < kNumLevels; ++level)
    files += static_cast<size_t>(FilesAtLevel(db, level));
  BOOST_REQUIRE_MESSAGE(numbers.size() == files, "leveldb.sstables lists "
                                                     << numbers.size()
                                                     << " tables, the levels hold "
                                                     << files << ":\n"
                                                     << listing);
  return numbers;
}

// An entry for one user key in a table file, as compactions left it.
struct TableEntry {
  uint64_t file = 0;
  SequenceNumber sequence = 0;
  ValueType type = kTypeValue;
  std::string value;
};

inline boost::asio::awaitable<Result<std::vector<TableEntry>>> ScanTableForKey(
    const io::FileSystem* fs, std::string path, uint64_t number,
    table::TableOptions options, std::string user_key) {
  const Result<uint64_t> size = io::GetFileSize(path);
  if (!size.ok()) co_return size.status();
  Result<std::unique_ptr<io::File>> file = fs->Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  Result<std::unique_ptr<table::Table>> table =
      co_await table::Table::Open(options, std::move(file).value(), *size);
  if (!table.ok()) co_return table.status();
  std::vector<TableEntry> out;
  std::unique_ptr<table::AsyncIterator> it = (*table)->NewIterator(ReadOptions{});
  const InternalKey target(user_key, kMaxSequenceNumber, kValueTypeForSeek);
  co_await it->Seek(target.Encode());
  while (it->Valid()) {
    ParsedInternalKey parsed;
    if (!ParseInternalKey(it->key(), &parsed))
      co_return Status::Corruption(path, "bad internal key");
    if (parsed.user_key != Slice(user_key)) break;
    out.push_back(
        TableEntry{number, parsed.sequence, parsed.type, std::string(it->value())});
    co_await it->Next();
  }
  if (!it->status().ok()) co_return it->status();
  co_return out;
}

// Every entry (values and deletion markers) for `user_key` in the tables
// `numbers` of `dir`, read with the table reader directly.
inline std::vector<TableEntry> EntriesInTables(const std::string& dir,
                                               const std::set<uint64_t>& numbers,
                                               const Options& options,
                                               const std::string& user_key) {
  const InternalKeyComparator icmp(BytewiseComparator());
  const table::TableOptions topt = table::TableOptionsForDb(options, &icmp, nullptr);
  io::FileSystem fs(test::MakeBackendByName("threadpool"));
  std::vector<TableEntry> all;
  for (uint64_t number : numbers) {
    Result<std::vector<TableEntry>> found =
        Run(ScanTableForKey(&fs, io::TableFileName(dir, number), number, topt, user_key));
    BOOST_REQUIRE_MESSAGE(found.ok(), found.status().ToString());
    all.insert(all.end(), found->begin(), found->end());
  }
  return all;
}

// "#12 seq 7 deletion, #9 seq 3 value (100 bytes)".
inline std::string Describe(const std::vector<TableEntry>& entries) {
  std::string s;
  for (const TableEntry& e : entries) {
    if (!s.empty()) s += ", ";
    s += "#" + std::to_string(e.file) + " seq " + std::to_string(e.sequence) +
         (e.type == kTypeDeletion
              ? " deletion"
              : " value (" + std::to_string(e.value.size()) + " bytes)");
  }
  return s.empty() ? "none" : s;
}

inline int CountType(const std::vector<TableEntry>& entries, ValueType type) {
  int n = 0;
  for (const TableEntry& e : entries) n += (e.type == type) ? 1 : 0;
  return n;
}

// --- Engine statistics over several DB objects (they restart at each open) ---

}  // namespace corodb::test
