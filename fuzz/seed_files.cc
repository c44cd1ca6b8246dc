#include "seed_files.h"

#include <cstdio>
#include <memory>
#include <utility>

#include "corodb/filter_policy.h"
#include "corodb/write_batch.h"
#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "fuzz_util.h"
#include "io/backend.h"
#include "io/file_system.h"
#include "log/log_writer.h"
#include "table/block_builder.h"
#include "table/table_builder.h"
#include "table/table_options.h"
#include "version/version_edit.h"

namespace corodb::fuzz {
namespace {

namespace asio = boost::asio;

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%03d", i);
  return buf;
}

std::string Value(int i) {
  return "value-" + std::to_string(i) + std::string(i % 7, 'x');
}

const InternalKeyComparator& Icmp() {
  static const InternalKeyComparator icmp(BytewiseComparator());
  return icmp;
}

io::FileSystem& Fs() {
  static io::FileSystem fs = [] {
    Result<std::shared_ptr<io::Backend>> backend =
        io::MakeBackend(IoBackendKind::kThreadPool, 1, nullptr);
    FUZZ_CHECK(backend.ok(), backend.status().ToString());
    return io::FileSystem(*backend);
  }();
  return fs;
}

asio::awaitable<Status> BuildTable(
    std::string path, table::TableOptions options,
    std::vector<std::pair<std::string, std::string>> entries) {
  Result<std::unique_ptr<io::File>> file = Fs().Open(path, io::OpenMode::kCreate);
  if (!file.ok()) co_return file.status();
  table::TableBuilder builder(options, file->get());
  for (const auto& [k, v] : entries) {
    if (Status s = co_await builder.AddAsync(k, v); !s.ok()) co_return s;
  }
  co_return co_await builder.Finish();
}

// A table file's bytes, made through the real builder in the scratch dir.
std::string TableBytes(const table::TableOptions& options,
                       const std::vector<std::pair<std::string, std::string>>& entries) {
  const std::string path = ScratchDir() + "/seed-table.ldb";
  const Status s = Run(BuildTable(path, options, entries));
  FUZZ_CHECK(s.ok(), s.ToString());
  std::FILE* f = std::fopen(path.c_str(), "rb");
  FUZZ_CHECK(f != nullptr, path);
  std::string bytes;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  return bytes;
}

table::TableOptions DbTableOptions(bool bloom, CompressionType compression,
                                   size_t block_size) {
  table::TableOptions o;
  o.comparator = &Icmp();
  o.internal_keys = true;
  if (bloom)
    o.filter_policy =
        std::make_shared<table::InternalFilterPolicy>(NewBloomFilterPolicy(10));
  o.compression = compression;
  o.block_size = block_size;
  return o;
}

// Internal-key entries for keys [from, to) at sequences first_seq...
std::vector<std::pair<std::string, std::string>> Entries(int from, int to,
                                                         uint64_t first_seq) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = from; i < to; ++i) {
    InternalKey ik(Key(i), first_seq + static_cast<uint64_t>(i - from), kTypeValue);
    entries.emplace_back(std::string(ik.Encode()), Value(i));
  }
  return entries;
}

std::string LogOf(const std::vector<std::string>& records) {
  log::Writer writer;
  std::string out;
  for (const std::string& r : records) writer.AddRecord(r, &out);
  return out;
}

std::string Encoded(const VersionEdit& edit) {
  std::string out;
  edit.EncodeTo(&out);
  return out;
}

FileMetaData Meta(uint64_t number, uint64_t size, int from, int to, uint64_t first_seq) {
  FileMetaData m;
  m.number = number;
  m.file_size = size;
  m.smallest = InternalKey(Key(from), first_seq, kTypeValue);
  m.largest = InternalKey(Key(to - 1), first_seq + static_cast<uint64_t>(to - 1 - from),
                          kTypeValue);
  return m;
}

VersionEdit TemplateEdit() {
  const std::vector<TemplateFile>& files = TemplateDataFiles();
  VersionEdit edit;
  edit.SetComparatorName(BytewiseComparator()->Name());
  edit.SetLogNumber(5);
  edit.SetPrevLogNumber(0);
  edit.SetNextFile(6);
  edit.SetLastSequence(40);
  edit.AddFile(0, Meta(3, files[0].bytes.size(), 0, 20, 1));
  edit.AddFile(1, Meta(4, files[1].bytes.size(), 20, 40, 21));
  return edit;
}

std::string BatchOf(SequenceNumber seq, int from, int to, int delete_key) {
  WriteBatch batch;
  for (int i = from; i < to; ++i) batch.Put(Key(i), Value(i));
  if (delete_key >= 0) batch.Delete(Key(delete_key));
  WriteBatchInternal::SetSequence(&batch, seq);
  return std::string(WriteBatchInternal::Contents(batch));
}

}  // namespace

