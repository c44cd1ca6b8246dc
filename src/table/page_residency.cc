#include "table/page_residency.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vector>

namespace corodb::table {
namespace {

uint64_t PageSize() {
  static const uint64_t size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

bool PageResidency::Reported(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  const uid_t euid = ::geteuid();
  return euid == 0 || st.st_uid == euid || ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

PageResidency::PageResidency(const char* map, uint64_t size)
    : map_(map),
      size_(size),
      pages_((size + PageSize() - 1) / PageSize()),
      bits_(new std::atomic<uint64_t>[(pages_ + 63) / 64]) {
  for (uint64_t w = 0; w < (pages_ + 63) / 64; ++w) bits_[w].store(0, std::memory_order_relaxed);
}

int64_t PageResidency::Now() {
  // The coarse clock: a few milliseconds of resolution, no system call.
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec + 1;
}

bool PageResidency::Resident(uint64_t offset, uint64_t n) {
  MaybeRefresh();
  if (n == 0) return true;
  const uint64_t first = offset / PageSize();
  const uint64_t last = (offset + n - 1) / PageSize();
  for (uint64_t p = first; p <= last; ++p) {
    const uint64_t word = bits_[p / 64].load(std::memory_order_relaxed);
    if ((word & (uint64_t{1} << (p % 64))) == 0) return false;
  }
  return true;
}

void PageResidency::MarkResident(uint64_t offset, uint64_t n) {
  if (n == 0) return;
  const uint64_t first = offset / PageSize();
  const uint64_t last = (offset + n - 1) / PageSize();
  for (uint64_t p = first; p <= last && p < pages_; ++p) {
    bits_[p / 64].fetch_or(uint64_t{1} << (p % 64), std::memory_order_relaxed);
  }
}

void PageResidency::MaybeRefresh() {
  const int64_t now = Now();
  const int64_t taken = taken_at_.load(std::memory_order_relaxed);
  if (taken != 0 && now - taken < kRefreshNanos) return;
  if (refreshing_.exchange(true, std::memory_order_acquire)) return;
  // Released however Refresh leaves (it may throw bad_alloc): a flag left
  // set would freeze the picture for good.
  struct Release {
    std::atomic<bool>* flag;
    ~Release() { flag->store(false, std::memory_order_release); }
  } release{&refreshing_};
  Refresh(now);
}

void PageResidency::Refresh(int64_t now) {
  thread_local std::vector<unsigned char> vec;
  vec.resize(pages_);
  if (::mincore(const_cast<char*>(map_), size_, vec.data()) != 0) {
    // Nothing known: every read goes through the page-cache copy until the
    // next look.
    for (uint64_t w = 0; w < (pages_ + 63) / 64; ++w) bits_[w].store(0, std::memory_order_relaxed);
  } else {
    for (uint64_t w = 0; w < (pages_ + 63) / 64; ++w) {
      uint64_t word = 0;
      for (uint64_t b = 0; b < 64 && w * 64 + b < pages_; ++b) {
        if (vec[w * 64 + b] & 1) word |= uint64_t{1} << b;
      }
      bits_[w].store(word, std::memory_order_relaxed);
    }
  }
  taken_at_.store(now, std::memory_order_relaxed);
}

}  // namespace corodb::table
