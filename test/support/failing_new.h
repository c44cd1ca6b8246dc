// A replaced global operator new that can be made to throw std::bad_alloc,
// for tests of what code leaves behind when an allocation fails. Linking
// corodb_test_failing_new replaces operator new in the whole binary, so a
// test that uses it is a binary of its own.
#pragma once

namespace corodb::test {

// This thread's allocations: the next `n` succeed, the one after throws
// std::bad_alloc, and then they succeed again. n >= 0.
void FailAllocationAfter(long n);

// Cancels a failure FailAllocationAfter armed on this thread.
void StopFailingAllocations();

// Whether a failure FailAllocationAfter armed on this thread is still to come.
bool AllocationFailurePending();

}  // namespace corodb::test
