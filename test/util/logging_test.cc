#include "util/logging.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace corodb {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

BOOST_AUTO_TEST_SUITE(LoggingTest)

BOOST_AUTO_TEST_CASE(CreatesLogAndRotatesOldOneToLogOld) {
  test::TempDir dir("logging");
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    (*logger)->Log("first session %d", 1);
  }
  BOOST_TEST(std::filesystem::exists(dir.Child("LOG")));
  BOOST_TEST(!std::filesystem::exists(dir.Child("LOG.old")));
  const std::string first = ReadAll(dir.Child("LOG"));
  BOOST_TEST(first.find("first session 1\n") != std::string::npos);
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    (*logger)->Log("second session");
  }
  BOOST_TEST(ReadAll(dir.Child("LOG.old")) == first);
  const std::string second = ReadAll(dir.Child("LOG"));
  BOOST_TEST(second.find("second session\n") != std::string::npos);
  BOOST_TEST(second.find("first session") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(LongLinesAreWrittenWhole) {
  test::TempDir dir("logging");
  const std::string big(5000, 'x');
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    (*logger)->Log("%s|end", big.c_str());
  }
  BOOST_TEST(ReadAll(dir.Child("LOG")).find(big + "|end\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(MissingDirectoryFailsWithIoErrorNamingThePath) {
  auto logger = Logger::OpenInDirectory("/nonexistent-corodb-dir/sub");
  BOOST_REQUIRE(!logger.ok());
  BOOST_TEST(logger.status().IsIOError());
  BOOST_TEST(logger.status().ToString().find("/nonexistent-corodb-dir/sub/LOG") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb
