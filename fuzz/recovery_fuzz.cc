// libFuzzer target: recovery of a whole database directory from a fuzzed
// MANIFEST (VersionSet::Recover, then the log replay, the recovery flush and
// the new MANIFEST), through DB's coroutines on the fuzzer's own thread: the
// DB's engine is an io_context this thread runs (Options::engine_context),
// so an execution starts only the background thread of each open (plus the
// thread pool's one I/O thread on that backend). The blocking API cost two
// more threads per open, and thread start-up and teardown under ASan took
// most of an execution's time. Byte 0 bit 1 picks the backend: io_uring
// (where the kernel allows it) or the thread pool, whose pread/pwrite ASan
// checks against the buffers (the kernel fills io_uring's unchecked).
//
// Each run lays out the fixed template of seed_files.h (two tables and a
// log, all valid) with the input as MANIFEST-000002 and CURRENT naming it,
// opens the directory (create_if_missing off), reads everything, closes it
// and empties the directory.
//
// Input: byte 0 bit 0 = paranoid_checks, bit 1 = the thread-pool backend
// (else io_uring); the rest is the MANIFEST.
// CORODB_FUZZ_VERBOSE=1 prints each open's status and entry count.
// Invariants checked:
// - a failed open is Corruption, InvalidArgument, NotFound or IOError (a
//   table the MANIFEST names but that is not there), and it changes none of
//   the files it was given: recovery that fails destroys nothing;
// - an open DB returns only data that was written: every key a scan or a
//   Get returns is one the template wrote, with the value written for it
//   (each key was written once), and a scan returns keys in strictly
//   increasing order;
// - what recovery made of the directory is durable: after Close, the
//   directory opens again and a scan returns the same entries.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "corodb/db.h"
#include "corodb/options.h"
#include "fuzz_util.h"
#include "seed_files.h"

namespace corodb::fuzz {
namespace {

using Entry = std::pair<std::string, std::string>;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<missing>";
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string ManifestName() {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "MANIFEST-%06llu",
                static_cast<unsigned long long>(kTemplateManifestNumber));
  return buf;
}

void CheckWritten(const std::string& key, const std::string& value) {
  const auto& writes = TemplateWrites();
  const auto it = writes.find(key);
  FUZZ_CHECK(it != writes.end(), "a key that was never written: " + key);
  FUZZ_CHECK(it->second == value, "a value never written for " + key + ": " + value);
}

boost::asio::awaitable<std::vector<Entry>> ScanAll(DB& db) {
  std::vector<Entry> entries;
  std::unique_ptr<Iterator> it = db.NewIterator(ReadOptions());
  for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) {
    FUZZ_CHECK(entries.size() <= TemplateWrites().size(),
               "more entries than were written");
    const std::string key = std::string(it->key());
    FUZZ_CHECK(entries.empty() || entries.back().first < key, "scan keys not increasing");
    entries.emplace_back(key, std::string(it->value()));
    CheckWritten(entries.back().first, entries.back().second);
  }
  const Status s = it->status();
  FUZZ_CHECK(s.ok() || s.IsCorruption() || s.IsIOError(), s.ToString());
  co_return entries;
}

boost::asio::io_context& Engine() {
  static boost::asio::io_context engine(1);
  return engine;
}

// Whether io_uring works here; probed once, at initialization (the probe
// runs Engine(), so it must not run inside a coroutine on it).
bool UringWorks() {
  static const bool works = [] {
    Options probe;
    probe.create_if_missing = true;
    probe.engine_context = &Engine();
    probe.io_backend = IoBackendKind::kUring;
    const std::string dir = ScratchDir() + "/probe";
    Result<std::unique_ptr<DB>> db = RunOn(Engine(), DB::Open(probe, dir));
    if (!db.ok()) {
      std::fprintf(stderr, "recovery_fuzz: no io_uring (%s): the thread pool for every input\n",
                   db.status().ToString().c_str());
      return false;
    }
    FUZZ_CHECK(RunOn(Engine(), (*db)->Close()).ok(), "closing the probe DB");
    return true;
  }();
  return works;
}

