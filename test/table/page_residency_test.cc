// PageResidency: the page-cache picture of a mapping (mincore), the pages a
// read marks, ranges across pages; and a table whose pages left the page
// cache answers TryGet with "needs I/O" instead of faulting the mapping.
#include "table/page_residency.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace corodb::table {
namespace {

const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));

// A synced file of `pages` pages, mapped read-only; evicts its pages from
// the page cache on request.
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
  // Drops the file's clean pages; whether each is resident, per mincore.
  std::vector<bool> Evict() const {
    BOOST_REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    return Kernel();
  }
  std::vector<bool> Kernel() const {
    std::vector<unsigned char> vec(size / kPage);
    BOOST_REQUIRE(::mincore(const_cast<char*>(map), size, vec.data()) == 0);
    std::vector<bool> out;
    for (unsigned char c : vec) out.push_back(c & 1);
    return out;
  }
};

bool NoneResident(const std::vector<bool>& v) {
  for (bool b : v) {
    if (b) return false;
  }
  return true;
}

BOOST_AUTO_TEST_SUITE(PageResidencyTest)

BOOST_AUTO_TEST_CASE(FollowsThePageCacheAndTheReadsMarked) {
  MappedFile f(8);
  PageResidency r(f.map, f.size);
  // Just written: the kernel holds the pages (when it says so, so do we).
  const std::vector<bool> written = f.Kernel();
  BOOST_TEST(r.Resident(0, f.size) == !std::count(written.begin(), written.end(), false));

  if (!NoneResident(f.Evict())) {
    BOOST_TEST_MESSAGE("posix_fadvise(DONTNEED) left pages cached here; eviction not checked");
    return;
  }
  // The old picture ages; a new one sees the eviction.
  r.RefreshForTesting();
  BOOST_TEST(!r.Resident(0, 1));
  BOOST_TEST(!r.Resident(3 * kPage, kPage));

  // A read of page 2 marks it, and only it.
  r.MarkResident(2 * kPage, kPage);
  BOOST_TEST(r.Resident(2 * kPage, kPage));
  BOOST_TEST(r.Resident(2 * kPage + 100, 200));
  BOOST_TEST(!r.Resident(kPage, kPage));
  // A range across pages 2 and 3 needs both.
  BOOST_TEST(!r.Resident(3 * kPage - 10, 20));
  r.MarkResident(3 * kPage - 10, 20);
  BOOST_TEST(r.Resident(3 * kPage - 10, 20));
  BOOST_TEST(r.Resident(2 * kPage, 2 * kPage));
  BOOST_TEST(!r.Resident(2 * kPage, 3 * kPage));
  // The last page, partly past the end of a file that is not a page multiple.
  r.MarkResident(f.size - 1, 1);
  BOOST_TEST(r.Resident(f.size - kPage, kPage));

  // The next picture forgets the marks the kernel no longer backs.
  (void)f.Evict();
  r.RefreshForTesting();
  BOOST_TEST(!r.Resident(2 * kPage, kPage));
}

BOOST_AUTO_TEST_CASE(AFileNotAPageMultipleIsCoveredToItsLastByte) {
  MappedFile f(3);
  PageResidency r(f.map, f.size - 100);
  r.RefreshForTesting();
  r.MarkResident(0, f.size - 100);
  BOOST_TEST(r.Resident(0, f.size - 100));
  BOOST_TEST(r.Resident(f.size - 101, 1));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
