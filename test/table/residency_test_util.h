// Precondition for the page-residency tests: posix_fadvise(DONTNEED) drops
// a synced file's pages here and mincore shows it (not on tmpfs, and not
// for a user mincore does not answer truthfully).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace corodb::test {

inline boost::test_tools::assertion_result FadviseEvictsAndMincoreSeesIt(
    boost::unit_test::test_unit_id) {
  TempDir dir("residency-probe");
  const std::string path = dir.Child("probe");
  const long page = ::sysconf(_SC_PAGESIZE);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  bool evicted = false;
  if (fd >= 0) {
    const std::string bytes(4 * static_cast<size_t>(page), 'x');
    if (::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()) &&
        ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0) {
      void* p = ::mmap(nullptr, bytes.size(), PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        std::vector<unsigned char> vec(4);
        evicted = ::mincore(p, bytes.size(), vec.data()) == 0;
        for (unsigned char c : vec) evicted = evicted && (c & 1) == 0;
        ::munmap(p, bytes.size());
      }
    }
    ::close(fd);
  }
  boost::test_tools::assertion_result ok(evicted);
  if (!evicted) {
    ok.message() << "posix_fadvise(DONTNEED) does not evict a synced file in " << dir.path()
                 << " as mincore sees it (tmpfs, or mincore not truthful for this user)";
  }
  return ok;
}

}  // namespace corodb::test
