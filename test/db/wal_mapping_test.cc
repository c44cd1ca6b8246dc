// WAL groups copied through the log's mapping (File::MapForAppend): the
// engine uses it, a clean close leaves a log LevelDB reads, and non-sync
// writes acknowledged through it survive the process's SIGKILL (LevelDB's
// guarantee for non-sync writes), read back by corodb and by LevelDB.
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <leveldb/db.h>

#include "db_test_util.h"
#include "io/file_names.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::GetOrStatus;
using test::OpenOrDie;
using test::Run;
using test::Stat;
using test::TempDir;
using test::TestOptions;

// Precondition: File::MapForAppend maps logs only on ext4, XFS and tmpfs;
// elsewhere these tests report a skip with the reason.
boost::test_tools::assertion_result TmpDirTrusted(boost::unit_test::test_unit_id) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  struct statfs fs;
  const auto type = ::statfs(dir.c_str(), &fs) == 0 ? static_cast<unsigned long>(fs.f_type) : 0;
  boost::test_tools::assertion_result r(type == EXT4_SUPER_MAGIC || type == XFS_SUPER_MAGIC ||
                                        type == TMPFS_MAGIC);
  if (!r) r.message() << dir << " is not on ext4, XFS or tmpfs: logs are not mapped there";
  return r;
}

// The newest log in `dir` (its path), or "" when there is none.
std::string NewestLog(const std::string& dir) {
  uint64_t best = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(entry.path().filename().string(), &number, &type) &&
        type == io::FileType::kLogFile) {
      best = std::max(best, number);
    }
  }
  return best == 0 ? std::string() : io::LogFileName(dir, best);
}

// The last byte of a non-empty file.
int LastByte(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  BOOST_REQUIRE(in.tellg() > 0);
  in.seekg(-1, std::ios::end);
  return in.get();
}

std::string Key(int i) { return "key" + std::to_string(i); }
std::string Value(int i) { return std::string(50 + i % 200, static_cast<char>('a' + i % 26)); }

