#include "support/backends.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "io/threadpool_backend.h"
#include "io/uring_backend.h"

namespace corodb::test {
namespace {

namespace ut = boost::unit_test;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Labels the data-driven test case being registered (its suite is the
// current auto test suite while its dataset is built); nothing at run time.
void MarkCurrentDataTestAsUring() {
  ut::test_suite& suite = ut::framework::current_auto_test_suite();
  if (&suite == &static_cast<ut::test_suite&>(ut::framework::master_test_suite())) return;
  if (suite.has_label("uring")) return;
  suite.add_label("uring");
  suite.add_precondition(&UringUsable);
}

}  // namespace

const std::string& UringUnavailableReason() {
  static const std::string reason = [] {
    const int r = io::ProbeUring();
    return r == 0 ? std::string() : std::string("io_uring setup fails: ") + std::strerror(-r);
  }();
  return reason;
}

bool UringRequired() { return Env("CORODB_REQUIRE_URING") == "1"; }

bool RunsUringTests() { return Env("CORODB_TEST_BACKENDS") != "threadpool"; }

boost::test_tools::assertion_result UringUsable(ut::test_unit_id) {
  if (UringUnavailableReason().empty() || UringRequired()) return true;
  boost::test_tools::assertion_result result(false);
  result.message() << "io_uring unavailable here (" << UringUnavailableReason() << ")";
  return result;
}

ut::decorator::collector_t& NeedsUring() {
  return *ut::label("uring") * ut::precondition(&UringUsable);
}

const std::vector<std::string>& BackendNames() {
  static const std::string mode = Env("CORODB_TEST_BACKENDS");
  static const std::vector<std::string> names = [] {
    if (mode == "uring" || mode == "threadpool") return std::vector<std::string>{mode};
    std::vector<std::string> v;
    if (UringUnavailableReason().empty()) {
      v.push_back("uring");
    } else {
      std::fprintf(stderr, "%s: uring backend tests left out\n", UringUnavailableReason().c_str());
    }
    v.push_back("threadpool");
    return v;
  }();
  if (mode == "uring") MarkCurrentDataTestAsUring();
  return names;
}

IoBackendKind BackendKindByName(const std::string& name) {
  IoBackendKind kind;
  if (!io::ParseBackendKind(name, &kind)) throw std::invalid_argument("unknown backend " + name);
  return kind;
}

std::shared_ptr<io::Backend> MakeBackendByName(const std::string& name) {
  const IoBackendKind kind = BackendKindByName(name);
  auto pool = std::make_shared<io::ThreadPoolBackend>(8);
  if (kind == IoBackendKind::kThreadPool) return pool;
  return std::make_shared<io::UringBackend>(io::UringConfig{}, pool, nullptr);
}

}  // namespace corodb::test
