// FaultInjectionBackend's power-cut model: file contents by inode, directory
// entries of tracked directories, the path filters of FailNth*, and the
// failing opens, reads and renames of FailOpens, FailReads and FailNthRename.
#include "io/fault_injection_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "io/file_system.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace corodb::io {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::MakeBackendByName;
using test::Run;
using test::TempDir;

// The file's contents, or "(absent)".
std::string Contents(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "(absent)";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// A test directory "d" (tracked from before it has any entry) and a
// FileSystem over a fault backend wrapping `backend`.
struct Fixture {
  explicit Fixture(const std::string& backend, bool track = true)
      : fault(std::make_shared<FaultInjectionBackend>(MakeBackendByName(backend))),
        fs(fault) {
    BOOST_REQUIRE(CreateDir(dir).ok());
    if (track) BOOST_REQUIRE(fault->TrackDirectory(dir).ok());
  }
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  // Creates `name` holding `data`, synced (contents durable, entry not).
  void WriteSynced(const std::string& name, const std::string& data) {
    auto f = fs.Open(Path(name), OpenMode::kCreate);
    BOOST_REQUIRE_MESSAGE(f.ok(), f.status().ToString());
    BOOST_REQUIRE(Run((*f)->AppendAndSync(std::span<const char>(data))).ok());
  }
  void SyncDir() { BOOST_REQUIRE(Run(fs.SyncDir(dir)).ok()); }

  TempDir tmp;
  const std::string dir = tmp.Child("d");
  std::shared_ptr<FaultInjectionBackend> fault;
  FileSystem fs;
};

BOOST_AUTO_TEST_SUITE(FaultInjectionBackendTest)

// A file whose data was synced but whose directory entry never was is gone
// after a power cut; after a directory sync it stays.
BOOST_DATA_TEST_CASE(CreationIsDurableOnlyAfterADirectorySync,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend,
                     sync_dir) {
  Fixture t(backend);
  t.WriteSynced("a", "data");
  if (sync_dir) t.SyncDir();
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("a")) == (sync_dir ? "data" : "(absent)"));
}

// The temp file + rename + directory sync of CURRENT: before the directory
// sync, a power cut brings back the old CURRENT and drops the temp file.
BOOST_DATA_TEST_CASE(RenameOverAFileIsDurableOnlyAfterADirectorySync,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend,
                     sync_dir) {
  Fixture t(backend);
  t.WriteSynced("CURRENT", "MANIFEST-000001\n");
  t.SyncDir();
  t.WriteSynced("000002.dbtmp", "MANIFEST-000002\n");
  BOOST_REQUIRE(RenameFile(t.Path("000002.dbtmp"), t.Path("CURRENT")).ok());
  if (sync_dir) t.SyncDir();
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("CURRENT")) ==
             (sync_dir ? "MANIFEST-000002\n" : "MANIFEST-000001\n"));
  BOOST_TEST(Contents(t.Path("000002.dbtmp")) == "(absent)");
}

// A removed file comes back (with its durable contents only) unless a
// directory sync followed the removal.
BOOST_DATA_TEST_CASE(RemovalIsDurableOnlyAfterADirectorySync,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend,
                     sync_dir) {
  Fixture t(backend);
  {
    auto f = t.fs.Open(t.Path("old.log"), OpenMode::kCreate);
    BOOST_REQUIRE(f.ok());
    BOOST_REQUIRE(Run((*f)->AppendAndSync(std::span<const char>("synced", 6))).ok());
    BOOST_REQUIRE(Run((*f)->Append(std::span<const char>("-unsynced", 9))).ok());
  }
  t.SyncDir();
  BOOST_REQUIRE(RemoveFile(t.Path("old.log")).ok());
  if (sync_dir) t.SyncDir();
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("old.log")) == (sync_dir ? "(absent)" : "synced"));
}

// Contents are tracked by inode: a file renamed after its sync loses the
// bytes appended under its new name, not under the old one.
BOOST_DATA_TEST_CASE(ContentsFollowTheInodeAcrossARename, bdata::make(BackendNames()),
                     backend) {
  Fixture t(backend);
  t.WriteSynced("a", "abc");
  BOOST_REQUIRE(RenameFile(t.Path("a"), t.Path("b")).ok());
  t.SyncDir();
  {
    auto f = t.fs.Open(t.Path("b"), OpenMode::kAppend);
    BOOST_REQUIRE(f.ok());
    BOOST_REQUIRE(Run((*f)->Append(std::span<const char>("def", 3))).ok());
  }
  BOOST_TEST(Contents(t.Path("b")) == "abcdef");
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("b")) == "abc");
  BOOST_TEST(Contents(t.Path("a")) == "(absent)");
}

