// File::MapForAppend / TryAppendMapped: appends copied through a moving
// window of a shared mapping land in the file as pwrite's would, refuse
// what they cannot hold, and never bypass a backend that must see writes.
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "io/fault_injection_backend.h"
#include "io/file.h"
#include "io/file_system.h"
#include "support/backends.h"
#include "support/temp_dir.h"
#include "util/random.h"

namespace corodb::io {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::MakeBackendByName;
using test::TempDir;

// The filesystems File::MapForAppend trusts (ext4, XFS, tmpfs); elsewhere
// the mapping is refused and these tests report a skip.
bool Trusted(const std::string& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  const auto type = static_cast<unsigned long>(fs.f_type);
  return type == EXT4_SUPER_MAGIC || type == XFS_SUPER_MAGIC || type == TMPFS_MAGIC;
}

// Precondition: the tests that need a mapping report a skip, with the
// reason, where $TMPDIR's filesystem is not trusted.
boost::test_tools::assertion_result TmpDirTrusted(boost::unit_test::test_unit_id) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  boost::test_tools::assertion_result r(Trusted(dir));
  if (!r) r.message() << dir << " is not on ext4, XFS or tmpfs: File::MapForAppend maps nothing there";
  return r;
}

std::string ReadWholeFile(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::unique_ptr<File> CreateOrDie(const FileSystem& fs, const std::string& path) {
  auto f = fs.Open(path, OpenMode::kCreate);
  BOOST_REQUIRE_MESSAGE(f.ok(), f.status().ToString());
  return std::move(f).value();
}

BOOST_AUTO_TEST_SUITE(AppendMappingTest)

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(AppendsThroughMovingWindowsLandInTheFile, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  BOOST_REQUIRE(Trusted(dir.path()));
  FileSystem fs(MakeBackendByName(backend));
  const std::string path = dir.Child("log");
  auto f = CreateOrDie(fs, path);
  const uint64_t limit = 1 << 20;
  BOOST_REQUIRE(f->MapForAppend(limit));
  BOOST_TEST(f->Size().value() == 0u);  // nothing written yet
  BOOST_REQUIRE(f->TryAppendMapped(std::string("first")));
  BOOST_TEST(f->Size().value() == File::kAppendZeroChunk);  // zeros written ahead
  std::string expected = "first";
  // Records of 1-300 bytes across three windows, some straddling a window's end.
  Random rnd(7);
  while (expected.size() < 3 * File::kAppendWindow) {
    std::string record(1 + rnd.Uniform(300), '\0');
    for (char& c : record) c = static_cast<char>(rnd.Uniform(256));
    BOOST_REQUIRE(f->TryAppendMapped(record));
    expected += record;
  }
  BOOST_TEST(f->append_offset() == expected.size());
  BOOST_TEST(f->mapped_append_bytes() == expected.size());
  // Another description reads the page cache: the records, then the zeros
  // written ahead of them (within a chunk).
  std::string on_disk = ReadWholeFile(path);
  BOOST_REQUIRE(on_disk.size() >= expected.size());
  BOOST_TEST(on_disk.size() <= expected.size() + File::kAppendZeroChunk);
  BOOST_TEST((on_disk.substr(0, expected.size()) == expected));
  BOOST_TEST((on_disk.substr(expected.size()) == std::string(on_disk.size() - expected.size(), '\0')));

  // Past the limit: refused, nothing written; pwrite then goes on.
  const std::string tail(limit - expected.size() + 1, 't');
  BOOST_TEST(!f->TryAppendMapped(tail));
  BOOST_TEST(f->append_offset() == expected.size());
  BOOST_REQUIRE(f->AppendInline(tail).ok());
  expected += tail;
  BOOST_TEST((ReadWholeFile(path) == expected));

}

// After a truncation that cuts the zeros away, the next copy, which crosses
// into pages past the new end of the file, first writes zeros there again
// (a copy past the end of the file would be a SIGBUS).
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(AfterATruncationCopiesGoOnlyIntoRewrittenZeros,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  FileSystem fs(MakeBackendByName(backend));
  const std::string path = dir.Child("log");
  auto f = CreateOrDie(fs, path);
  BOOST_REQUIRE(f->MapForAppend(1 << 20));
  const std::string record(5000, 'm');
  BOOST_REQUIRE(f->TryAppendMapped(record));
  BOOST_REQUIRE(f->Size().value() == File::kAppendZeroChunk);
  BOOST_REQUIRE(f->Truncate(record.size()).ok());
  BOOST_TEST(f->Size().value() == record.size());
  BOOST_TEST(f->TryAppendMapped(record));  // spans pages 1-2, past the cut
  BOOST_TEST(f->Size().value() == File::kAppendZeroChunk);
  const std::string on_disk = ReadWholeFile(path);
  BOOST_TEST((on_disk.substr(0, 2 * record.size()) == record + record));
  BOOST_TEST((on_disk.substr(2 * record.size()) ==
              std::string(on_disk.size() - 2 * record.size(), '\0')));
}

// Passes everything to the thread pool, allows mapped appends, and fails
// every inline write (the zeros written ahead, a pwrite) with ENOSPC while
// armed.
class InlineWritesFail final : public Backend {
 public:
  std::string_view Name() const override { return "inline-writes-fail"; }
  void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
             IoHandler handler) override {
    inner_->Start(ex, req, std::move(handler));
  }
  IoCompletion RunInline(const IoRequest& req) override {
    if (req.opcode == IoOpcode::kWrite && failing.load()) return {-ENOSPC};
    return inner_->RunInline(req);
  }
  bool AllowsMappedWrites() const override { return true; }
  std::atomic<bool> failing{false};

 private:
  std::shared_ptr<Backend> inner_ = MakeBackendByName("threadpool");
};

