// SCAN's MATCH patterns (examples/resp_server/glob.h).
#include "glob.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace corodb::resp {
namespace {

BOOST_AUTO_TEST_SUITE(GlobTest)

BOOST_AUTO_TEST_CASE(StarAndQuestionMark) {
  BOOST_TEST(GlobMatch("*", ""));
  BOOST_TEST(GlobMatch("*", "anything"));
  BOOST_TEST(GlobMatch("user:*", "user:42"));
  BOOST_TEST(!GlobMatch("user:*", "users:42"));
  BOOST_TEST(GlobMatch("h?llo", "hello"));
  BOOST_TEST(!GlobMatch("h?llo", "hllo"));
  BOOST_TEST(GlobMatch("*a*b*c", "xxaxxbxxc"));
  BOOST_TEST(!GlobMatch("*a*b*c", "xxaxxcxxb"));
  BOOST_TEST(GlobMatch("a**b", "ab"));
  BOOST_TEST(!GlobMatch("abc", "abcd"));
  BOOST_TEST(!GlobMatch("abcd", "abc"));
}

BOOST_AUTO_TEST_CASE(ClassesRangesNegationAndEscapes) {
  BOOST_TEST(GlobMatch("h[ae]llo", "hallo"));
  BOOST_TEST(!GlobMatch("h[ae]llo", "hillo"));
  BOOST_TEST(GlobMatch("h[^e]llo", "hallo"));
  BOOST_TEST(!GlobMatch("h[^e]llo", "hello"));
  BOOST_TEST(GlobMatch("k[0-9]", "k7"));
  BOOST_TEST(GlobMatch("k[9-0]", "k7"));  // reversed range
  BOOST_TEST(!GlobMatch("k[0-9]", "kx"));
  BOOST_TEST(GlobMatch("a\\*b", "a*b"));
  BOOST_TEST(!GlobMatch("a\\*b", "axb"));
  BOOST_TEST(GlobMatch("[\\]]", "]"));
  BOOST_TEST(GlobMatch("x[ab", "xa"));  // unterminated class ends with the pattern
  BOOST_TEST(GlobMatch(std::string("a\0*", 3), std::string("a\0zz", 4)));
  BOOST_TEST(GlobMatch("[\x80-\xff]", "\xc3"));
}

BOOST_AUTO_TEST_CASE(ManyStarsStayFast) {
  // Exponential backtracking would not finish.
  const std::string text(5000, 'a');
  BOOST_TEST(!GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", text));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::resp
