// Subcommands that open the database through the public blocking API
// (SyncDB), as LevelDB's ldb does: get, put, delete, scan, count, stats,
// approximate-size, compact; and repair and destroy (RepairDB, DestroyDB).
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "corodb/sync_db.h"

namespace corodb::cli {
namespace {

enum class Access { kReadOnly, kWrite };

// Opens ctx.db; on failure prints the error and sets *exit_code. Read-only
// subcommands open it with Options::read_only: no lock, nothing written (a
// process that has the DB open may keep running), the logs replayed in
// memory only.
std::unique_ptr<SyncDB> OpenDb(const Context& ctx, Access access, int* exit_code) {
  Options options = DbOptions(ctx);
  options.read_only = access == Access::kReadOnly;
  Result<std::unique_ptr<SyncDB>> db = SyncDB::Open(options, ctx.db);
  if (!db.ok()) {
    *exit_code = Fail(ctx, db.status());
    return nullptr;
  }
  return std::move(db).value();
}

// Closes `db` (finishing its writes); the exit code for `code` and the close.
int CloseDb(const Context& ctx, std::unique_ptr<SyncDB> db, int code) {
  if (Status s = db->Close(); !s.ok() && code == kExitOk) return Fail(ctx, s);
  return code;
}

// The optional --from / --to bounds, decoded as keys.
struct Range {
  std::optional<std::string> from;
  std::optional<std::string> to;
};

Result<Range> RangeFlags(const Context& ctx) {
  Range range;
  for (auto [flag, bound] : {std::pair{"from", &range.from}, std::pair{"to", &range.to}}) {
    if (auto text = ctx.Flag(flag)) {
      Result<std::string> key = DecodeArg(*text, ctx.key_encoding, std::string("--") + flag);
      if (!key.ok()) return key.status();
      *bound = std::move(*key);
    }
  }
  return range;
}

int WriteOne(Context& ctx, bool put) {
  Result<std::string> key = DecodeArg(ctx.args[0], ctx.key_encoding, "KEY");
  if (!key.ok()) return UsageError(ctx, std::string(key.status().message()));
  Result<std::string> value = std::string();
  if (put) {
    value = DecodeArg(ctx.args[1], ctx.value_encoding, "VALUE");
    if (!value.ok()) return UsageError(ctx, std::string(value.status().message()));
  }
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kWrite, &code);
  if (!db) return code;
  const WriteOptions wo{.sync = ctx.Has("sync")};
  Status s = put ? db->Put(wo, *key, *value) : db->Delete(wo, *key);
  if (!s.ok()) return CloseDb(ctx, std::move(db), Fail(ctx, s));
  code = CloseDb(ctx, std::move(db), kExitOk);
  if (code == kExitOk) *ctx.out << "OK\n";
  return code;
}

// Walks the keys of `range` in order (backwards with `reverse`), calling
// visit(key, value) until it returns false. The iterator's error, if any.
template <typename Visit>
Status Walk(SyncDB& db, const ReadOptions& ro, const Range& range, bool reverse, Visit visit) {
  std::unique_ptr<SyncIterator> it = db.NewIterator(ro);
  if (!reverse) {
    if (range.from) {
      it->Seek(*range.from);
    } else {
      it->SeekToFirst();
    }
    for (; it->Valid(); it->Next()) {
      if (range.to && it->key() >= Slice(*range.to)) break;
      if (!visit(it->key(), it->value())) break;
    }
  } else {
    if (range.to) {
      it->Seek(*range.to);
      if (it->Valid()) {
        it->Prev();
      } else if (it->status().ok()) {
        it->SeekToLast();
      }
    } else {
      it->SeekToLast();
    }
    for (; it->Valid(); it->Prev()) {
      if (range.from && it->key() < Slice(*range.from)) break;
      if (!visit(it->key(), it->value())) break;
    }
  }
  return it->status();
}

}  // namespace

int CmdGet(Context& ctx) {
  Result<std::string> key = DecodeArg(ctx.args[0], ctx.key_encoding, "KEY");
  if (!key.ok()) return UsageError(ctx, std::string(key.status().message()));
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kReadOnly, &code);
  if (!db) return code;
  ReadOptions ro;
  ro.verify_checksums = true;  // an inspection tool reports damage, never a wrong answer
  Result<std::string> value = db->Get(ro, *key);
  if (value.ok()) {
    *ctx.out << Encode(*value, ctx.value_encoding) << "\n";
  } else if (value.status().IsNotFound()) {
    *ctx.err << "corodb: key " << Encode(*key, ctx.key_encoding) << " not found in " << ctx.db
             << "\n";
    code = kExitNotFound;
  } else {
    code = Fail(ctx, value.status());
  }
  return CloseDb(ctx, std::move(db), code);
}

int CmdPut(Context& ctx) { return WriteOne(ctx, /*put=*/true); }

int CmdDelete(Context& ctx) { return WriteOne(ctx, /*put=*/false); }

