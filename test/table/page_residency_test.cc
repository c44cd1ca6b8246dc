// PageResidency: the page-cache picture of a mapping (mincore), the pages a
// read marks, ranges across pages, files that are not a page multiple, and
// when mincore can be believed at all.
#include "table/page_residency.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "residency_test_util.h"
#include "support/temp_dir.h"

namespace corodb::table {
namespace {

const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));

// A synced file of `pages` pages, mapped read-only (nothing touches the
// mapping, so the kernel can drop its pages).
struct MappedFile {
  test::TempDir dir{"residency-test"};
  std::string path = dir.Child("f");
  uint64_t size;
  int fd = -1;
  const char* map = nullptr;

  explicit MappedFile(uint64_t pages) : size(pages * kPage) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    BOOST_REQUIRE(fd >= 0);
    const std::string bytes(size, 'x');
    BOOST_REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(size));
    BOOST_REQUIRE(::fdatasync(fd) == 0);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    BOOST_REQUIRE(p != MAP_FAILED);
    map = static_cast<const char*>(p);
  }
  ~MappedFile() {
    ::munmap(const_cast<char*>(map), size);
    ::close(fd);
  }
  void Evict() const {
    BOOST_REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  }
  // Reads [offset, offset + n) with pread: into the page cache.
  void Load(uint64_t offset, uint64_t n) const {
    std::string buf(n, '\0');
    BOOST_REQUIRE(::pread(fd, buf.data(), n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
  }
};

BOOST_AUTO_TEST_SUITE(PageResidencyTest)

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(test::FadviseEvictsAndMincoreSeesIt))
BOOST_AUTO_TEST_CASE(FollowsThePageCacheAndTheReadsMarked) {
  MappedFile f(8);
  BOOST_REQUIRE(PageResidency::Reported(f.fd, f.path));
  PageResidency r(f.map, f.size);
  // Just written and synced: cached.
  BOOST_TEST(r.Resident(0, f.size));

  // The old picture ages; a new one sees the eviction.
  f.Evict();
  r.RefreshForTesting();
  BOOST_TEST(!r.Resident(0, 1));
  BOOST_TEST(!r.Resident(3 * kPage, kPage));

  // A read of page 2 marks it, and only it (the marks are true, so a
  // refresh in between would keep them).
  f.Load(2 * kPage, kPage);
  r.MarkResident(2 * kPage, kPage);
  BOOST_TEST(r.Resident(2 * kPage, kPage));
  BOOST_TEST(r.Resident(2 * kPage + 100, 200));
  BOOST_TEST(!r.Resident(kPage, kPage));
  // A range across pages 2 and 3 needs both.
  BOOST_TEST(!r.Resident(3 * kPage - 10, 20));
  f.Load(3 * kPage - 10, 20);
  r.MarkResident(3 * kPage - 10, 20);
  BOOST_TEST(r.Resident(3 * kPage - 10, 20));
  BOOST_TEST(r.Resident(2 * kPage, 2 * kPage));
  BOOST_TEST(!r.Resident(2 * kPage, 3 * kPage));

  // The next picture forgets the marks the kernel no longer backs.
  f.Evict();
  r.RefreshForTesting();
  BOOST_TEST(!r.Resident(2 * kPage, kPage));
}

BOOST_AUTO_TEST_CASE(AMappingNotAPageMultipleIsCoveredToItsLastByte) {
  MappedFile f(3);
  const uint64_t size = f.size - 100;
  PageResidency r(f.map, size);
  r.RefreshForTesting();
  f.Load(0, f.size);
  r.MarkResident(0, size);
  BOOST_TEST(r.Resident(0, size));
  BOOST_TEST(r.Resident(size - 1, 1));
  BOOST_TEST(r.Resident(size - kPage / 2, kPage / 2));
}

boost::test_tools::assertion_result IsRoot(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(::geteuid() == 0);
  if (!ok) ok.message() << "needs root, to run a child as a second user";
  return ok;
}

// mincore answers "cached" for every page of a file the caller neither
// owns nor may write (Linux >= 5.2): such files are not to be believed.
// Checked in a child that drops root for "nobody" (65534).
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(IsRoot))
BOOST_AUTO_TEST_CASE(MincoreIsBelievedOnlyForFilesTheCallerOwnsOrMayWrite) {
  test::TempDir dir("residency-owner");
  const std::string mine = dir.Child("mine");
  const std::string theirs = dir.Child("theirs");
  for (const std::string& path : {mine, theirs}) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::write(fd, "x", 1) == 1);
    BOOST_REQUIRE(::fsync(fd) == 0);
    ::close(fd);
  }
  {
    const int fd = ::open(theirs.c_str(), O_RDONLY);
    BOOST_TEST(PageResidency::Reported(fd, theirs));  // root
    ::close(fd);
  }
  constexpr uid_t kNobody = 65534;
  BOOST_REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  BOOST_REQUIRE(::chown(mine.c_str(), kNobody, kNobody) == 0);  // nobody's own file
  // `theirs` stays root's, 0644: readable, not writable by nobody.
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    if (::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(10);
    }
    const int own = ::open(mine.c_str(), O_RDONLY);
    const int other = ::open(theirs.c_str(), O_RDONLY);
    if (own < 0 || other < 0) ::_exit(11);
    if (!PageResidency::Reported(own, mine)) ::_exit(12);
    if (PageResidency::Reported(other, theirs)) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) != 10, "the child could not become nobody");
  BOOST_TEST(WEXITSTATUS(status) != 11, "nobody could not open the files");
  BOOST_TEST(WEXITSTATUS(status) != 12, "nobody's own file was not believed");
  BOOST_TEST(WEXITSTATUS(status) != 13, "root's read-only file was believed for nobody");
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
