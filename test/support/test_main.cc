// The main() of every Boost.Test binary. Besides running the tests it
//  - refuses to run io_uring tests when CORODB_REQUIRE_URING=1 and io_uring
//    cannot be set up (a skip would hide a broken CI machine), and
//  - exits with test::kSkipExitCode (CTest: "Skipped") when no test ran and
//    at least one was skipped by a precondition (support/backends.h).
#include <cstdio>
#include <string>

#include <boost/test/tree/observer.hpp>
#include <boost/test/unit_test.hpp>

#include "support/backends.h"

namespace {

namespace ut = boost::unit_test;

// Counts test cases that started and test units skipped by a precondition
// (not those merely filtered out by --run_test).
class SkipCounter final : public ut::test_observer {
 public:
  void test_unit_start(const ut::test_unit& tu) override {
    if (tu.p_type == ut::TUT_CASE) ++started_;
  }
  void test_unit_skipped(const ut::test_unit&, ut::const_string reason) override {
    if (std::string(reason.begin(), reason.end()).rfind("precondition failed", 0) == 0) ++skipped_;
  }
  int started() const { return started_; }
  int skipped() const { return skipped_; }

 private:
  int started_ = 0;
  int skipped_ = 0;
};

SkipCounter g_counter;

bool InitTests() {
  ut::framework::master_test_suite().p_name.value = "corodb";
  ut::framework::register_observer(g_counter);
  return true;
}

}  // namespace

int main(int argc, char* argv[]) {
  using corodb::test::UringUnavailableReason;
  if (corodb::test::UringRequired() && corodb::test::RunsUringTests() &&
      !UringUnavailableReason().empty()) {
    std::fprintf(stderr, "CORODB_REQUIRE_URING=1, but io_uring cannot be used here: %s\n",
                 UringUnavailableReason().c_str());
    return 1;
  }
  const int rc = ut::unit_test_main(&InitTests, argc, argv);
  if (rc == 0 && g_counter.started() == 0 && g_counter.skipped() > 0) {
    std::printf("every test that could run here was skipped: exit code %d (skipped)\n",
                corodb::test::kSkipExitCode);
    return corodb::test::kSkipExitCode;
  }
  return rc;
}
