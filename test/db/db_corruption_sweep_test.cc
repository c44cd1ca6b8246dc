// Corruption sweep at the database level (issue #12, part 4). A database
// with tables at several levels, a MANIFEST of many edits and a log that
// still holds writes is copied once per damage: a byte of the log, of a
// table, of the MANIFEST or of CURRENT flipped at many offsets, each of them
// cut at many lengths, and LOCK removed. Each copy is opened with and
// without paranoid_checks and read whole (a Get of every key ever written
// and of keys never written, a forward and a backward scan). What must hold,
// as docs/reliability.md states it:
// - nothing crashes or hangs (the sanitizer presets run this too);
// - a failed Open, and every read error, is Corruption or an I/O error
//   whose message names the damaged file (or, when a damaged MANIFEST or
//   CURRENT loses edits, the table or MANIFEST it then cannot find);
// - a read that checks checksums (paranoid_checks, or
//   ReadOptions::verify_checksums) never returns a value that was not
//   written for that key, nor a key never written; neither does any read
//   when the damage is in a log, the MANIFEST or CURRENT (their records are
//   always checksummed, and compactions always verify the tables they read);
// - without paranoid_checks, a damaged log, a damaged table and a missing
//   LOCK still open (the log's damaged records are skipped and logged, the
//   table's damage surfaces when its blocks are read); CURRENT damaged in
//   any way fails Open in both modes, naming CURRENT;
// - a missing LOCK loses nothing: every key reads as last written.
#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "corodb/iterator.h"
#include "db_engine_test_util.h"
#include "db_test_util.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
using test::BackendNames;
using test::EngineOptions;
using test::NumKey;
using test::OpenOrDie;
using test::Printable;
using test::Run;
using test::SizedValue;
using test::TempDir;
using test::WaitIdle;

constexpr int kKeys = 600;
constexpr int kGenerations = 4;

// What the source database was given: every value ever put per key, and
// the last state.
struct Source {
  std::map<std::string, std::set<std::string>> written;
  test::Model last;
};

std::string ValueFor(const std::string& key, int gen, int i) {
  return SizedValue(key + "@" + std::to_string(gen), 40 + static_cast<size_t>((i * 37 + gen * 11) % 120));
}

// Four generations of puts and deletes over kKeys keys, each followed by a
// wait for the flushes and compactions it caused (32 KiB memtables, 64 KiB
// tables, 1 KiB blocks, bloom filters, snappy); then a fifth, partial
// generation in batches of three that stays in the log.
Source BuildSource(const std::string& backend, const std::string& dir) {
  Source src;
  auto db = OpenOrDie(EngineOptions(backend), dir, backend);
  auto apply = [&](WriteBatch& batch, const std::string& key, int gen, int i) {
    if ((i * 31 + gen * 17) % 8 == 0) {
      batch.Delete(key);
      src.last.erase(key);
    } else {
      const std::string v = ValueFor(key, gen, i);
      batch.Put(key, v);
      src.written[key].insert(v);
      src.last[key] = v;
    }
    src.written[key];  // a key only ever deleted is still a key to read
  };
  for (int gen = 1; gen <= kGenerations; ++gen) {
    for (int i = 0; i < kKeys; ++i) {
      if ((i + gen) % 5 == 0) continue;  // not every key in every generation
      WriteBatch b;
      apply(b, NumKey("k", i), gen, i);
      BOOST_REQUIRE(Run(db->Write({}, b)).ok());
    }
    const Status idle = WaitIdle(*db);
    BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
  }
  for (int i = 0; i < 150; i += 3) {
    WriteBatch b;
    for (int j = i; j < i + 3; ++j) apply(b, NumKey("k", (j * 7) % kKeys), kGenerations + 1, j);
    BOOST_REQUIRE(Run(db->Write({}, b)).ok());
  }
  BOOST_REQUIRE_GE(test::Stat(*db, "flushes"), 4u);
  BOOST_REQUIRE_GE(test::Stat(*db, "compactions"), 1u);
  db.reset();
  return src;
}

enum class Kind { kFlip, kTruncate, kRemove };

struct Damage {
  std::string file;  // name in the database directory
  Kind kind;
  uint64_t at = 0;   // offset flipped, or length cut to
  uint8_t mask = 0;  // bits flipped