const std::vector<TemplateFile>& TemplateDataFiles() {
  static const std::vector<TemplateFile> files = [] {
    std::vector<TemplateFile> f;
    f.push_back({"000003.ldb",
                 TableBytes(DbTableOptions(false, CompressionType::kNoCompression, 256),
                            Entries(0, 20, 1))});
    f.push_back(
        {"000004.ldb",
         TableBytes(DbTableOptions(true, CompressionType::kSnappyCompression, 512),
                    Entries(20, 40, 21))});
    WriteBatch del;
    del.Delete(Key(1));
    WriteBatchInternal::SetSequence(&del, 51);
    f.push_back({"000005.log", LogOf({BatchOf(41, 40, 50, -1),
                                      std::string(WriteBatchInternal::Contents(del))})});
    return f;
  }();
  return files;
}

std::string TemplateManifest() { return LogOf({Encoded(TemplateEdit())}); }

std::vector<std::string> TemplateManifestVariants() {
  std::vector<std::string> out;
  VersionEdit drop;
  drop.RemoveFile(0, 3);
  drop.SetLastSequence(40);
  out.push_back(LogOf({Encoded(TemplateEdit()), Encoded(drop)}));

  VersionEdit moved;
  moved.SetComparatorName(BytewiseComparator()->Name());
  moved.SetLogNumber(5);
  moved.SetNextFile(6);
  moved.SetLastSequence(40);
  moved.AddFile(0, Meta(3, TemplateDataFiles()[0].bytes.size(), 0, 20, 1));
  moved.AddFile(2, Meta(4, TemplateDataFiles()[1].bytes.size(), 20, 40, 21));
  moved.SetCompactPointer(2, InternalKey(Key(25), 26, kTypeValue));
  out.push_back(LogOf({Encoded(moved)}));
  return out;
}

const std::map<std::string, std::string>& TemplateWrites() {
  static const std::map<std::string, std::string> writes = [] {
    std::map<std::string, std::string> w;
    for (int i = 0; i < 50; ++i) w[Key(i)] = Value(i);
    return w;
  }();
  return writes;
}

std::vector<std::string> SampleVersionEdits() {
  std::vector<std::string> out;
  out.push_back(Encoded(TemplateEdit()));
  VersionEdit small;
  small.SetLogNumber(12);
  small.SetNextFile(13);
  small.SetLastSequence(1000);
  small.RemoveFile(1, 7);
  small.RemoveFile(3, 9);
  small.SetCompactPointer(1, InternalKey("m", 55, kTypeDeletion));
  out.push_back(Encoded(small));
  VersionEdit big;
  for (int level = 0; level < kNumLevels; ++level) {
    big.AddFile(level, Meta(100 + static_cast<uint64_t>(level), 4096, level * 10,
                            level * 10 + 5, 7));
  }
  big.SetPrevLogNumber(4);
  out.push_back(Encoded(big));
  return out;
}

std::vector<std::string> SampleWriteBatches() {
  std::vector<std::string> out;
  out.push_back(BatchOf(1, 0, 3, -1));
  out.push_back(BatchOf(77, 5, 6, 2));
  WriteBatch empty;
  out.push_back(std::string(WriteBatchInternal::Contents(empty)));
  WriteBatch mixed;
  mixed.Put("", "");
  mixed.Delete("gone");
  mixed.Put(std::string(200, 'k'), std::string(300, 'v'));
  WriteBatchInternal::SetSequence(&mixed, (uint64_t{1} << 40) + 3);
  out.push_back(std::string(WriteBatchInternal::Contents(mixed)));
  return out;
}

std::vector<std::string> SampleLogs() {
  std::vector<std::string> out;
  out.push_back(TemplateDataFiles()[2].bytes);
  out.push_back(TemplateManifest());
  // A record spanning a block boundary (FIRST, LAST) between small ones.
  out.push_back(LogOf({"a", std::string(33000, 'b'), "", "c"}));
  // A log ending in a torn record.
  std::string torn = LogOf({"first", "second record", "third"});
  torn.resize(torn.size() - 3);
  out.push_back(torn);
  return out;
}

std::vector<std::pair<bool, std::string>> SampleBlocks() {
  std::vector<std::pair<bool, std::string>> out;
  for (int interval : {1, 4, 16}) {
    table::BlockBuilder internal(interval);
    for (const auto& [k, v] : Entries(0, 24, 1)) internal.Add(k, v);
    out.emplace_back(true, std::string(internal.Finish()));
    table::BlockBuilder plain(interval);
    for (int i = 0; i < 24; ++i) plain.Add("key" + std::to_string(100 + i), Value(i));
    out.emplace_back(false, std::string(plain.Finish()));
  }
  table::BlockBuilder empty(16);
  out.emplace_back(false, std::string(empty.Finish()));
  return out;
}

std::vector<std::string> SampleTables() {
  std::vector<std::string> out;
  out.push_back(TemplateDataFiles()[0].bytes);
  out.push_back(TemplateDataFiles()[1].bytes);
  out.push_back(TableBytes(DbTableOptions(true, CompressionType::kNoCompression, 128),
                           Entries(0, 12, 100)));
  out.push_back(
      TableBytes(DbTableOptions(false, CompressionType::kSnappyCompression, 4096), {}));
  return out;
}

}  // namespace corodb::fuzz
