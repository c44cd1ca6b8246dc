// corodb-io-bench: the io layer (io::File over an io::Backend) against the
// disk's limits, for comparison with fio.
//
// One thread runs one io_context; --qd coroutines on it each keep one
// operation in flight, so --qd is the queue depth seen by the backend (and,
// for the thread pool, by its --threads workers). Latency is measured around
// each co_await of an io::File primitive, so it includes the backend's
// submission, completion and coroutine resumption costs. CPU time is the
// whole process's (getrusage RUSAGE_SELF: the thread pool's threads count).
//
// Modes:
//   randread     File::ReadAt of --bs bytes at random --bs-aligned offsets of
//                --file, which is created and filled first if shorter than --size.
//   append-sync  every coroutine owns a fresh file "<file>.wal<i>" and loops on
//                File::AppendAndSync(--bs bytes) (linked write+fdatasync, as the
//                WAL does); the files grow and are removed at the end.
//   seqwrite     one fresh file "<file>.seq"; coroutines claim consecutive
//                --bs-sized offsets (default 1 MiB) and File::WriteAt them,
//                wrapping at --size; a final File::Sync is part of the timed run.
//                The file is removed at the end.
// --size applies to randread (file size) and seqwrite (wrap point) only.
//
// Output: a human-readable summary, or one JSON object with --json.
// Exit status: 0 on success, 1 on an I/O error, 2 on bad flags.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "io/backend.h"
#include "io/file.h"
#include "io/file_system.h"
#include "util/logging.h"

namespace corodb::io {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

enum class Mode { kRandRead, kAppendSync, kSeqWrite };

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kRandRead:
      return "randread";
    case Mode::kAppendSync:
      return "append-sync";
    case Mode::kSeqWrite:
      return "seqwrite";
  }
  return "?";
}

struct Flags {
  IoBackendKind backend = IoBackendKind::kUring;
  Mode mode = Mode::kRandRead;
  int qd = 1;
  bool direct = false;
  std::string file = "/tmp/corodb-io-bench";
  uint64_t size = uint64_t{1} << 30;
  uint64_t bs = 0;  // 0: the mode's default (4 KiB, or 1 MiB for seqwrite)
  double seconds = 10;
  int threads = 0;  // 0: max(qd, 8)
  bool json = false;
  std::vector<double> percentiles;  // extra latency percentiles to report
  std::string lat_log;              // file for every latency sample (ns), or ""
};

void PrintUsage() {
  std::fprintf(
      stderr,
      "usage: corodb-io-bench [--backend=uring|threadpool] "
      "[--mode=randread|append-sync|seqwrite]\n"
      "       [--qd=N] [--direct] [--file=PATH] [--size=BYTES] [--bs=BYTES]\n"
      "       [--seconds=S] [--threads=N] [--json] [--percentiles=P:P:...]\n"
      "       [--lat-log=PATH]\n"
      "BYTES takes a k/m/g suffix (powers of 1024). Defaults: uring, randread, qd 1,\n"
      "/tmp/corodb-io-bench, 1g, bs 4k (1m for seqwrite), 10 s, threads max(qd, 8).\n"
      "Latency quantiles are exact (every sample is kept). --percentiles adds more\n"
      "(e.g. 10:25:50:75:90); --lat-log writes every latency (ns), one per line.\n");
}

// Parses "4096", "4k", "1m", "1g" (powers of 1024). False on anything else.
bool ParseBytes(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t mult = 1;
  switch (text.back()) {
    case 'k':
    case 'K':
      mult = uint64_t{1} << 10;
      break;
    case 'm':
    case 'M':
      mult = uint64_t{1} << 20;
      break;
    case 'g':
    case 'G':
      mult = uint64_t{1} << 30;
      break;
    default:
      break;
  }
  if (mult != 1) text.remove_suffix(1);
  if (text.empty()) return false;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value * mult;
  return true;
}

// Parses "10:25:50.5:99" (each in (0, 100]). False on anything else.
bool ParsePercentiles(std::string_view text, std::vector<double>* out) {
  out->clear();
  while (!text.empty()) {
    const size_t colon = text.find(':');
    const std::string item(text.substr(0, colon));
    char* end = nullptr;
    const double p = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(p > 0 && p <= 100)) return false;
    out->push_back(p);
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
    if (text.empty()) return false;
  }
  return !out->empty();
}