  std::string Describe() const {
    std::ostringstream out;
    if (kind == Kind::kFlip) {
      out << file << ": byte " << at << " ^= 0x" << std::hex << int(mask);
    } else if (kind == Kind::kTruncate) {
      out << file << ": cut to " << at << " bytes";
    } else {
      out << file << ": removed";
    }
    return out.str();
  }
};

// `spread` offsets evenly over [0, size), every offset of the first and last
// `edge` bytes (headers, footers, trailers), deduplicated.
std::vector<uint64_t> Offsets(uint64_t size, uint64_t spread, uint64_t edge) {
  std::set<uint64_t> at;
  for (uint64_t i = 0; i < spread && size > 0; ++i) at.insert(i * size / spread);
  for (uint64_t i = 0; i < edge && i < size; ++i) {
    at.insert(i);
    at.insert(size - 1 - i);
  }
  return {at.begin(), at.end()};
}

// Flips at every offset of Offsets (masks alternating so single bits and
// whole bytes both occur) and cuts at `cuts` lengths spread over the file.
std::vector<Damage> SweepOf(const std::string& dir, const std::string& file, uint64_t spread,
                            uint64_t edge, uint64_t cuts) {
  const uint64_t size = fs::file_size(fs::path(dir) / file);
  std::vector<Damage> out;
  const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
  int m = 0;
  for (uint64_t at : Offsets(size, spread, edge)) {
    out.push_back({file, Kind::kFlip, at, masks[m++ % 4]});
  }
  std::set<uint64_t> lengths;
  for (uint64_t i = 0; i < cuts; ++i) lengths.insert(i * size / cuts);
  lengths.insert(size - 1);
  for (uint64_t len : lengths) out.push_back({file, Kind::kTruncate, len, 0});
  return out;
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    fs::copy_file(entry.path(), fs::path(to) / entry.path().filename());
  }
}

void Apply(const std::string& dir, const Damage& d) {
  const fs::path path = fs::path(dir) / d.file;
  if (d.kind == Kind::kRemove) {
    fs::remove(path);
  } else if (d.kind == Kind::kTruncate) {
    fs::resize_file(path, d.at);
  } else {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(d.at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ d.mask);
    f.seekp(static_cast<std::streamoff>(d.at));
    f.write(&c, 1);
    BOOST_REQUIRE(f.good());
  }
}

// Counts for the report, and what broke a rule.
struct Tally {
  int damages = 0;
  int strict_open_failures = 0;
  int lenient_open_failures = 0;
  int read_errors = 0;
  int values_checked = 0;
  std::map<std::string, int> open_errors;  // error message shapes, for the report
  std::map<std::string, int> read_error_shapes;
  std::vector<std::string> problems;
};

// Whether an error status is one a damaged file may produce and says where:
// Corruption or an I/O error naming `file`, or (the MANIFEST or CURRENT
// damaged) naming another file the damaged one made the database look for.
bool NamesTheDamage(const Status& s, const Damage& d) {
  if (!s.IsCorruption() && !s.IsIOError()) return false;
  const std::string text = s.ToString();
  if (text.find(d.file) != std::string::npos) return true;
  const bool metadata = d.file == "CURRENT" || d.file.starts_with("MANIFEST-");
  return metadata && (text.find(".ldb") != std::string::npos ||
                      text.find("MANIFEST-") != std::string::npos ||
                      text.find("CURRENT") != std::string::npos);
}

// The shape of an Open error for the report: its code and the text after the
// database directory, with digits squeezed.
std::string Shape(const Status& s, const std::string& dir) {
  std::string text = s.ToString();
  for (size_t at = text.find(dir); at != std::string::npos; at = text.find(dir)) {
    text.erase(at, dir.size());
  }
  std::string out;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (out.empty() || out.back() != '#') out += '#';
    } else {
      out += c;
    }
  }
  return out.substr(0, 90);
}

// What a whole scan saw: its entries in order, whether it ended within
// `limit` steps, and the iterator's final status.
struct Scan {
  std::vector<std::pair<std::string, std::string>> entries;
  bool ended = false;
  Status status;
};

