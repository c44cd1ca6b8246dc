// PageResidency: which pages of a read-only file mapping the page cache
// holds, so that a table read can copy a block out of the mapping only when
// touching it cannot fault to the disk.
//
// The answer comes from mincore(2) over the whole mapping, taken again when
// it is older than kRefreshNanos at the moment a reader asks, plus the pages
// a read brought in since (MarkResident). It is a hint that ages: the kernel
// may evict a page after the last look, and touching it then is a blocking
// page fault (the disk read LevelDB's mmap reads always risk), for at most
// kRefreshNanos after the page went. It never changes what a read returns —
// the mapping holds the file's bytes either way.
//
// Thread-safe: readers on any thread; one of them refreshes at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace corodb::table {

class PageResidency {
 public:
  // How old the mincore picture may get before a reader takes it again.
  static constexpr int64_t kRefreshNanos = 1'000'000'000;

  // Whether mincore tells this process the truth about the file open as
  // `fd` at `path`: since Linux 5.2 it reports every page as resident unless
  // the caller owns the file, may write it, or has CAP_FOWNER (root is taken
  // to have it). Without that, a picture would say "cached" for every page.
  static bool Reported(int fd, const std::string& path);

  // `map`: `size` bytes mapped at a page-aligned address, outliving this.
  PageResidency(const char* map, uint64_t size);
  PageResidency(const PageResidency&) = delete;
  PageResidency& operator=(const PageResidency&) = delete;

  // Whether every page of [offset, offset + n) was in the page cache at the
  // last look or was read since. REQUIRES: offset + n <= size.
  bool Resident(uint64_t offset, uint64_t n);
  // Records that a read just brought [offset, offset + n) into the page cache.
  void MarkResident(uint64_t offset, uint64_t n);

  // Tests: takes the picture again now.
  void RefreshForTesting() { Refresh(Now()); }

 private:
  static int64_t Now();
  // Retakes the picture when it is older than kRefreshNanos (one thread at a
  // time; the others use the old one meanwhile).
  void MaybeRefresh();
  void Refresh(int64_t now);

  const char* const map_;
  const uint64_t size_;
  const uint64_t pages_;
  const std::unique_ptr<std::atomic<uint64_t>[]> bits_;  // one per page
  std::atomic<int64_t> taken_at_{0};                     // 0: never
  std::atomic<bool> refreshing_{false};
};

}  // namespace corodb::table