bool ParseInt(std::string_view text, int* out) {
  uint64_t v;
  if (!ParseBytes(text, &v) || v == 0 || v > 1'000'000) return false;
  *out = static_cast<int>(v);
  return true;
}

// Fills `flags` from argv. Prints the reason and returns false on a bad flag.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (name == "--backend") {
      ok = ParseBackendKind(value, &flags->backend) &&
           flags->backend != IoBackendKind::kAuto;
    } else if (name == "--mode") {
      if (value == "randread") {
        flags->mode = Mode::kRandRead;
      } else if (value == "append-sync") {
        flags->mode = Mode::kAppendSync;
      } else if (value == "seqwrite") {
        flags->mode = Mode::kSeqWrite;
      } else {
        ok = false;
      }
    } else if (name == "--qd") {
      ok = ParseInt(value, &flags->qd);
    } else if (name == "--direct") {
      flags->direct = true;
    } else if (name == "--file") {
      flags->file = std::string(value);
      ok = !value.empty();
    } else if (name == "--size") {
      ok = ParseBytes(value, &flags->size) && flags->size > 0;
    } else if (name == "--bs") {
      ok = ParseBytes(value, &flags->bs) && flags->bs > 0 &&
           flags->bs <= (uint64_t{1} << 30);
    } else if (name == "--seconds") {
      char* end = nullptr;
      const std::string text(value);
      flags->seconds = std::strtod(text.c_str(), &end);
      ok = !text.empty() && *end == '\0' && flags->seconds > 0;
    } else if (name == "--threads") {
      ok = ParseInt(value, &flags->threads);
    } else if (name == "--json") {
      flags->json = true;
    } else if (name == "--percentiles") {
      ok = ParsePercentiles(value, &flags->percentiles);
    } else if (name == "--lat-log") {
      flags->lat_log = std::string(value);
      ok = !value.empty();
    } else if (name == "--help" || name == "-h") {
      PrintUsage();
      std::exit(0);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "corodb-io-bench: bad flag '%s'\n", argv[i]);
      PrintUsage();
      return false;
    }
  }
  if (flags->bs == 0)
    flags->bs = flags->mode == Mode::kSeqWrite ? (uint64_t{1} << 20) : 4096;
  if (flags->threads == 0) flags->threads = std::max(flags->qd, 8);
  if (flags->direct && flags->bs % AlignedBuffer::kAlignment != 0) {
    std::fprintf(stderr, "corodb-io-bench: --direct needs --bs to be a multiple of %zu\n",
                 AlignedBuffer::kAlignment);
    return false;
  }
  if (flags->mode != Mode::kAppendSync && flags->size < flags->bs) {
    std::fprintf(stderr, "corodb-io-bench: --size must be at least --bs\n");
    return false;
  }
  return true;
}

// Every latency sample (ns), kept for exact quantiles: a bucketed histogram
// hides where the median falls when the distribution is bimodal (a host cache
// answering part of the reads). 8 bytes per operation. Not thread-safe; the
// benchmark records only on the io_context's thread.
class LatencySamples {
 public:
  LatencySamples() { samples_.reserve(size_t{1} << 20); }
  void Record(uint64_t ns) { samples_.push_back(ns); }
  uint64_t total() const { return samples_.size(); }

  // Sorts the samples; call once, after the run, before Quantile().
  void Finish() { std::sort(samples_.begin(), samples_.end()); }

  // The exact sample at quantile `q` (nearest rank: the smallest sample with
  // at least a fraction `q` of the samples at or below it), in ns.
  double Quantile(double q) const {
    if (samples_.empty()) return 0;
    const auto n = static_cast<double>(samples_.size());
    auto rank = static_cast<size_t>(std::ceil(q * n));
    rank = std::clamp<size_t>(rank, 1, samples_.size());
    return static_cast<double>(samples_[rank - 1]);
  }
  double Mean() const {
    if (samples_.empty()) return 0;
    long double sum = 0;
    for (const uint64_t v : samples_) sum += static_cast<long double>(v);
    return static_cast<double>(sum / static_cast<long double>(samples_.size()));
  }
  // In recording order unless Finish() ran.
  const std::vector<uint64_t>& samples() const { return samples_; }

