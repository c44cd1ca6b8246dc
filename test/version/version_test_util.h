// Helpers shared by the version tests: a VersionSet over a temp directory on
// a chosen backend, file metadata built from user keys, real tables written
// through the table builder.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "corodb/filter_policy.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/block_cache.h"
#include "table/table_builder.h"
#include "table/table_cache.h"
#include "version/version_set.h"

namespace corodb::test {

constexpr uint64_t kMiB = 1 << 20;

// Internal key of `user_key` at `seq`.
inline InternalKey IK(Slice user_key, SequenceNumber seq = 100,
                      ValueType type = kTypeValue) {
  return InternalKey(user_key, seq, type);
}

// Metadata of a table file covering [smallest, largest] (user keys, at
// sequence `seq`); the file itself need not exist for picking tests.
inline FileMetaData Meta(uint64_t number, uint64_t size, Slice smallest, Slice largest,
                         SequenceNumber seq = 100) {
  return FileMetaData{number, size, IK(smallest, seq), IK(largest, seq)};
}

// The numbers of a level's files, in the Version's order.
inline std::vector<uint64_t> Numbers(const Version& v, int level) {
  std::vector<uint64_t> n;
  for (const FileRef& f : v.files(level)) n.push_back(f->number);
  return n;
}
inline std::vector<uint64_t> Numbers(const std::vector<FileRef>& files) {
  std::vector<uint64_t> n;
  for (const FileRef& f : files) n.push_back(f->number);
  return n;
}

// One database directory with what a VersionSet needs: a file system on
// `backend`, the bytewise comparator (unless given), a table cache with a
// block cache, and bloom filters as the DB writes them.
class VersionEnv {
 public:
  // The directory is a new temp directory, or `existing` when given.
  explicit VersionEnv(std::shared_ptr<io::Backend> backend,
                      const Comparator* ucmp = BytewiseComparator(),
                      std::string existing = "")
      : dbname(existing.empty() ? dir.path() : std::move(existing)),
        fs(std::move(backend)),
        icmp(ucmp),
        options(MakeOptions(ucmp)) {
    table_cache = std::make_unique<table::TableCache>(
        dbname, table::TableOptionsForDb(options, &icmp, block_cache.get()), &fs, 100);
    vset = NewSet();
  }

  // A fresh set over the directory (nothing read yet).
  std::unique_ptr<VersionSet> NewSet() {
    return std::make_unique<VersionSet>(dbname, options, &fs, table_cache.get(), &icmp,
                                        nullptr);
  }

  Status Apply(VersionEdit edit) { return Apply(*vset, std::move(edit)); }
  Status Apply(VersionSet& set, VersionEdit edit) { return Run(set.LogAndApply(&edit)); }
  Status Recover(VersionSet& set) {
    bool save_manifest = false;
    Status s = Run(set.Recover(&save_manifest));
    if (s.ok()) BOOST_TEST(save_manifest);
    return s;
  }

  // Adds one file at `level` and installs the result (the test fails otherwise).
  void AddFile(int level, const FileMetaData& meta) {
    VersionEdit edit;
    edit.AddFile(level, meta);
    const Status s = Apply(std::move(edit));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  // Writes table `number` holding `entries` (internal keys in order, with
  // values) and returns its metadata.
  FileMetaData WriteTable(
      uint64_t number, const std::vector<std::pair<InternalKey, std::string>>& entries) {
    const Result<uint64_t> size = Run(WriteTableFile(number, entries));
    BOOST_REQUIRE_MESSAGE(size.ok(), size.status().ToString());
    return FileMetaData{number, *size, entries.front().first, entries.back().first};
  }

  TempDir dir{"version"};
  const std::string dbname;
  io::FileSystem fs;
  InternalKeyComparator icmp;
  Options options;
  std::unique_ptr<table::BlockCache> block_cache = table::NewBlockCache(1 << 20);
  std::unique_ptr<table::TableCache> table_cache;
  std::unique_ptr<VersionSet> vset;

 private:
  static Options MakeOptions(const Comparator* ucmp) {
    Options o;
    o.comparator = ucmp;
    o.filter_policy = NewBloomFilterPolicy(10);
    return o;
  }

  boost::asio::awaitable<Result<uint64_t>> WriteTableFile(
      uint64_t number, const std::vector<std::pair<InternalKey, std::string>>& entries) {
    Result<std::unique_ptr<io::File>> file =
        fs.Open(io::TableFileName(dbname, number), io::OpenMode::kCreate);
    if (!file.ok()) co_return file.status();
    table::TableBuilder builder(
        table::TableOptionsForDb(options, &icmp, block_cache.get()), file->get());
    for (const auto& [key, value] : entries) builder.Add(key.Encode(), value);
    if (Status s = co_await builder.Finish(); !s.ok()) co_return s;
    co_return builder.FileSize();
  }
};

// Tables at three levels:
//   L0  5: k@10 "old-k", m@11 "old-m"         (older)
//   L0  7: k@20 "new-k", n@21 deletion        (newer, overlaps 5)
//   L1  8: a@5 "a1", c@5 "c1", e@5 "e1"
//   L2 12: d@2 "d2", n@2 "n2", r@2 "r2"
inline void BuildLevels(VersionEnv& env) {
  VersionEdit edit;
  edit.AddFile(0, env.WriteTable(5, {{IK("k", 10), "old-k"}, {IK("m", 11), "old-m"}}));
  edit.AddFile(
      0, env.WriteTable(7, {{IK("k", 20), "new-k"}, {IK("n", 21, kTypeDeletion), ""}}));
  edit.AddFile(
      1, env.WriteTable(8, {{IK("a", 5), "a1"}, {IK("c", 5), "c1"}, {IK("e", 5), "e1"}}));
  edit.AddFile(2, env.WriteTable(
                      12, {{IK("d", 2), "d2"}, {IK("n", 2), "n2"}, {IK("r", 2), "r2"}}));
  env.vset->MarkFileNumberUsed(12);
  const Status s = env.Apply(std::move(edit));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// "value", "DELETED" or "NOT_FOUND", or the error.
inline std::string Describe(const Result<VersionGetResult>& r) {
  if (!r.ok()) return r.status().ToString();
  switch (r->kind) {
    case VersionGetResult::kFound:
      return r->value;
    case VersionGetResult::kDeleted:
      return "DELETED";
    case VersionGetResult::kNotFound:
      return "NOT_FOUND";
  }
  return "?";
}

}  // namespace corodb::test
