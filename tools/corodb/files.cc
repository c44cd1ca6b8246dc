#include "files.h"

#include <algorithm>

#include "format/dbformat.h"
#include "log/log_reader.h"

namespace corodb::cli {
namespace {

class CollectingReporter final : public log::Reporter {
 public:
  CollectingReporter(LogWalk* walk, const std::function<void(const LogDrop&)>* on_drop)
      : walk_(walk), on_drop_(on_drop) {}
  void Corruption(uint64_t offset, size_t bytes, const Status& status) override {
    walk_->drops.push_back(LogDrop{offset, bytes, status});
    if (*on_drop_) (*on_drop_)(walk_->drops.back());
  }

 private:
  LogWalk* walk_;
  const std::function<void(const LogDrop&)>* on_drop_;
};

}  // namespace

Result<std::unique_ptr<io::FileSystem>> MakeFileSystem(const Context& ctx) {
  Result<std::shared_ptr<io::Backend>> backend =
      io::MakeBackend(ctx.io_backend, /*io_threads=*/2, /*logger=*/nullptr);
  if (!backend.ok()) return backend.status();
  return std::make_unique<io::FileSystem>(std::move(*backend));
}

std::string ResolveFile(const Context& ctx, const std::string& name) {
  if (ctx.db.empty() || name.find('/') != std::string::npos) return name;
  return ctx.db + "/" + name;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string InternalKeyText(Slice internal_key, Encoding encoding) {
  ParsedInternalKey parsed;
  if (!ParseInternalKey(internal_key, &parsed)) {
    return "<bad internal key " + Encode(internal_key, encoding) + ">";
  }
  return Encode(parsed.user_key, encoding) + " @ " + std::to_string(parsed.sequence) + " : " +
         (parsed.type == kTypeValue ? "put" : "del");
}

std::string InternalKeyJson(Slice internal_key, Encoding encoding) {
  ParsedInternalKey parsed;
  if (!ParseInternalKey(internal_key, &parsed)) {
    return "{\"bad_key\":" + JsonString(Encode(internal_key, encoding)) + "}";
  }
  return "{\"user_key\":" + JsonString(Encode(parsed.user_key, encoding)) +
         ",\"sequence\":" + std::to_string(parsed.sequence) + ",\"kind\":\"" +
         (parsed.type == kTypeValue ? "put" : "del") + "\"}";
}

boost::asio::awaitable<LogWalk> WalkLog(io::File& file,
                                        std::function<Status(uint64_t, Slice)> on_record,
                                        std::function<void(const LogDrop&)> on_drop) {
  LogWalk walk;
  CollectingReporter reporter(&walk, &on_drop);
  log::Reader reader(file, &reporter, /*checksum=*/true);
  std::string record;
  uint64_t records_after_drop = 0;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) {
      walk.status = more.status();
      co_return walk;
    }
    if (!*more) break;
    ++walk.records;
    if (!walk.drops.empty()) ++records_after_drop;
    if (Status s = on_record(reader.LastRecordOffset(), record); !s.ok() && walk.status.ok()) {
      walk.status = s;
    }
  }
  if (walk.drops.empty()) co_return walk;
  // The recovery's rule: damage followed by a good record is never a torn
  // tail; otherwise it is one when the record where the reader first
  // dropped bytes is followed by nothing but zeros.
  const auto first = std::min_element(
      walk.drops.begin(), walk.drops.end(),
      [](const LogDrop& a, const LogDrop& b) { return a.offset < b.offset; });
  if (records_after_drop == 0) {
    Result<bool> torn = co_await log::IsTornRecordBeforeZeros(file, first->offset);
    if (!torn.ok()) {
      walk.status = torn.status();
      co_return walk;
    }
    walk.torn_tail = *torn;
  }
  if (!walk.torn_tail && walk.status.ok()) walk.status = first->status;
  co_return walk;
}

}  // namespace corodb::cli