// A directory sync that fails, or that completes after the power cut, makes
// no entry durable.
BOOST_DATA_TEST_CASE(FailedOrLateDirectorySyncCommitsNothing,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend,
                     cut) {
  Fixture t(backend);
  if (cut) {
    t.fault->CutPowerAfterSyncs(1);  // the file's sync
  } else {
    t.fault->FailNthSync(1, EIO, [&](const std::string& path) { return path == t.dir; });
  }
  t.WriteSynced("a", "data");
  BOOST_TEST(!Run(t.fs.SyncDir(t.dir)).ok());
  if (cut) BOOST_TEST(t.fault->power_cut_after_path() == t.Path("a"));
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("a")) == "(absent)");
}

// Entries that existed when tracking began count as durable; a directory
// sync prunes nothing they need.
BOOST_DATA_TEST_CASE(EntriesBeforeTrackingAreDurable, bdata::make(BackendNames()),
                     backend) {
  Fixture t(backend, /*track=*/false);
  t.WriteSynced("before", "1");
  BOOST_REQUIRE(t.fault->TrackDirectory(t.dir).ok());
  BOOST_REQUIRE(RemoveFile(t.Path("before")).ok());
  t.WriteSynced("after", "2");
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("before")) == "1");
  BOOST_TEST(Contents(t.Path("after")) == "(absent)");
}

// Without TrackDirectory, entries are not modeled (contents still are).
BOOST_DATA_TEST_CASE(UntrackedDirectoryKeepsItsEntries, bdata::make(BackendNames()),
                     backend) {
  Fixture t(backend, /*track=*/false);
  {
    auto f = t.fs.Open(t.Path("a"), OpenMode::kCreate);
    BOOST_REQUIRE(f.ok());
    BOOST_REQUIRE(Run((*f)->Append(std::span<const char>("unsynced", 8))).ok());
  }
  BOOST_REQUIRE(t.fault->DropUnsyncedData().ok());
  BOOST_TEST(Contents(t.Path("a")) == "");
}

// FailNth* with a filter counts only the matching files' writes and syncs.
BOOST_DATA_TEST_CASE(PathFilterSelectsTheFilesThatCount, bdata::make(BackendNames()),
                     backend) {
  Fixture t(backend, /*track=*/false);
  auto table = [](const std::string& path) { return path.ends_with(".ldb"); };
  t.fault->FailNthWrite(2, ENOSPC, table);
  t.fault->FailNthSync(1, EIO, table);
  auto log = t.fs.Open(t.Path("1.log"), OpenMode::kCreate);
  auto ldb = t.fs.Open(t.Path("2.ldb"), OpenMode::kCreate);
  BOOST_REQUIRE(log.ok() && ldb.ok());
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(Run((*log)->Append(std::span<const char>("x", 1))).ok());
  BOOST_TEST(Run((*log)->Sync()).ok());
  BOOST_TEST(Run((*ldb)->Append(std::span<const char>("a", 1))).ok());
  const Status failed = Run((*ldb)->Append(std::span<const char>("b", 1)));
  BOOST_TEST(failed.ToString().find("No space left on device") != std::string::npos,
             failed.ToString());
  BOOST_TEST(Run((*log)->Append(std::span<const char>("y", 1))).ok());
  const Status sync = Run((*ldb)->Sync());
  BOOST_TEST(sync.ToString().find("Input/output error") != std::string::npos,
             sync.ToString());
  BOOST_TEST(Run((*ldb)->Sync()).ok());
  BOOST_TEST(t.fault->faults_injected() == 2u);
}

