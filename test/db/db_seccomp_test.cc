// A database opened with default options in a process whose seccomp filter
// refuses io_uring_setup, as Docker's default profile does: it works, on the
// thread-pool backend, and LOG says why io_uring is not used.
//
// CTest runs this binary under test/support/without_uring (which installs
// such a filter); run without it, the test reports a skip with the reason.
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "corodb/db.h"
#include "io/uring_backend.h"
#include "io/uring_diagnosis.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace {

// Precondition: io_uring_setup is refused here by a seccomp filter.
boost::test_tools::assertion_result UnderAFilterRefusingIoUring(boost::unit_test::test_unit_id) {
  const io::UringFacts facts = io::GatherUringFacts(io::ProbeUring(), 0);
  boost::test_tools::assertion_result ok(facts.seccomp_mode == 2 && facts.probe_result < 0);
  if (!ok) {
    ok.message() << "not running under a seccomp filter that refuses io_uring_setup (run it "
                    "through the without_uring test helper, as CTest does)";
  }
  return ok;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBSeccompTest)

BOOST_AUTO_TEST_CASE(DefaultOptionsRunOnTheThreadPoolAndLogSaysWhy,
                     *boost::unit_test::precondition(UnderAFilterRefusingIoUring)) {
  ::unsetenv("CORODB_IO_BACKEND");  // the defaults, not the test matrix
  const io::UringFacts facts = io::GatherUringFacts(io::ProbeUring(), 0);
  const io::UringVerdict verdict = io::ClassifyUring(facts);
  if (facts.io_uring_disabled.value_or(0) == 0) {
    BOOST_TEST((verdict == io::UringVerdict::kRefusedBySeccomp));
  }
  TempDir dir("seccomp");
  const std::string path = dir.Child("db");
  Options options;
  options.create_if_missing = true;
  for (int open = 0; open < 2; ++open) {
    Result<std::unique_ptr<DB>> db = Run(DB::Open(options, path));
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    if (open == 0) BOOST_REQUIRE(Run((*db)->Put({.sync = true}, "key", "value")).ok());
    Result<std::string> got = Run((*db)->Get({}, "key"));
    BOOST_REQUIRE_MESSAGE(got.ok(), got.status().ToString());
    BOOST_TEST(*got == "value");
    BOOST_REQUIRE(Run((*db)->Close()).ok());
  }
  const std::string log = Slurp(path + "/LOG");
  BOOST_TEST_MESSAGE("LOG:\n" << log);
  const std::string why = std::string("io: io_uring ") + io::VerdictName(verdict) +
                          " (io_uring_setup: ";
  BOOST_TEST(log.find(why) != std::string::npos, "LOG lacks \"" << why << "\"");
  BOOST_TEST(log.find(io::ExplainUringVerdict(facts)) != std::string::npos);
  BOOST_TEST(log.find("io backend: threadpool") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test
