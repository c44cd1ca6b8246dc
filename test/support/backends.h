// The I/O backend matrix: engine behaviour tests run once per backend,
// data-driven (BOOST_DATA_TEST_CASE over BackendNames()), and io_uring tests
// that report a skip, not a pass, where io_uring cannot be set up.
//
// CTest runs a test binary that has such tests twice (test/CMakeLists.txt):
//   NAME        CORODB_TEST_BACKENDS=threadpool, --run_test=!@uring: every
//               test except the io_uring-only ones, over the thread pool;
//   NAME.uring  CORODB_TEST_BACKENDS=uring, --run_test=@uring: the io_uring
//               tests and the backend matrix over io_uring. Where io_uring
//               cannot be set up they are skipped with the reason (Boost.Test
//               preconditions), and a run in which every test was skipped
//               exits with kSkipExitCode, which CTest reports as "Skipped".
// CORODB_REQUIRE_URING=1 (CI, where the kernel allows rings) turns that skip
// into a failure. Run by hand without CORODB_TEST_BACKENDS, a binary runs
// everything over both backends ("uring" left out, with a message, where it
// cannot be set up).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "io/backend.h"

namespace corodb::test {

// Exit code of a test binary whose every runnable test was skipped.
constexpr int kSkipExitCode = 77;

// The backends to run the matrix over (see above). In "uring" mode, a call
// made while a data-driven test case is being registered labels that test
// case "uring" and gives it the precondition UringUsable.
const std::vector<std::string>& BackendNames();

// Why io_uring cannot be set up on this machine ("" when it can); probed once.
const std::string& UringUnavailableReason();

// CORODB_REQUIRE_URING=1: io_uring tests fail instead of being skipped.
bool UringRequired();

// Whether this run includes io_uring tests (CORODB_TEST_BACKENDS is not "threadpool").
bool RunsUringTests();

// Boost.Test precondition: true where io_uring can be set up (or is
// required); otherwise false with the reason, so the test is skipped.
boost::test_tools::assertion_result UringUsable(boost::unit_test::test_unit_id);

// Decorators for a test case that needs io_uring:
//   BOOST_AUTO_TEST_CASE(Name, test::NeedsUring())
// label "uring" (it runs in the NAME.uring entry) and the precondition above.
boost::unit_test::decorator::collector_t& NeedsUring();

// Creates the named backend (as Options::io_backend would), ignoring
// CORODB_IO_BACKEND. Aborts the test on failure.
std::shared_ptr<io::Backend> MakeBackendByName(const std::string& name);

IoBackendKind BackendKindByName(const std::string& name);

}  // namespace corodb::test
