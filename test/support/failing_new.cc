#include "support/failing_new.h"

#include <cstdlib>
#include <new>

namespace {

// Allocations on this thread before one throws; -1: none throws.
thread_local long t_allocations_before_failure = -1;

}  // namespace

namespace corodb::test {

void FailAllocationAfter(long n) { t_allocations_before_failure = n; }
void StopFailingAllocations() { t_allocations_before_failure = -1; }
bool AllocationFailurePending() { return t_allocations_before_failure >= 0; }

}  // namespace corodb::test

void* operator new(std::size_t size) {
  if (t_allocations_before_failure >= 0 && t_allocations_before_failure-- == 0) {
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& t) noexcept {
  return ::operator new(size, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
