// Helpers for the engine's fault tests (db_engine_fault_test.cc,
// db_io_error_test.cc): small-buffer options, values that tell which write
// made them, a writer that remembers what was acknowledged, what the
// directory and the current version hold, and where replacing CURRENT fails.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "db_test_util.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "support/temp_dir.h"
#include "util/random.h"

namespace corodb::fault_test {

using test::GetOrStatus;
using test::Run;
using test::Stat;
using test::TestOptions;
using test::WaitIdle;

// Small buffers: a flush every ~200 writes, compaction outputs of 64 KiB.
inline Options EngineOptions(const std::string& backend) {
  Options o = TestOptions(backend);
  o.write_buffer_size = 32 * 1024;
  o.max_file_size = 64 * 1024;
  return o;
}

inline DBImpl& Impl(DB& db) { return static_cast<DBImpl&>(db); }

// The table files of `dir` and the current version's files (for messages).
inline std::string TableListing(DB& db, const std::string& dir) {
  auto names = io::ListDir(dir);
  std::vector<std::string> tables;
  if (names.ok()) {
    for (const auto& name : *names) {
      if (name.ends_with(".ldb")) tables.push_back(name);
    }
  }
  std::sort(tables.begin(), tables.end());
  std::string out = "on disk:";
  for (const auto& t : tables) out += " " + t;
  std::string sstables;
  if (db.GetProperty("corodb.sstables", &sstables)) out += "; version:\n" + sstables;
  return out;
}

inline int TablesInVersion(DB& db) {
  int n = 0;
  for (int level = 0; level < kNumLevels; ++level)
    n += Impl(db).NumLevelFilesForTesting(level);
  return n;
}

// Files of `dir` of one type.
inline int FilesOfType(const std::string& dir, io::FileType want) {
  auto names = io::ListDir(dir);
  BOOST_REQUIRE(names.ok());
  int n = 0;
  for (const auto& name : *names) {
    uint64_t number;
    io::FileType type;
    n += io::ParseFileName(name, &number, &type) && type == want;
  }
  return n;
}

// ~110-byte values that snappy cannot shrink, telling which write made them.
inline std::string ValueOf(uint64_t n) {
  Random rnd(static_cast<uint32_t>(n * 2654435761u + 1));
  std::string v = "n" + std::to_string(n) + "-";
  for (int i = 0; i < 100; ++i) v.push_back(static_cast<char>('a' + rnd.Uniform(26)));
  return v;
}

// The write index a value came from (ValueOf), or -1.
inline int64_t IndexOf(const std::string& value) {
  if (value.size() < 3 || value[0] != 'n') return -1;
  const size_t dash = value.find('-');
  if (dash == std::string::npos) return -1;
  const int64_t n = std::stoll(value.substr(1, dash - 1));
  return value == ValueOf(static_cast<uint64_t>(n)) ? n : -1;
}

inline constexpr int kKeys = 1000;
inline std::string KeyOf(uint64_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "key%05d", static_cast<int>((n * 389) % kKeys));
  return buf;
}

// Non-sync puts over a fixed key space (every memtable spans all of it, so
// tables overlap and pile up at L0), with what was acknowledged.
class Writer {
 public:
  // Puts until the memtable was switched once (its frozen predecessor now
  // waits for a flush). REQUIRES: no flush pending (or the write stalls).
  void FillUntilSwitch(DB& db) {
    const uint64_t switches = Stat(db, "memtable_switches");
    for (int i = 0; i < 10000 && Stat(db, "memtable_switches") == switches; ++i) {
      BOOST_REQUIRE(Put(db, /*sync=*/false).ok());
    }
    BOOST_REQUIRE(Stat(db, "memtable_switches") == switches + 1);
  }
  // Flushes memtables until L0 holds `files` tables (the first flushes go
  // deeper, where nothing overlaps them yet).
  void FlushUntilL0Files(DB& db, int files) {
    for (int i = 0; i < 20 && Impl(db).NumLevelFilesForTesting(0) < files; ++i) {
      FillUntilSwitch(db);
      const Status s = WaitIdle(db);
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    }
    BOOST_REQUIRE(Impl(db).NumLevelFilesForTesting(0) == files);
  }
  Status Put(DB& db, bool sync) {
    const uint64_t n = next_++;
    const std::string key = KeyOf(n), value = ValueOf(n);
    const Status s = Run(db.Put({.sync = sync}, key, value));
    if (s.ok()) {
      acked_[key] = value;
    } else {
      uncertain_[key].insert(value);  // refused, or logged but not acknowledged
    }
    return s;
  }
  // Every acknowledged value is read back (or a value whose write failed).
  void Check(DB& db, const std::string& when) {
    int wrong = 0;
    for (const auto& [key, value] : acked_) {
      const std::string got = GetOrStatus(db, key);
      if (got == value || uncertain_[key].count(got) != 0) continue;
      if (++wrong <= 5) BOOST_TEST(got == value, when << ": " << key);
    }
    BOOST_TEST(wrong == 0,
               when << ": " << wrong << " of " << acked_.size() << " keys wrong");
  }