 private:
  std::vector<uint64_t> samples_;
};

// State shared by the workers of one run. Only the io_context's thread touches
// it (completions resume the coroutines there, whatever the backend).
struct RunState {
  Flags flags;
  Clock::time_point deadline;
  LatencySamples latency;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t next_offset = 0;  // seqwrite: the next offset to claim
  Status first_error;
  bool stop = false;

  void Fail(Status s) {
    if (first_error.ok()) first_error = std::move(s);
    stop = true;
  }
  bool Running() const { return !stop && Clock::now() < deadline; }
  // Records one operation of `len` bytes that started at `start`.
  void Done(Clock::time_point start, uint64_t len) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    latency.Record(static_cast<uint64_t>(ns.count()));
    ++ops;
    bytes += len;
  }
};

// xorshift64*: cheap enough not to show up next to a syscall.
uint64_t NextRandom(uint64_t* state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

void FillPattern(AlignedBuffer& buf, uint64_t seed) {
  uint64_t state = seed | 1;
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    const uint64_t r = NextRandom(&state);
    std::memcpy(buf.data() + i, &r, 8);
  }
}

// One randread worker: random aligned reads until the deadline.
// SUSPENDS: one backend read per iteration. `state` and `file` outlive it.
asio::awaitable<void> ReadWorker(RunState* state, File* file, uint64_t seed) {
  const uint64_t bs = state->flags.bs;
  const uint64_t blocks = state->flags.size / bs;
  AlignedBuffer buf(bs);
  uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
  while (state->Running()) {
    const uint64_t offset = NextRandom(&rng) % blocks * bs;
    const Clock::time_point start = Clock::now();
    Result<size_t> r = co_await file->ReadAt(offset, buf.span());
    if (!r.ok()) {
      state->Fail(r.status());
      co_return;
    }
    state->Done(start, *r);
  }
}

// One append-sync worker on its own file: linked write+fdatasync until the deadline.
// SUSPENDS: one linked write+fdatasync per iteration.
asio::awaitable<void> AppendSyncWorker(RunState* state, File* file, uint64_t seed) {
  AlignedBuffer buf(state->flags.bs);
  FillPattern(buf, seed);
  while (state->Running()) {
    const Clock::time_point start = Clock::now();
    if (Status s = co_await file->AppendAndSync({buf.data(), buf.size()}); !s.ok()) {
      state->Fail(std::move(s));
      co_return;
    }
    state->Done(start, buf.size());
  }
}

// One seqwrite worker: writes the next unclaimed --bs slice of the shared file.
// SUSPENDS: one or more backend writes per iteration.
asio::awaitable<void> SeqWriteWorker(RunState* state, File* file, uint64_t seed) {
  const uint64_t bs = state->flags.bs;
  const uint64_t wrap = state->flags.size / bs * bs;
  AlignedBuffer buf(bs);
  FillPattern(buf, seed);
  while (state->Running()) {
    const uint64_t offset = state->next_offset;
    state->next_offset = (offset + bs) % wrap;
    const Clock::time_point start = Clock::now();
    if (Status s = co_await file->WriteAt(offset, {buf.data(), buf.size()}); !s.ok()) {
      state->Fail(std::move(s));
      co_return;
    }
    state->Done(start, bs);
  }
}

// Grows `path` to at least `size` bytes of pseudo-random data (buffered
// writes through the io layer, then fdatasync). Leaves a long enough file alone.
// SUSPENDS: backend writes and one fdatasync.
asio::awaitable<Status> PrepareReadFile(const FileSystem* fs, std::string path,
                                        uint64_t size) {
  Result<std::unique_ptr<File>> file = fs->Open(path, OpenMode::kAppend);
  if (!file.ok()) co_return file.status();
  File& f = **file;
  if (f.append_offset() >= size) co_return Status::OK();
  std::fprintf(stderr, "corodb-io-bench: filling %s to %" PRIu64 " bytes\n", path.c_str(),
               size);
  AlignedBuffer buf(size_t{1} << 20);
  uint64_t seed = 1;
  while (f.append_offset() < size) {
    FillPattern(buf, seed++);
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), size - f.append_offset()));
    if (Status s = co_await f.Append({buf.data(), len}); !s.ok()) co_return s;
  }
  co_return co_await f.Sync();
}