// A full disk when the next zeros are due: the copy is refused, the pwrite
// that follows reports the error, and the file goes on with pwrite once
// there is room again (no mapping any more, nothing lost).
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_AUTO_TEST_CASE(AFailedZeroWriteEndsMappedAppends) {
  TempDir dir;
  auto backend = std::make_shared<InlineWritesFail>();
  FileSystem fs(backend);
  const std::string path = dir.Child("log");
  auto f = CreateOrDie(fs, path);
  BOOST_REQUIRE(f->MapForAppend(1 << 20));
  const std::string record(100, 'z');
  std::string expected;
  while (expected.size() + record.size() <= File::kAppendZeroChunk) {
    BOOST_REQUIRE(f->TryAppendMapped(record));
    expected += record;
  }
  backend->failing = true;
  BOOST_TEST(!f->TryAppendMapped(record));  // the next chunk's zeros fail
  BOOST_TEST(f->append_offset() == expected.size());
  const Status full = f->AppendInline(record);
  BOOST_TEST(!full.ok());
  BOOST_TEST(full.ToString().find("No space left on device") != std::string::npos, full.ToString());
  backend->failing = false;
  BOOST_TEST(!f->TryAppendMapped(record));  // given up for this file
  BOOST_REQUIRE(f->AppendInline(record).ok());
  expected += record;
  BOOST_TEST((ReadWholeFile(path) == expected));
}

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(ARecordLargerThanTheWindowGoesToPwrite, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  BOOST_REQUIRE(Trusted(dir.path()));
  FileSystem fs(MakeBackendByName(backend));
  auto f = CreateOrDie(fs, dir.Child("log"));
  BOOST_REQUIRE(f->MapForAppend(4 << 20));
  const std::string big(File::kAppendWindow + 1, 'b');
  BOOST_TEST(!f->TryAppendMapped(big));
  BOOST_TEST(f->append_offset() == 0u);
  BOOST_REQUIRE(f->AppendInline(big).ok());
  BOOST_TEST(f->TryAppendMapped(std::string("after")));  // the window moves to the new end
  BOOST_TEST((ReadWholeFile(dir.Child("log")).substr(0, big.size() + 5) == big + "after"));
}

BOOST_DATA_TEST_CASE(ABackendThatMustSeeWritesGetsNoMapping, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  FileSystem fs(std::make_shared<FaultInjectionBackend>(MakeBackendByName(backend)));
  auto f = CreateOrDie(fs, dir.Child("log"));
  BOOST_TEST(!f->MapForAppend(1 << 20));
  BOOST_TEST(!f->TryAppendMapped(std::string("x")));
  BOOST_TEST(f->Size().value() == 0u);  // nothing allocated either
}

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(AFileWithBytesPastTheAppendOffsetGetsNoMapping,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  FileSystem fs(MakeBackendByName(backend));
  const std::string path = dir.Child("log");
  {
    auto w = CreateOrDie(fs, path);
    BOOST_REQUIRE(w->AppendInline(std::string("existing")).ok());
  }
  auto f = fs.Open(path, OpenMode::kReadWrite);  // append offset 0, size 8
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(!(*f)->MapForAppend(1 << 20));
  BOOST_TEST(ReadWholeFile(path) == "existing");
}

