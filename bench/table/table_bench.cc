// corodb-table-bench: point lookups per second on one sorted table.
//
// Builds (once; --rebuild to redo) a table of --entries internal keys
// (16-digit user keys, 100-byte values, bloom filter 10 bits/key, Snappy,
// 4 KiB blocks) at --file, then runs timed lookup phases of existing keys
// chosen uniformly at random, from ONE thread running ONE io_context:
//
//   cached       block cache large enough for the whole table, warmed by a
//                scan; lookups take the synchronous fast path (Table::TryGet)
//   pagecache    no block cache; the file is in the page cache (read once
//                before); every lookup awaits a buffered io_uring read
//   direct       no block cache; the file is opened with O_DIRECT; every
//                lookup awaits a 4 KiB-aligned read from the disk
//
// The uncached phases run at --qd queue depths (coroutines on the one
// io_context, each keeping one lookup in flight; default 1 and 32).
// Every lookup is checked (found, right user key); a wrong answer aborts.
// Exit status: 0 on success, 1 on an error, 2 on bad flags.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/filter_policy.h"
#include "format/dbformat.h"
#include "io/backend.h"
#include "io/file.h"
#include "io/file_system.h"
#include "table/block_cache.h"
#include "table/table.h"
#include "table/table_builder.h"
#include "util/logging.h"
#include "util/random.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string file = "/work/tablebench/000001.ldb";
  uint64_t entries = 1000000;
  size_t value_size = 100;
  double seconds = 5;
  std::vector<int> qds = {1, 32};
  std::string modes = "cached,pagecache,direct";
  bool rebuild = false;
};

std::string UserKey(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016" PRIu64, i);
  return buf;
}

void Die(const std::string& what) {
  std::fprintf(stderr, "corodb-table-bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T RunOn(asio::io_context& ctx, asio::awaitable<T> aw) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) result.emplace(std::move(v));
  });
  ctx.restart();
  ctx.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

asio::awaitable<Status> Build(const io::FileSystem* fs, Flags flags, TableOptions options) {
  Result<std::unique_ptr<io::File>> file = fs->Open(flags.file, io::OpenMode::kCreate);
  if (!file.ok()) co_return file.status();
  TableBuilder builder(options, file->get());
  Random rnd(301);
  std::string value(flags.value_size, '\0');
  std::string ikey;
  for (uint64_t i = 0; i < flags.entries; ++i) {
    // Half random bytes, half repeated: Snappy keeps most blocks compressed.
    for (size_t j = 0; j < value.size(); ++j) {
      value[j] = j < value.size() / 2 ? static_cast<char>(rnd.Uniform(256)) : 'v';
    }
    ikey.clear();
    AppendInternalKey(&ikey, ParsedInternalKey(UserKey(i), i + 1, kTypeValue));
    if (Status s = co_await builder.AddAsync(ikey, value); !s.ok()) co_return s;
  }
  if (Status s = co_await builder.Finish(); !s.ok()) co_return s;
  co_return co_await file->get()->Sync();
}

// One lookup stream: random existing keys until the deadline.
asio::awaitable<uint64_t> Lookups(const Table* table, uint64_t entries, uint32_t seed,
                                  Clock::time_point deadline) {
  Random rnd(seed);
  ReadOptions ro;
  uint64_t done = 0;
  while ((done & 15) != 0 || Clock::now() < deadline) {
    const uint64_t i = (static_cast<uint64_t>(rnd.Next()) << 20 ^ rnd.Next()) % entries;
    const std::string user = UserKey(i);
    const LookupKey key(user, kMaxSequenceNumber);
    std::optional<Result<LookupResult>> r = table->TryGet(ro, key.internal_key());
    if (!r.has_value()) r.emplace(co_await table->Get(ro, key.internal_key()));
    if (!r->ok()) Die((*r).status().ToString());
    if (!(*r)->found || ExtractUserKey((*r)->key) != Slice(user)) Die("wrong answer for " + user);
    ++done;
  }
  co_return done;
}

asio::awaitable<uint64_t> ScanAll(const Table* table) {
  std::unique_ptr<AsyncIterator> it = table->NewIterator(ReadOptions());
  uint64_t n = 0;
  for (co_await it->SeekToFirst(); it->Valid(); ++n) {
    if (!it->TryNext()) co_await it->Next();
  }
  if (!it->status().ok()) Die(it->status().ToString());
  co_return n;
}

void WarmPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die("open " + path);
  std::vector<char> buf(1 << 20);
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  ::close(fd);
}

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void RunPhase(asio::io_context& ctx, const char* name, const Table* table, const Flags& flags, int qd) {
  const uint64_t reads_before = table->block_reads();
  const double cpu_before = CpuSeconds();
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::microseconds(static_cast<int64_t>(flags.seconds * 1e6));
  std::atomic<uint64_t> total{0};
  for (int c = 0; c < qd; ++c) {
    asio::co_spawn(ctx, Lookups(table, flags.entries, 1000 + c, deadline),
                   [&total](std::exception_ptr e, uint64_t n) {
                     if (e) std::rethrow_exception(e);
                     total += n;
                   });
  }
  ctx.restart();
  ctx.run();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t reads = table->block_reads() - reads_before;
  const double cpu = CpuSeconds() - cpu_before;
  std::printf("%-10s qd %-3d %10.0f lookups/s  (%" PRIu64 " in %.2f s, %.2f block reads/lookup, "
              "CPU %.2f s = %.1f us/lookup)\n",
              name, qd, total / secs, total.load(), secs, total ? double(reads) / total : 0.0, cpu,
              total ? cpu * 1e6 / total : 0.0);
  std::fflush(stdout);
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--file=")) {
      f->file = v;
    } else if (const char* v = value("--entries=")) {
      f->entries = std::strtoull(v, nullptr, 10);
    } else if (const char* v = value("--seconds=")) {
      f->seconds = std::atof(v);
    } else if (const char* v = value("--modes=")) {
      f->modes = v;
    } else if (const char* v = value("--qd=")) {
      f->qds.clear();
      for (const char* p = v; *p != '\0';) {
        char* end = nullptr;
        f->qds.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
        if (f->qds.back() <= 0) return false;
      }
    } else if (a == "--rebuild") {
      f->rebuild = true;
    } else {
      return false;
    }
  }
  return f->entries > 0 && !f->qds.empty();
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: corodb-table-bench [--file=PATH] [--entries=N] [--seconds=S] "
                 "[--qd=1,32] [--modes=cached,pagecache,direct] [--rebuild]\n");
    return 2;
  }
  std::unique_ptr<Logger> logger = Logger::ToStream(stderr);
  Result<std::shared_ptr<io::Backend>> backend = io::MakeBackend(IoBackendKind::kAuto, 8, logger.get());
  if (!backend.ok()) Die(backend.status().ToString());
  const io::FileSystem fs(*backend);
  const InternalKeyComparator icmp(BytewiseComparator());
  TableOptions options;
  options.comparator = &icmp;
  options.internal_keys = true;  // as a database reads its tables
  options.filter_policy = std::make_shared<InternalFilterPolicy>(NewBloomFilterPolicy(10));

  asio::io_context ctx;
  if (flags.rebuild || !io::FileExists(flags.file)) {
    const auto t0 = Clock::now();
    if (Status s = RunOn(ctx, Build(&fs, flags, options)); !s.ok()) Die(s.ToString());
    std::printf("built %s: %" PRIu64 " entries in %.1f s\n", flags.file.c_str(), flags.entries,
                std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const uint64_t size = *io::GetFileSize(flags.file);
  std::printf("table %s: %" PRIu64 " bytes, %" PRIu64 " entries, backend %s\n", flags.file.c_str(),
              size, flags.entries, std::string((*backend)->Name()).c_str());

  auto open = [&](bool direct, BlockCache* cache) {
    TableOptions o = options;
    o.block_cache = cache;
    Result<std::unique_ptr<io::File>> file = fs.Open(flags.file, io::OpenMode::kRead, direct);
    if (!file.ok()) Die(file.status().ToString());
    Result<std::unique_ptr<Table>> t = RunOn(ctx, Table::Open(o, std::move(*file), size, direct));
    if (!t.ok()) Die(t.status().ToString());
    return std::move(*t);
  };

  if (flags.modes.find("cached") != std::string::npos) {
    std::unique_ptr<BlockCache> cache = NewBlockCache(size_t{2} << 30);
    std::unique_ptr<Table> table = open(false, cache.get());
    const uint64_t n = RunOn(ctx, ScanAll(table.get()));
    if (n != flags.entries) Die("scan saw " + std::to_string(n) + " entries");
    RunPhase(ctx, "cached", table.get(), flags, 1);
  }
  if (flags.modes.find("pagecache") != std::string::npos) {
    WarmPageCache(flags.file);
    std::unique_ptr<Table> table = open(false, nullptr);
    for (int qd : flags.qds) RunPhase(ctx, "pagecache", table.get(), flags, qd);
  }
  if (flags.modes.find("direct") != std::string::npos) {
    std::unique_ptr<Table> table = open(true, nullptr);
    for (int qd : flags.qds) RunPhase(ctx, "direct", table.get(), flags, qd);
  }
  return 0;
}

}  // namespace
}  // namespace corodb::table

int main(int argc, char** argv) { return corodb::table::Main(argc, argv); }