BOOST_AUTO_TEST_SUITE(WalMappingTest)

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(GroupsAreCopiedThroughTheLogMapping, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string name = dir.Child("db");
  std::string log;
  {
    auto db = OpenOrDie(TestOptions(backend), name, backend);
    for (int i = 0; i < 2000; ++i) BOOST_REQUIRE(Run(db->Put({}, Key(i), Value(i))).ok());
    // Every non-sync group went through the mapping; none needed a pwrite.
    const uint64_t mapped = Stat(*db, "wal_mapped_bytes");
    BOOST_TEST(mapped > 0u);
    BOOST_TEST(mapped == Stat(*db, "wal_bytes"));
    // Sync groups are written with pwrite, into the same log.
    for (int i = 2000; i < 2020; ++i) BOOST_REQUIRE(Run(db->Put({.sync = true}, Key(i), Value(i))).ok());
    BOOST_TEST(Stat(*db, "wal_mapped_bytes") == mapped);
    BOOST_TEST(Stat(*db, "wal_bytes") > mapped);
    BOOST_REQUIRE(Run(db->Put({}, Key(2020), Value(2020))).ok());  // mapped again after them
    BOOST_TEST(Stat(*db, "wal_mapped_bytes") > mapped);
    log = NewestLog(name);
    // Allocated a window ahead of the records.
    BOOST_TEST(std::filesystem::file_size(log) > Stat(*db, "wal_bytes"));
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  // A clean close leaves no zero tail: LevelDB's paranoid recovery opens it.
  const auto size = std::filesystem::file_size(log);
  BOOST_TEST(size < (1u << 20));
  leveldb::Options lo;
  lo.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(lo, name, &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<leveldb::DB> ldb(raw);
  for (int i = 0; i <= 2020; i += i < 2014 ? 7 : 1) {  // every key from 2014 on
    std::string value;
    BOOST_TEST(ldb->Get({}, Key(i), &value).ok());
    BOOST_TEST((value == Value(i)));
  }
}

// The child writes, reports, and waits to be killed: nothing it wrote went
// through a sync or a close.
[[noreturn]] void WriteAndWaitForKill(const std::string& name, const std::string& backend,
                                      int report_fd) {
  uint64_t mapped = 0;
  try {
    // Small memtables: several logs, each switched away from (its zeros
    // truncated) while the next is written.
    Options options = TestOptions(backend);
    options.write_buffer_size = 256 << 10;
    auto opened = test::TryOpen(options, name, test::MakeBackendByName(backend));
    if (!opened.ok()) ::_exit(2);
    std::unique_ptr<DB> db = std::move(opened).value();
    for (int i = 0; i < 3000; ++i) {
      if (!Run(db->Put({}, Key(i), Value(i))).ok()) ::_exit(3);
    }
    std::string stats;
    db->GetProperty("corodb.stats", &stats);
    const auto at = stats.find("wal_mapped_bytes: ");
    if (at == std::string::npos) ::_exit(4);
    mapped = std::stoull(stats.substr(at + 18));
    if (::write(report_fd, &mapped, sizeof(mapped)) != sizeof(mapped)) ::_exit(5);
    for (;;) ::pause();  // the DB stays open: killed with its log mapped
  } catch (...) {
    ::_exit(9);  // never back into the test runner
  }
}

// The writer runs in a fresh process: this test binary re-executed with
// kWriterEnv set, which the global fixture below turns into a call of
// WriteAndWaitForKill before any test runs. A plain fork would do, but the
// test process has threads by then (LevelDB's background thread stays once
// started) and a forked child of a threaded process may not start threads
// under ThreadSanitizer.
constexpr const char* kWriterEnv = "CORODB_WAL_MAPPING_WRITER";

struct WriterChildMode {
  WriterChildMode() {
    const char* spec = std::getenv(kWriterEnv);  // "fd backend dbname"
    if (spec == nullptr) return;
    std::istringstream in(spec);
    int fd = -1;
    std::string backend;
    std::string name;
    in >> fd >> backend;
    std::getline(in >> std::ws, name);
    if (fd < 0 || name.empty()) ::_exit(8);
    WriteAndWaitForKill(name, backend, fd);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(WriterChildMode);

// Runs WriteAndWaitForKill in a child, SIGKILLs it once it reported, and
// returns the bytes it copied through log mappings (checked: most of what
// it wrote).
uint64_t KillAMappedWriter(const std::string& name, const std::string& backend) {
  int report[2];
  BOOST_REQUIRE(::pipe(report) == 0);
  // Everything the child needs, made before the fork (only exec follows it).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).substr(0, std::strlen(kWriterEnv) + 1) != std::string(kWriterEnv) + "=") {
      env_strings.emplace_back(*e);
    }
  }
  env_strings.push_back(std::string(kWriterEnv) + "=" + std::to_string(report[1]) + " " + backend +
                        " " + name);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until the exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a test that died
    ::close(report[0]);
    ::execve(exe, argv, envp.data());
    ::_exit(7);
  }
  BOOST_REQUIRE(pid > 0);
  ::close(report[1]);  // a writer that exits early ends the read below
  uint64_t mapped = 0;
  // A writer that hangs before it reports fails the test, not CTest's timeout.
  pollfd ready{report[0], POLLIN, 0};
  const ssize_t got =
      ::poll(&ready, 1, 120'000) == 1 ? ::read(report[0], &mapped, sizeof(mapped)) : -1;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(report[0]);
  BOOST_REQUIRE_MESSAGE(got == sizeof(mapped), "the writer exited early or did not report within 120 s, status " << status);
  BOOST_REQUIRE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  BOOST_TEST(mapped > 3000u * 50);  // the writes went through the mapping
  // Logs switched away from end at their last record; only the newest has
  // zeros written ahead of its appends.
  const std::string newest = NewestLog(name);
  int logs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(name)) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(entry.path().filename().string(), &number, &type) ||
        type != io::FileType::kLogFile || entry.path().string() == newest) {
      continue;
    }
    ++logs;
    BOOST_TEST(LastByte(entry.path().string()) != 0, entry.path() << " ends in zeros");
  }
  BOOST_TEST_MESSAGE(logs << " older logs left by the killed writer");
  return mapped;
}

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(MappedNonSyncWritesSurviveSigkill, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string name = dir.Child("db");
  KillAMappedWriter(name, backend);
  // The killed process left zeros written ahead of its newest log's records.
  BOOST_TEST(LastByte(NewestLog(name)) == 0);

  // LevelDB first, paranoid (it skips a zero tail after whole records, as
  // its own mmap writer left them), then corodb on what LevelDB left.
  {
    leveldb::Options lo;
    lo.paranoid_checks = true;
    leveldb::DB* raw = nullptr;
    const leveldb::Status s = leveldb::DB::Open(lo, name, &raw);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    std::unique_ptr<leveldb::DB> ldb(raw);
    int missing = 0;
    for (int i = 0; i < 3000; ++i) {
      std::string value;
      if (!ldb->Get({}, Key(i), &value).ok() || value != Value(i)) ++missing;
    }
    BOOST_TEST(missing == 0);
  }
  auto db = OpenOrDie(TestOptions(backend), name, backend);
  int missing = 0;
  for (int i = 0; i < 3000; ++i) missing += GetOrStatus(*db, Key(i)) == Value(i) ? 0 : 1;
  BOOST_TEST(missing == 0);
}

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(CorodbRecoversAKilledMappedLogItself, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string name = dir.Child("db");
  KillAMappedWriter(name, backend);
  Options options = TestOptions(backend);
  options.paranoid_checks = true;  // a zero tail is not corruption
  auto db = OpenOrDie(options, name, backend);
  int missing = 0;
  for (int i = 0; i < 3000; ++i) missing += GetOrStatus(*db, Key(i)) == Value(i) ? 0 : 1;
  BOOST_TEST(missing == 0);
}

BOOST_DATA_TEST_CASE(NoMappingUnderFaultInjection, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  auto opened = test::TryOpen(TestOptions(backend), dir.Child("db"), fault);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<DB> db = std::move(opened).value();
  for (int i = 0; i < 100; ++i) BOOST_REQUIRE(Run(db->Put({}, Key(i), Value(i))).ok());
  BOOST_TEST(Stat(*db, "wal_bytes") > 0u);
  BOOST_TEST(Stat(*db, "wal_mapped_bytes") == 0u);  // the backend saw every log write
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