// Runs `aw` to completion on `ctx` and returns its Status (an exception is a bug
// and is reported as such).
Status RunToCompletion(asio::io_context& ctx, asio::awaitable<Status> aw) {
  std::optional<Status> result;
  asio::co_spawn(ctx, std::move(aw), [&result](std::exception_ptr e, Status s) {
    result = e ? Status::IOError("unexpected exception") : std::move(s);
  });
  ctx.restart();
  ctx.run();
  return result.value_or(Status::IOError("coroutine did not finish"));
}

// Final fdatasync of a seqwrite run.
asio::awaitable<Status> SyncFile(File* file) { co_return co_await file->Sync(); }

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct Report {
  std::string backend;
  double elapsed_s = 0;
  double cpu_s = 0;
};

void PrintReport(const RunState& state, const Report& report) {
  const Flags& f = state.flags;
  const double iops = static_cast<double>(state.ops) / report.elapsed_s;
  const double mbps = static_cast<double>(state.bytes) / 1e6 / report.elapsed_s;
  const double p50 = state.latency.Quantile(0.50) / 1e3;
  const double p99 = state.latency.Quantile(0.99) / 1e3;
  const double p999 = state.latency.Quantile(0.999) / 1e3;
  const double mean = state.latency.Mean() / 1e3;
  std::string extra;  // ",\"p10_us\":12.3" ... for --percentiles
  std::string extra_text;
  for (const double p : f.percentiles) {
    char buf[96];
    const double v = state.latency.Quantile(p / 100) / 1e3;
    std::snprintf(buf, sizeof(buf), ",\"p%g_us\":%.1f", p, v);
    extra += buf;
    std::snprintf(buf, sizeof(buf), "  p%g %.1f", p, v);
    extra_text += buf;
  }
  const double per_cpu =
      report.cpu_s > 0 ? static_cast<double>(state.ops) / report.cpu_s : 0;
  if (f.json) {
    std::printf(
        "{\"backend\":\"%s\",\"mode\":\"%s\",\"qd\":%d,\"bs\":%" PRIu64
        ",\"direct\":%s,\"threads\":%d,\"seconds\":%.3f,\"ops\":%" PRIu64
        ",\"iops\":%.1f,\"mbps\":%.2f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
        "\"mean_us\":%.1f%s,\"cpu_s\":%.3f,\"iops_per_cpu_s\":%.1f}\n",
        report.backend.c_str(), ModeName(f.mode), f.qd, f.bs, f.direct ? "true" : "false",
        report.backend == "threadpool" ? f.threads : 0, report.elapsed_s, state.ops, iops,
        mbps, p50, p99, p999, mean, extra.c_str(), report.cpu_s, per_cpu);
    return;
  }
  std::printf("backend=%s mode=%s qd=%d bs=%" PRIu64 " direct=%d file=%s\n",
              report.backend.c_str(), ModeName(f.mode), f.qd, f.bs, f.direct ? 1 : 0,
              f.file.c_str());
  std::printf("  ops      %" PRIu64 " in %.3f s\n", state.ops, report.elapsed_s);
  std::printf("  IOPS     %.0f\n  MB/s     %.1f\n", iops, mbps);
  std::printf("  latency  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  mean %.1f us\n", p50, p99,
              p999, mean);
  if (!extra_text.empty()) std::printf("  latency %s (us)\n", extra_text.c_str());
  std::printf("  CPU      %.3f s (user+sys, all threads)  %.0f IOPS per CPU-second\n",
              report.cpu_s, per_cpu);
}