// FailNthRename fails the n-th rename onto a path its filter accepts, with
// the errno and both paths in the status, and renames nothing; other renames
// and the ones after it go through.
BOOST_DATA_TEST_CASE(FailNthRenameFailsTheChosenRenameOnly,
                     bdata::make(BackendNames()) * bdata::make({EIO, ENOSPC}), backend,
                     err) {
  Fixture t(backend, /*track=*/false);
  t.WriteSynced("CURRENT", "old\n");
  for (const char* name : {"1.dbtmp", "2.dbtmp", "3.dbtmp"}) t.WriteSynced(name, name);
  t.fault->FailNthRename(
      2, err, [](const std::string& to) { return to.ends_with("/CURRENT"); });
  BOOST_TEST(t.fs.Rename(t.Path("3.dbtmp"), t.Path("table.ldb")).ok());  // not counted
  BOOST_TEST(t.fs.Rename(t.Path("1.dbtmp"), t.Path("CURRENT")).ok());
  const Status failed = t.fs.Rename(t.Path("2.dbtmp"), t.Path("CURRENT"));
  BOOST_TEST(failed.IsIOError());
  BOOST_TEST(failed.ToString().find(std::strerror(err)) != std::string::npos,
             failed.ToString());
  BOOST_TEST(failed.ToString().find("2.dbtmp -> ") != std::string::npos, failed.ToString());
  BOOST_TEST(Contents(t.Path("CURRENT")) == "1.dbtmp");
  BOOST_TEST(Contents(t.Path("2.dbtmp")) == "2.dbtmp");
  BOOST_TEST(t.fault->faults_injected() == 1u);
  BOOST_TEST(t.fault->renames_started() == 3u);
  BOOST_TEST(t.fs.Rename(t.Path("2.dbtmp"), t.Path("CURRENT")).ok());  // disarmed
  BOOST_TEST(Contents(t.Path("CURRENT")) == "2.dbtmp");
}

// FailOpens fails the opens its filter accepts, without opening the file,
// until cleared.
BOOST_DATA_TEST_CASE(FailOpensFailsTheChosenPaths, bdata::make(BackendNames()),
                     backend) {
  Fixture t(backend, /*track=*/false);
  t.WriteSynced("1.log", "log");
  t.WriteSynced("2.ldb", "table");
  t.fault->FailOpens(EMFILE, [](const std::string& path) { return path.ends_with(".ldb"); });
  BOOST_TEST(t.fs.Open(t.Path("1.log"), OpenMode::kRead).ok());
  const auto failed = t.fs.Open(t.Path("2.ldb"), OpenMode::kRead);
  BOOST_REQUIRE(!failed.ok());
  BOOST_TEST(failed.status().IsIOError());
  BOOST_TEST(failed.status().ToString().find("2.ldb") != std::string::npos);
  BOOST_TEST(failed.status().ToString().find("Too many open files") != std::string::npos,
             failed.status().ToString());
  BOOST_TEST(t.fault->faults_injected() == 1u);
  t.fault->FailOpens(0, nullptr);
  BOOST_TEST(t.fs.Open(t.Path("2.ldb"), OpenMode::kRead).ok());
}

// FailReads fails every read of the ranges its filter accepts, also of data
// in the page cache (no read bypasses the backend), until cleared.
BOOST_DATA_TEST_CASE(FailReadsFailsTheChosenRangesEvenWhenCached,
                     bdata::make(BackendNames()), backend) {
  Fixture t(backend, /*track=*/false);
  t.WriteSynced("2.ldb", "0123456789");
  auto f = t.fs.Open(t.Path("2.ldb"), OpenMode::kRead);
  BOOST_REQUIRE(f.ok());
  std::string buf(4, '\0');
  // Just written: in the page cache (where the kernel has RWF_NOWAIT).
  const bool cached = (*f)->TryReadCached(0, buf).has_value();
  if (!cached) BOOST_TEST_MESSAGE("preadv2 RWF_NOWAIT unsupported here");
  t.fault->FailReads(EIO, [](const std::string& path, uint64_t offset, uint64_t len) {
    return path.ends_with(".ldb") && offset < 4 && offset + len > 2;  // bytes 2..3
  });
  BOOST_TEST(!(*f)->TryReadCached(0, buf).has_value());
  const Result<size_t> bad = Run((*f)->ReadAt(0, buf));
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.status().ToString().find("Input/output error") != std::string::npos,
             bad.status().ToString());
  const Result<size_t> good = Run((*f)->ReadAt(4, buf));
  BOOST_REQUIRE(good.ok());
  BOOST_TEST(buf == "4567");
  BOOST_TEST(t.fault->faults_injected() == 1u);
  t.fault->FailReads(0, nullptr);
  BOOST_TEST(Run((*f)->ReadAt(0, buf)).ok());
  BOOST_TEST((*f)->TryReadCached(0, buf).has_value() == cached);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::io