Options DbOptions(bool paranoid, bool thread_pool) {
  Options options;
  options.create_if_missing = false;
  options.paranoid_checks = paranoid;
  options.engine_context = &Engine();
  // kAuto where io_uring works (UringWorks opened a DB with kUring): the
  // same backend, chosen without setting up and tearing down a probe ring
  // per input (io::ProbeUringRemembered).
  options.io_backend =
      thread_pool || !UringWorks() ? IoBackendKind::kThreadPool : IoBackendKind::kAuto;
  options.io_threads = 1;
  options.block_cache_capacity = 1 << 20;
  return options;
}

// Opens the directory laid out as `given`, checks what it returns, closes it
// and opens it once more (see the invariants at the top).
boost::asio::awaitable<int> CheckRecovery(
    bool paranoid, bool thread_pool, std::string dir,
    std::vector<std::pair<std::string, std::string>> given) {
  Result<std::unique_ptr<DB>> db = co_await DB::Open(DbOptions(paranoid, thread_pool), dir);
  static const bool verbose = std::getenv("CORODB_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "recovery_fuzz: open: %s\n", db.status().ToString().c_str());
  if (!db.ok()) {
    const Status& s = db.status();
    FUZZ_CHECK(
        s.IsCorruption() || s.IsInvalidArgument() || s.IsNotFound() || s.IsIOError(),
        s.ToString());
    for (const auto& [path, bytes] : given) {
      FUZZ_CHECK(ReadFile(path) == bytes,
                 "a failed open changed " + path + " (" + s.ToString() + ")");
    }
    co_return 0;
  }

  const std::vector<Entry> entries = co_await ScanAll(**db);
  if (verbose) std::fprintf(stderr, "recovery_fuzz: %zu entries\n", entries.size());
  for (const auto& [key, value] : TemplateWrites()) {
    Result<std::string> got = co_await (*db)->Get(ReadOptions(), key);
    if (got.ok()) {
      CheckWritten(key, *got);
    } else {
      FUZZ_CHECK(got.status().IsNotFound() || got.status().IsCorruption() ||
                     got.status().IsIOError(),
                 got.status().ToString());
    }
  }
  Status closed = co_await (*db)->Close();
  db->reset();
  FUZZ_CHECK(closed.ok(), "Close: " + closed.ToString());

  Result<std::unique_ptr<DB>> reopened = co_await DB::Open(DbOptions(false, thread_pool), dir);
  FUZZ_CHECK(reopened.ok(),
             "a recovered DB does not open again: " + reopened.status().ToString());
  const std::vector<Entry> again = co_await ScanAll(**reopened);
  FUZZ_CHECK(again == entries, "reopening changed the contents");
  closed = co_await (*reopened)->Close();
  FUZZ_CHECK(closed.ok(), "Close after reopen: " + closed.ToString());
  co_return 0;
}

}  // namespace
}  // namespace corodb::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  corodb::fuzz::UringWorks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corodb;
  using namespace corodb::fuzz;
  Input in(data, size);
  const uint8_t flags = in.Byte();
  const bool paranoid = (flags & 1) != 0;
  const bool thread_pool = (flags & 2) != 0;
  const std::string manifest(in.Rest());

  const std::string dir = ScratchDir() + "/db";
  std::filesystem::create_directories(dir);
  EmptyDir(dir);
  std::vector<std::pair<std::string, std::string>> given;  // path, bytes
  for (const TemplateFile& f : TemplateDataFiles())
    given.emplace_back(dir + "/" + f.name, f.bytes);
  given.emplace_back(dir + "/" + ManifestName(), manifest);
  given.emplace_back(dir + "/CURRENT", ManifestName() + "\n");
  for (const auto& [path, bytes] : given) WriteFileOrDie(path, bytes);

  RunOn(Engine(), CheckRecovery(paranoid, thread_pool, dir, given));
  // Nothing of this input's DBs may run during the next input.
  FUZZ_CHECK(Engine().stopped(), "work left on the engine after the DBs closed");
  return 0;
}