// Opens the files of `flags.mode` into `files` (creating and filling the
// randread file when needed); scratch files to remove afterwards go to `scratch`.
// Blocks (runs `ctx` for the fill).
Status OpenFiles(const Flags& flags, const FileSystem& fs, asio::io_context& ctx,
                 std::vector<std::unique_ptr<File>>* files,
                 std::vector<std::string>* scratch) {
  auto open = [&](const std::string& path, OpenMode mode) {
    Result<std::unique_ptr<File>> f = fs.Open(path, mode, flags.direct);
    if (!f.ok()) return f.status();
    files->push_back(std::move(*f));
    return Status::OK();
  };
  switch (flags.mode) {
    case Mode::kRandRead:
      if (Status s = RunToCompletion(ctx, PrepareReadFile(&fs, flags.file, flags.size));
          !s.ok()) {
        return s;
      }
      return open(flags.file, OpenMode::kRead);
    case Mode::kAppendSync:
      for (int i = 0; i < flags.qd; ++i) {
        scratch->push_back(flags.file + ".wal" + std::to_string(i));
        if (Status s = open(scratch->back(), OpenMode::kCreate); !s.ok()) return s;
      }
      return Status::OK();
    case Mode::kSeqWrite:
      scratch->push_back(flags.file + ".seq");
      return open(scratch->back(), OpenMode::kCreate);
  }
  return Status::OK();
}

// Starts the --qd workers of the run on `ctx` (they run when `ctx` runs).
void SpawnWorkers(asio::io_context& ctx, RunState* state,
                  const std::vector<std::unique_ptr<File>>& files) {
  for (int i = 0; i < state->flags.qd; ++i) {
    const auto seed = static_cast<uint64_t>(i) + 1;
    asio::awaitable<void> worker;
    switch (state->flags.mode) {
      case Mode::kRandRead:
        worker = ReadWorker(state, files[0].get(), seed);
        break;
      case Mode::kAppendSync:
        worker = AppendSyncWorker(state, files[static_cast<size_t>(i)].get(), seed);
        break;
      case Mode::kSeqWrite:
        worker = SeqWriteWorker(state, files[0].get(), seed);
        break;
    }
    asio::co_spawn(ctx, std::move(worker), [state](std::exception_ptr e) {
      if (e) state->Fail(Status::IOError("unexpected exception in a worker"));
    });
  }
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  std::unique_ptr<Logger> logger = Logger::ToStream(stderr);
  Result<std::shared_ptr<Backend>> backend =
      MakeBackend(flags.backend, flags.threads, logger.get());
  if (!backend.ok()) {
    std::fprintf(stderr, "corodb-io-bench: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  const FileSystem fs(*backend);
  asio::io_context ctx;
  std::vector<std::unique_ptr<File>> files;  // destroyed before ctx and the backend
  std::vector<std::string> scratch;          // files removed at the end
  if (Status s = OpenFiles(flags, fs, ctx, &files, &scratch); !s.ok()) {
    std::fprintf(stderr, "corodb-io-bench: %s\n", s.ToString().c_str());
    return 1;
  }

  RunState state;
  state.flags = flags;
  const double cpu0 = CpuSeconds();
  const Clock::time_point t0 = Clock::now();
  state.deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(flags.seconds));
  SpawnWorkers(ctx, &state, files);
  ctx.restart();
  ctx.run();
  if (flags.mode == Mode::kSeqWrite && state.first_error.ok()) {
    if (Status sync = RunToCompletion(ctx, SyncFile(files[0].get())); !sync.ok()) {
      state.Fail(std::move(sync));
    }
  }
  Report report;
  report.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  report.cpu_s = CpuSeconds() - cpu0;
  report.backend = std::string((*backend)->Name());

  files.clear();
  for (const std::string& path : scratch) {
    if (Status rm = RemoveFile(path); !rm.ok()) {
      std::fprintf(stderr, "corodb-io-bench: %s\n", rm.ToString().c_str());
    }
  }
  if (!state.first_error.ok()) {
    std::fprintf(stderr, "corodb-io-bench: %s\n", state.first_error.ToString().c_str());
    return 1;
  }
  if (!flags.lat_log.empty()) {
    if (std::FILE* log = std::fopen(flags.lat_log.c_str(), "w")) {
      for (const uint64_t ns : state.latency.samples()) std::fprintf(log, "%" PRIu64 "\n", ns);
      std::fclose(log);
    } else {
      std::fprintf(stderr, "corodb-io-bench: cannot write %s\n", flags.lat_log.c_str());
    }
  }
  state.latency.Finish();
  PrintReport(state, report);
  return 0;
}

}  // namespace
}  // namespace corodb::io

int main(int argc, char** argv) { return corodb::io::Main(argc, argv); }
