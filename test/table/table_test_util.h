// Helpers shared by the table tests: random keys, internal keys, a std::map
// model ordered by a corodb Comparator, and writing a table through io::File.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/comparator.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "table/table_builder.h"
#include "util/random.h"

namespace corodb::table::testing {

// Runs a void coroutine to completion on a fresh io_context; rethrows.
inline void RunVoid(boost::asio::awaitable<void> aw) {
  boost::asio::io_context ctx;
  std::exception_ptr error;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);
}

inline std::string RandomBytes(Random* rnd, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rnd->Uniform(256));
  return s;
}

// Orders std::map keys with a corodb comparator.
struct ComparatorLess {
  const Comparator* cmp;
  bool operator()(const std::string& a, const std::string& b) const {
    return cmp->Compare(a, b) < 0;
  }
};
using Model = std::map<std::string, std::string, ComparatorLess>;

inline std::string IKey(Slice user_key, SequenceNumber seq, ValueType type = kTypeValue) {
  std::string s;
  AppendInternalKey(&s, ParsedInternalKey(user_key, seq, type));
  return s;
}

// Writes `model` (in order) as a table at `path`; returns the file size.
inline boost::asio::awaitable<Result<uint64_t>> WriteTable(const io::FileSystem* fs,
                                                           std::string path, TableOptions options,
                                                           const Model* model) {
  Result<std::unique_ptr<io::File>> file = fs->Open(path, io::OpenMode::kCreate);
  if (!file.ok()) co_return file.status();
  TableBuilder builder(options, file->get());
  for (const auto& [k, v] : *model) {
    if (Status s = co_await builder.AddAsync(k, v); !s.ok()) co_return s;
  }
  if (Status s = co_await builder.Finish(); !s.ok()) co_return s;
  if (builder.NumEntries() != model->size()) co_return Status::Corruption("entry count mismatch");
  co_return builder.FileSize();
}

}  // namespace corodb::table::testing