int CmdScan(Context& ctx) {
  Result<Range> range = RangeFlags(ctx);
  if (!range.ok()) return UsageError(ctx, std::string(range.status().message()));
  Result<uint64_t> limit = NumberFlag(ctx, "limit", UINT64_MAX);
  if (!limit.ok()) return UsageError(ctx, std::string(limit.status().message()));
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kReadOnly, &code);
  if (!db) return code;
  ReadOptions ro;
  ro.verify_checksums = true;  // an inspection tool reports damage, never a wrong answer
  const bool keys_only = ctx.Has("keys_only");
  uint64_t left = *limit;
  std::ostream& out = *ctx.out;
  Status s = Walk(*db, ro, *range, ctx.Has("reverse"), [&](Slice k, Slice v) {
    if (left == 0) return false;
    --left;
    const std::string key = Encode(k, ctx.key_encoding);
    if (ctx.json) {
      out << "{\"key\":" << JsonString(key);
      if (!keys_only) out << ",\"value\":" << JsonString(Encode(v, ctx.value_encoding));
      out << "}\n";
    } else {
      out << key;
      if (!keys_only) out << '\t' << Encode(v, ctx.value_encoding);
      out << '\n';
    }
    return true;
  });
  if (!s.ok()) code = Fail(ctx, s);
  return CloseDb(ctx, std::move(db), code);
}

int CmdCount(Context& ctx) {
  Result<Range> range = RangeFlags(ctx);
  if (!range.ok()) return UsageError(ctx, std::string(range.status().message()));
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kReadOnly, &code);
  if (!db) return code;
  ReadOptions ro;
  ro.verify_checksums = true;  // an inspection tool reports damage, never a wrong answer
  ro.fill_cache = false;
  uint64_t n = 0;
  Status s = Walk(*db, ro, *range, /*reverse=*/false, [&n](Slice, Slice) {
    ++n;
    return true;
  });
  if (s.ok()) {
    *ctx.out << n << "\n";
  } else {
    code = Fail(ctx, s);
  }
  return CloseDb(ctx, std::move(db), code);
}

int CmdStats(Context& ctx) {
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kReadOnly, &code);
  if (!db) return code;
  std::string leveldb_stats;
  std::string stats;
  std::string backend;
  if (!db->GetProperty("leveldb.stats", &leveldb_stats)) leveldb_stats.clear();
  if (!db->GetProperty("corodb.stats", &stats)) stats.clear();
  if (!db->GetProperty("corodb.io-backend", &backend)) backend = "unknown";
  std::ostream& out = *ctx.out;
  if (!ctx.json) {
    out << "io-backend: " << backend << "\n" << leveldb_stats << stats;
    return CloseDb(ctx, std::move(db), code);
  }
  // corodb.stats is "name: value" lines, then a per-level table whose
  // header line names its columns.
  out << "{\"io_backend\":" << JsonString(backend);
  std::istringstream lines(stats);
  std::string line;
  std::vector<std::string> columns;
  bool first_level = true;
  while (std::getline(lines, line)) {
    if (line.starts_with("level files bytes")) {
      std::istringstream header(line);
      for (std::string c; header >> c;) columns.push_back(c);
      out << ",\"levels\":[";
      continue;
    }
    if (!columns.empty()) {
      std::istringstream row(line);
      out << (first_level ? "{" : ",{");
      for (size_t i = 0; i < columns.size(); ++i) {
        uint64_t v = 0;
        if (!(row >> v)) break;
        out << (i == 0 ? "" : ",") << JsonString(columns[i]) << ":" << v;
      }
      out << "}";
      first_level = false;
      continue;
    }
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    out << "," << JsonString(line.substr(0, colon)) << ":" << line.substr(colon + 2);
  }
  if (!columns.empty()) out << "]";
  out << "}\n";
  return CloseDb(ctx, std::move(db), code);
}

int CmdApproximateSize(Context& ctx) {
  Result<Range> range = RangeFlags(ctx);
  if (!range.ok()) return UsageError(ctx, std::string(range.status().message()));
  if (!range->to) return UsageError(ctx, "approximate-size needs --to=KEY");
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kReadOnly, &code);
  if (!db) return code;
  const std::string from = range->from.value_or("");
  const DB::Range r{from, *range->to};
  std::vector<uint64_t> sizes = db->GetApproximateSizes(std::span<const DB::Range>(&r, 1));
  *ctx.out << (sizes.empty() ? 0 : sizes[0]) << "\n";
  return CloseDb(ctx, std::move(db), code);
}

int CmdCompact(Context& ctx) {
  Result<Range> range = RangeFlags(ctx);
  if (!range.ok()) return UsageError(ctx, std::string(range.status().message()));
  int code = kExitOk;
  std::unique_ptr<SyncDB> db = OpenDb(ctx, Access::kWrite, &code);
  if (!db) return code;
  const Slice from = range->from ? Slice(*range->from) : Slice();
  const Slice to = range->to ? Slice(*range->to) : Slice();
  Status s = db->CompactRange(range->from ? &from : nullptr, range->to ? &to : nullptr);
  if (!s.ok()) return CloseDb(ctx, std::move(db), Fail(ctx, s));
  code = CloseDb(ctx, std::move(db), kExitOk);
  if (code == kExitOk) *ctx.out << "OK\n";
  return code;
}

int CmdRepair(Context& ctx) {
  if (Status s = SyncDB::Repair(ctx.db, DbOptions(ctx)); !s.ok()) return Fail(ctx, s);
  *ctx.out << "OK: repaired " << ctx.db << " (" << ctx.db
           << "/LOG lists what was recovered; what was given up is in " << ctx.db << "/lost/)\n";
  return kExitOk;
}

int CmdDestroy(Context& ctx) {
  if (!ctx.Has("yes")) {
    return UsageError(ctx, "destroy deletes every file of " + ctx.db + "; pass --yes to do it");
  }
  if (Status s = DestroyDB(ctx.db, DbOptions(ctx)); !s.ok()) return Fail(ctx, s);
  *ctx.out << "OK: destroyed " << ctx.db << "\n";
  return kExitOk;
}

}  // namespace corodb::cli
