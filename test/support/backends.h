// The I/O backend matrix: engine behaviour tests run once per backend,
// data-driven (BOOST_DATA_TEST_CASE over kBackendNames).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/backend.h"

namespace corodb::test {

// "uring" and "threadpool". "uring" is left out (with a message on stderr)
// when io_uring cannot be set up on this machine, so the suite still runs
// where it is blocked.
const std::vector<std::string>& BackendNames();

// Creates the named backend (as Options::io_backend would), ignoring
// CORODB_IO_BACKEND. Aborts the test on failure.
std::shared_ptr<io::Backend> MakeBackendByName(const std::string& name);

IoBackendKind BackendKindByName(const std::string& name);

}  // namespace corodb::test