// The kernel's page-cache state of [0, len) of `fd` (cachestat(2), Linux
// 6.5), or nullopt where the call does not exist.
struct PageCacheState {
  uint64_t cached, dirty, writeback;
};
std::optional<PageCacheState> CacheStat(int fd, uint64_t len) {
  struct {
    uint64_t off, len;
  } range{0, len};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } cs{};
  constexpr long kCachestat = 451;  // the same number on every architecture
  if (::syscall(kCachestat, fd, &range, &cs, 0) != 0) return std::nullopt;
  return PageCacheState{cs.nr_cache, cs.nr_dirty, cs.nr_writeback};
}

// Precondition: cachestat(2) works here and $TMPDIR has writeback to watch
// (not tmpfs).
boost::test_tools::assertion_result CanWatchWriteback(boost::unit_test::test_unit_id) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  struct statfs sfs;
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR, 0600);  // an unnamed file
  const bool cachestat = fd >= 0 && CacheStat(fd, 0).has_value();
  if (fd >= 0) ::close(fd);
  const bool tmpfs = ::statfs(dir.c_str(), &sfs) == 0 &&
                     static_cast<unsigned long>(sfs.f_type) == TMPFS_MAGIC;
  boost::test_tools::assertion_result r(cachestat && !tmpfs);
  if (!r) r.message() << (cachestat ? dir + " is on tmpfs (no writeback)" : "no cachestat(2) (Linux 6.5)");
  return r;
}

// The durability the WAL relies on: pages dirtied through the mapping are
// written back by an fdatasync through another description of the file
// (sync groups, the background sync and the switch each use their own).
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted) *
                     boost::unit_test::precondition(&CanWatchWriteback))
BOOST_DATA_TEST_CASE(AnFdatasyncOnAnotherDescriptionWritesBackMappedPages,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  struct statfs sfs;
  BOOST_REQUIRE(::statfs(dir.path().c_str(), &sfs) == 0);
  FileSystem fs(MakeBackendByName(backend));
  const std::string path = dir.Child("log");
  auto f = CreateOrDie(fs, path);
  auto other = fs.Open(path, OpenMode::kReadWrite);
  BOOST_REQUIRE(other.ok());
  BOOST_REQUIRE(f->MapForAppend(1 << 20));
  const std::string record(200, 'r');
  for (int i = 0; i < 2000; ++i) BOOST_REQUIRE(f->TryAppendMapped(record));  // windows moved
  BOOST_REQUIRE(static_cast<unsigned long>(sfs.f_type) != TMPFS_MAGIC);
  // A copy just now: its page is dirty (the flusher could have written the
  // earlier ones meanwhile).
  BOOST_REQUIRE(f->TryAppendMapped(record));
  const std::optional<PageCacheState> before = CacheStat(f->fd(), f->append_offset());
  BOOST_REQUIRE(before.has_value());
  BOOST_TEST(before->dirty + before->writeback > 0u);
  BOOST_REQUIRE((*other)->SyncInline().ok());
  const std::optional<PageCacheState> after = CacheStat(f->fd(), f->append_offset());
  BOOST_REQUIRE(after.has_value());
  BOOST_TEST(after->dirty == 0u);
  BOOST_TEST(after->writeback == 0u);
  // Still mapped and writable: the next copy dirties its page again.
  BOOST_REQUIRE(f->TryAppendMapped(record));
  BOOST_TEST(CacheStat(f->fd(), f->append_offset())->dirty > 0u);
}

// RLIMIT_FSIZE caps the allocation (fallocate past it would raise SIGXFSZ,
// whose default action kills the process: the child keeps that default).
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(&TmpDirTrusted))
BOOST_DATA_TEST_CASE(TheAllocationStaysUnderTheFileSizeLimit, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("log");
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_DFL);
    struct rlimit lim{300 << 10, 300 << 10};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(2);
    FileSystem fs(MakeBackendByName(backend));
    auto f = fs.Open(path, OpenMode::kCreate);
    if (!f.ok() || !(*f)->MapForAppend(1 << 20)) ::_exit(3);
    const std::string record(1000, 'q');
    int mapped = 0;
    while ((*f)->TryAppendMapped(record)) ++mapped;
    // 307 records of 1000 bytes fit under 300 KiB (307,200 bytes), every
    // window move staying under the limit; the next is refused. Its pwrite
    // fails with EFBIG once SIGXFSZ is ignored, as for any writer.
    if (mapped != 307) ::_exit(4);
    ::signal(SIGXFSZ, SIG_IGN);
    if ((*f)->AppendInline(record).ok()) ::_exit(5);
    ::_exit(0);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status), "the child died of signal " << WTERMSIG(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::io