 private:
  uint64_t next_ = 0;
  std::map<std::string, std::string> acked_;
  std::map<std::string, std::set<std::string>> uncertain_;
};

// Fault sites by name (data-driven tests take the names).
template <typename Site>
using NamedSites = std::vector<std::pair<std::string, Site>>;

template <typename Site>
std::vector<std::string> SiteNames(const NamedSites<Site>& sites) {
  std::vector<std::string> names;
  for (const auto& [name, site] : sites) names.push_back(name);
  return names;
}

template <typename Site>
Site SiteNamed(const NamedSites<Site>& sites, const std::string& name) {
  for (const auto& [n, site] : sites) {
    if (n == name) return site;
  }
  BOOST_FAIL("no fault site " << name);
  return sites.front().second;
}

// A database directory in a temp dir, the engine options, and a fault
// backend over `backend` that models the directory's entries.
struct FaultDb {
  explicit FaultDb(const std::string& backend)
      : db_dir(tmp.Child("db")),
        options(EngineOptions(backend)),
        fault(std::make_shared<io::FaultInjectionBackend>(
            test::MakeBackendByName(backend))) {
    BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());
  }
  test::TempDir tmp;
  const std::string db_dir;
  const Options options;
  const std::shared_ptr<io::FaultInjectionBackend> fault;
};

// A step of replacing CURRENT (SetCurrentFile: the temp file's write and
// sync, its rename over CURRENT, the directory sync after it).
enum class CurrentSite { kTempWrite, kTempSync, kRename, kDirSync };

inline const NamedSites<CurrentSite>& CurrentSites() {
  static const NamedSites<CurrentSite> sites = {
      {"temp file write", CurrentSite::kTempWrite},
      {"temp file sync", CurrentSite::kTempSync},
      {"rename to CURRENT", CurrentSite::kRename},
      {"directory sync after the rename", CurrentSite::kDirSync},
  };
  return sites;
}

inline void ArmCurrentSite(io::FaultInjectionBackend& fault, CurrentSite site, int err,
                           const std::string& db_dir) {
  auto temp = [](const std::string& path) { return path.ends_with(".dbtmp"); };
  switch (site) {
    case CurrentSite::kTempWrite:
      fault.FailNthWrite(1, err, temp);
      break;
    case CurrentSite::kTempSync:
      fault.FailNthSync(1, err, temp);
      break;
    case CurrentSite::kRename:
      fault.FailNthRename(1, err,
                          [](const std::string& to) { return to.ends_with("/CURRENT"); });
      break;
    case CurrentSite::kDirSync: {
      // The first directory sync after a rename that follows the temp
      // file's sync (the filter sees every sync; it runs under the
      // backend's lock, so only the backend's atomic counter is read).
      auto renames_after_temp = std::make_shared<uint64_t>(0);
      auto seen_temp = std::make_shared<bool>(false);
      fault.FailNthSync(
          1, err,
          [&fault, db_dir, renames_after_temp, seen_temp](const std::string& path) {
            if (path.ends_with(".dbtmp")) {
              *seen_temp = true;
              *renames_after_temp = fault.renames_started();
              return false;
            }
            return *seen_temp && path == db_dir &&
                   fault.renames_started() > *renames_after_temp;
          });
      break;
    }
  }
}

// Disarms FailNthWrite, FailNthSync and FailNthRename.
inline void DisarmAll(io::FaultInjectionBackend& fault) {
  fault.FailNthWrite(0, 0);
  fault.FailNthSync(0, 0);
  fault.FailNthRename(0, 0);
}

}  // namespace corodb::fault_test
