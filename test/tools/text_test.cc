// The tool's key and value formats: escaped text and hex round-trip every
// byte; bad input is refused with the position.
#include "text.h"

#include <boost/test/unit_test.hpp>

namespace corodb::cli {
namespace {

BOOST_AUTO_TEST_SUITE(CliTextTest)

BOOST_AUTO_TEST_CASE(EveryByteRoundTripsEscapedAndHex) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string escaped = Escape(all);
  for (char c : escaped) BOOST_TEST((c >= 0x20 && c <= 0x7e));
  BOOST_TEST(*Unescape(escaped) == all);
  BOOST_TEST(*FromHex(ToHex(all)) == all);
  BOOST_TEST(Escape(std::string("a\\b\x00\xff", 5)) == "a\\\\b\\x00\\xff");
  BOOST_TEST(ToHex(std::string("\x00\x01\xab", 3)) == "0001ab");
  BOOST_TEST(*FromHex("0x0001AB") == std::string("\x00\x01\xab", 3));
  BOOST_TEST(*Unescape("") == "");
}

BOOST_AUTO_TEST_CASE(BadInputIsInvalidArgumentNamingThePosition) {
  for (const char* bad : {"a\\", "a\\q", "\\x4", "\\xzz"}) {
    Result<std::string> r = Unescape(bad);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.status().IsInvalidArgument());
      BOOST_TEST(r.status().ToString().find("position") != std::string::npos);
    }
  }
  BOOST_TEST(!FromHex("abc").ok());
  BOOST_TEST(!FromHex("zz").ok());
  BOOST_TEST(FromHex("zz").status().ToString().find("position 0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(JsonStringsAreAsciiAndEscaped) {
  BOOST_TEST(JsonString("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
  BOOST_TEST(JsonString(std::string("\x01\xff", 2)) == "\"\\u0001\\u00ff\"");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::cli