boost::asio::awaitable<Scan> ScanAll(DB& db, ReadOptions ro, bool forward, size_t limit) {
  Scan scan;
  std::unique_ptr<Iterator> it = db.NewIterator(ro);
  if (forward) {
    co_await it->SeekToFirst();
  } else {
    co_await it->SeekToLast();
  }
  while (it->Valid() && scan.entries.size() < limit) {
    scan.entries.emplace_back(std::string(it->key()), std::string(it->value()));
    if (forward) {
      co_await it->Next();
    } else {
      co_await it->Prev();
    }
  }
  scan.ended = !it->Valid();
  scan.status = it->status();
  co_return scan;
}

// Reads the whole database with `ro` and checks every answer (values only
// when `check_values`).
void ReadEverything(DB& db, const Source& src, const ReadOptions& ro, bool check_values,
                    const Damage& d, const std::string& mode, const std::string& dir, Tally& t) {
  auto problem = [&](const std::string& what) {
    if (t.problems.size() < 20) t.problems.push_back(d.Describe() + " (" + mode + "): " + what);
  };
  auto check_error = [&](const Status& s, const std::string& what) {
    ++t.read_errors;
    ++t.read_error_shapes[Shape(s, dir)];
    if (!NamesTheDamage(s, d)) problem(what + " failed without naming the damage: " + s.ToString());
  };
  auto check_pair = [&](const std::string& key, const std::string& value, const std::string& what) {
    if (!check_values) return;
    ++t.values_checked;
    auto it = src.written.find(key);
    if (it == src.written.end()) {
      problem(what + " returned a key never written: \"" + Printable(key) + "\"");
    } else if (!it->second.contains(value)) {
      problem(what + " returned a value never written for \"" + key + "\": \"" +
              Printable(value.substr(0, 40)) + "\"");
    }
  };
  std::vector<std::string> keys;
  for (const auto& [k, values] : src.written) keys.push_back(k);
  keys.push_back("a-never-written");
  keys.push_back(NumKey("k", kKeys + 1));
  keys.push_back("zz-never-written");
  for (const std::string& key : keys) {
    Result<std::string> got = Run(db.Get(ro, key));
    if (got.ok()) {
      check_pair(key, *got, "Get");
    } else if (!got.status().IsNotFound()) {
      check_error(got.status(), "Get(\"" + key + "\")");
    }
  }
  // Both directions; a scan that does not end within twice the keys ever
  // written is a broken iterator, not a long one.
  for (const bool forward : {true, false}) {
    const std::string what = forward ? "forward scan" : "backward scan";
    const Scan scan = Run(ScanAll(db, ro, forward, 2 * keys.size()));
    for (size_t i = 0; i < scan.entries.size(); ++i) {
      const auto& [key, value] = scan.entries[i];
      check_pair(key, value, what);
      const std::string& previous = i > 0 ? scan.entries[i - 1].first : key;
      if (check_values && i > 0 && (forward ? key <= previous : key >= previous)) {
        problem(what + " out of order at \"" + Printable(key) + "\"");
      }
    }
    if (!scan.ended) problem(what + " did not end after " + std::to_string(scan.entries.size()) + " steps");
    if (!scan.status.ok()) check_error(scan.status, what);
  }
}

void OpenAndRead(const std::string& backend, const std::string& pristine, const Source& src,
                 const Damage& d, Tally& t) {
  ++t.damages;
  const bool table = d.file.ends_with(".ldb");
  for (const bool paranoid : {true, false}) {
    const std::string mode = paranoid ? "paranoid_checks" : "lenient";
    TempDir tmp("corodb-sweep");
    const std::string dir = tmp.Child("db");
    CopyDir(pristine, dir);
    Apply(dir, d);
    Options options = EngineOptions(backend);
    options.create_if_missing = false;
    options.paranoid_checks = paranoid;
    auto opened = test::TryOpen(options, dir, test::MakeBackendByName(backend));
    if (!opened.ok()) {
      (paranoid ? t.strict_open_failures : t.lenient_open_failures)++;
      ++t.open_errors[mode + ": " + Shape(opened.status(), dir)];
      if (!NamesTheDamage(opened.status(), d)) {
        t.problems.push_back(d.Describe() + " (" + mode + "): Open failed without naming the damage: " +
                             opened.status().ToString());
      }
      const bool must_open = !paranoid && (table || d.file.ends_with(".log") || d.file == "LOCK");
      if (must_open) {
        t.problems.push_back(d.Describe() + ": Open without paranoid_checks failed: " +
                             opened.status().ToString());
      }
      continue;
    }
    if (d.file == "CURRENT") {
      t.problems.push_back(d.Describe() + " (" + mode + "): Open succeeded on a damaged CURRENT");
    }
    DB& db = **opened;
    ReadEverything(db, src, ReadOptions{.verify_checksums = true}, true, d, mode + ", verified",
                   dir, t);
    if (!paranoid) {
      // Unverified reads of a damaged table may return its damaged bytes (as
      // LevelDB's do); everything else is checksummed on every path.
      ReadEverything(db, src, ReadOptions{}, !table, d, mode + ", unverified", dir, t);
    }
    if (d.kind == Kind::kRemove) {
      for (const auto& [key, value] : src.last) {
        const std::string got = test::GetOrStatus(db, key);
        if (got != value) {
          t.problems.push_back(d.Describe() + ": \"" + key + "\" reads " + Printable(got.substr(0, 40)));
          break;
        }
      }
    }
  }
}

std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(suffix) || (suffix == "MANIFEST" && name.starts_with("MANIFEST-"))) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Report(const std::string& backend, const std::string& what, const Tally& t) {
  std::ostringstream shapes;
  for (const auto& [shape, n] : t.open_errors) shapes << "\n    " << n << " x Open: " << shape;
  for (const auto& [shape, n] : t.read_error_shapes) shapes << "\n    " << n << " x read: " << shape;
  BOOST_TEST_MESSAGE(backend << ", " << what << ": " << t.damages << " damages; Open failed "
                             << t.strict_open_failures << " times with paranoid_checks, "
                             << t.lenient_open_failures << " without; " << t.read_errors
                             << " read errors; " << t.values_checked << " values checked"
                             << shapes.str());
  for (const std::string& p : t.problems) BOOST_ERROR(p);
}

BOOST_AUTO_TEST_SUITE(DBCorruptionSweepTest)

BOOST_DATA_TEST_CASE(EveryDamageIsReportedOrHarmless, bdata::make(BackendNames()), backend) {
  TempDir tmp("corodb-sweep-src");
  const std::string pristine = tmp.Child("db");
  const Source src = BuildSource(backend, pristine);

  const std::vector<std::string> logs = FilesEndingWith(pristine, ".log");
  const std::vector<std::string> tables = FilesEndingWith(pristine, ".ldb");
  const std::vector<std::string> manifests = FilesEndingWith(pristine, "MANIFEST");
  BOOST_REQUIRE(!logs.empty());
  BOOST_REQUIRE_GE(tables.size(), 2u);
  BOOST_REQUIRE_EQUAL(manifests.size(), 1u);
  BOOST_REQUIRE_GT(fs::file_size(fs::path(pristine) / logs.back()), 0u);

  std::map<std::string, std::vector<Damage>> sweeps;
  // The newest log (the one holding the unflushed writes).
  sweeps["log " + logs.back()] = SweepOf(pristine, logs.back(), 48, 8, 24);
  // The oldest and the newest table: data blocks, filter, metaindex, index, footer.
  for (const std::string& table : {tables.front(), tables.back()}) {
    sweeps["table " + table] = SweepOf(pristine, table, 48, 48, 16);
  }
  sweeps["MANIFEST " + manifests.front()] = SweepOf(pristine, manifests.front(), 48, 8, 24);
  {
    // CURRENT: every byte, two masks; every length.
    const uint64_t size = fs::file_size(fs::path(pristine) / "CURRENT");
    std::vector<Damage>& d = sweeps["CURRENT"];
    for (uint64_t at = 0; at < size; ++at) {
      d.push_back({"CURRENT", Kind::kFlip, at, 0x01});
      d.push_back({"CURRENT", Kind::kFlip, at, 0x20});
      d.push_back({"CURRENT", Kind::kTruncate, at, 0});
    }
  }
  sweeps["LOCK missing"] = {Damage{"LOCK", Kind::kRemove}};

  int total = 0;
  for (const auto& [what, damages] : sweeps) {
    Tally t;
    for (const Damage& d : damages) {
      BOOST_TEST_CONTEXT(d.Describe()) { OpenAndRead(backend, pristine, src, d, t); }
    }
    Report(backend, what, t);
    total += t.damages;
  }
  BOOST_TEST_MESSAGE(backend << ": " << total << " damaged copies, each opened twice");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
