// The RESP parser (examples/resp_server/resp_parser.h): every request form,
// bytes split at every boundary, pipelines, malformed input, limits checked
// before the bytes they announce arrive; replies of every type.
#include "resp_parser.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace corodb::resp {
namespace {

struct Parsed {
  std::vector<Command> commands;
  std::string error;
  bool in_frame = false;  // the parser ended inside a request
};

// Feeds `pieces` one after another, collecting commands until an error.
Parsed FeedPieces(const std::vector<std::string_view>& pieces, Limits limits = {}) {
  RequestParser parser(limits);
  Parsed out;
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      const RequestParser::Step step = parser.Feed(piece);
      BOOST_REQUIRE_LE(step.consumed, piece.size());
      piece.remove_prefix(step.consumed);
      if (step.event == RequestParser::Event::kCommand) {
        out.commands.push_back(parser.TakeCommand());
      } else if (step.event == RequestParser::Event::kError) {
        out.error = parser.error();
        return out;
      } else {
        BOOST_REQUIRE(piece.empty());  // kNeedMore consumes everything
      }
    }
  }
  out.in_frame = parser.InFrame();
  return out;
}

Parsed FeedAll(std::string_view input, Limits limits = {}) {
  return FeedPieces({input}, limits);
}

// Every way of cutting `input` into two reads, and one byte per read.
std::vector<std::vector<std::string_view>> Splits(std::string_view input) {
  std::vector<std::vector<std::string_view>> out;
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    out.push_back({input.substr(0, cut), input.substr(cut)});
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  out.push_back(bytes);
  return out;
}

const std::string kPipeline = std::string(
                                  "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
                                  "PING\r\n"
                                  "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                                  "*0\r\n"
                                  "  get\t key  \n"
                                  "*2\r\n$4\r\nECHO\r\n$6\r\n") +
                              std::string("a\r\n\0\n$", 6) + "\r\n";
const std::vector<Command> kPipelineCommands = {{"SET", "key", "value"},
                                                {"PING"},
                                                {"ECHO", ""},
                                                {"get", "key"},
                                                {"ECHO", std::string("a\r\n\0\n$", 6)}};

BOOST_AUTO_TEST_SUITE(RespParserTest)

BOOST_AUTO_TEST_CASE(ArrayOfBulkStringsIsACommand) {
  const Parsed p = FeedAll("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  BOOST_TEST(p.error == "");
  BOOST_REQUIRE_EQUAL(p.commands.size(), 1u);
  BOOST_TEST((p.commands[0] == (Command{"GET", "k"})));
  BOOST_TEST(!p.in_frame);
}

BOOST_AUTO_TEST_CASE(InlineCommandsSplitOnSpacesAndTabs) {
  const Parsed p = FeedAll("SET a  b\r\n\tPING\n");
  BOOST_REQUIRE_EQUAL(p.commands.size(), 2u);
  BOOST_TEST((p.commands[0] == (Command{"SET", "a", "b"})));
  BOOST_TEST((p.commands[1] == (Command{"PING"})));
}

BOOST_AUTO_TEST_CASE(EmptyAndNullArraysAndBlankLinesAreSkipped) {
  const Parsed p = FeedAll("*0\r\n*-1\r\n\r\n   \n*1\r\n$4\r\nPING\r\n");
  BOOST_TEST(p.error == "");
  BOOST_REQUIRE_EQUAL(p.commands.size(), 1u);
  BOOST_TEST((p.commands[0] == (Command{"PING"})));
}

BOOST_AUTO_TEST_CASE(BulkStringsAreBinarySafe) {
  const std::string value("\r\n\0*$\xff", 6);
  const std::string frame = "*2\r\n$4\r\nECHO\r\n$6\r\n" + value + "\r\n";
  const Parsed p = FeedAll(frame);
  BOOST_REQUIRE_EQUAL(p.commands.size(), 1u);
  BOOST_TEST(p.commands[0][1] == value);
}

BOOST_AUTO_TEST_CASE(PipelineGivesEveryCommandInOrderWhereverTheBytesAreSplit) {
  for (const auto& pieces : Splits(kPipeline)) {
    const Parsed p = FeedPieces(pieces);
    BOOST_TEST_CONTEXT("pieces: " << pieces.size() << ", first piece " << pieces[0].size()
                                  << " bytes") {
      BOOST_TEST(p.error == "");
      BOOST_TEST((p.commands == kPipelineCommands));
      BOOST_TEST(!p.in_frame);
    }
  }
}

BOOST_AUTO_TEST_CASE(EachFeedStopsAtTheEndOfACommand) {
  RequestParser parser;
  std::string_view input = kPipeline;
  std::vector<Command> got;
  while (!input.empty()) {
    const RequestParser::Step step = parser.Feed(input);
    input.remove_prefix(step.consumed);
    if (step.event != RequestParser::Event::kCommand) break;
    got.push_back(parser.TakeCommand());
  }
  BOOST_TEST((got == kPipelineCommands));
  BOOST_TEST(input.empty());
}

BOOST_AUTO_TEST_CASE(AnUnfinishedCommandIsInFrame) {
  const std::string_view frame = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
  for (size_t cut = 1; cut < frame.size(); ++cut) {
    const Parsed p = FeedAll(frame.substr(0, cut));
    BOOST_TEST(p.commands.empty());
    BOOST_TEST(p.in_frame, "cut at " << cut);
  }
}

BOOST_AUTO_TEST_CASE(MalformedFramesAreErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*1x\r\n", "Protocol error: invalid multibulk length"},
      {"*1\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\n\x01", "Protocol error: expected '$', got '\\x01'"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$1x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$+3\r\nabc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$3\r\nabcd\r\n", "Protocol error: expected CRLF after a bulk string"},
      {"*1\r\n$3\r\nabc\rx", "Protocol error: expected CRLF after a bulk string"},
      {"*1\r\n$3\r\nabc\n\r", "Protocol error: expected CRLF after a bulk string"},
      {"*1\r\n$" + std::string(40, '1') + "\r\n", "Protocol error: invalid bulk length"},
  };
  for (const auto& [input, error] : cases) {
    for (const auto& pieces : Splits(input)) {
      const Parsed p = FeedPieces(pieces);
      BOOST_TEST(p.error == error,
                 "input " << input.size() << " bytes, " << pieces.size() << " pieces");
      BOOST_TEST(p.commands.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(CommandsBeforeAnErrorAreKeptAndTheParserStaysFailed) {
  RequestParser parser;
  std::string_view input = "PING\r\n*1\r\n:2\r\nPING\r\n";
  RequestParser::Step step = parser.Feed(input);
  BOOST_REQUIRE(step.event == RequestParser::Event::kCommand);
  BOOST_TEST((parser.TakeCommand() == Command{"PING"}));
  input.remove_prefix(step.consumed);
  step = parser.Feed(input);
  BOOST_TEST((step.event == RequestParser::Event::kError));
  BOOST_TEST(step.consumed == 4u);  // up to the ':'
  step = parser.Feed("PING\r\n");
  BOOST_TEST((step.event == RequestParser::Event::kError));
  BOOST_TEST(step.consumed == 0u);
}

BOOST_AUTO_TEST_CASE(LimitsAreCheckedWhenTheLengthIsRead) {
  Limits limits;
  limits.max_args = 3;
  limits.max_bulk = 10;
  limits.max_command_bytes = 15;
  limits.max_inline = 16;
  // Only the header: the refused bytes are never sent.
  Parsed p = FeedAll("*4\r\n", limits);
  BOOST_TEST(p.error.find("4 arguments, over the limit of 3 (--max_args)") !=
             std::string::npos);
  p = FeedAll("*3\r\n$3\r\nSET\r\n$11\r\n", limits);
  BOOST_TEST(p.error.find("bulk string of 11 bytes, over the limit of 10 (--max_bulk)") !=
             std::string::npos);
  p = FeedAll("*3\r\n$3\r\nSET\r\n$9\r\nkkkkkkkkk\r\n$4\r\n", limits);
  BOOST_TEST(p.error.find("request of more than 15 bytes (--max_query)") !=
             std::string::npos);
  p = FeedAll(std::string(17, 'a'), limits);  // no newline yet
  BOOST_TEST(p.error == "Protocol error: too big inline request");
  // At the limits: accepted.
  p = FeedAll("*3\r\n$3\r\nSET\r\n$2\r\nkk\r\n$10\r\n0123456789\r\n", limits);
  BOOST_TEST(p.error == "");
  BOOST_REQUIRE_EQUAL(p.commands.size(), 1u);
  p = FeedAll(std::string(15, 'a') + "\n", limits);
  BOOST_TEST(p.error == "");
  BOOST_TEST(p.commands.size() == 1u);
  // A huge declared length costs nothing until the bytes come.
  limits.max_bulk = size_t{1} << 40;
  limits.max_command_bytes = size_t{1} << 40;
  p = FeedAll("*2\r\n$4\r\nECHO\r\n$1000000000000\r\nabc", limits);
  BOOST_TEST(p.error == "");
  BOOST_TEST(p.in_frame);
}

BOOST_AUTO_TEST_CASE(IntegersParseStrictly) {
  int64_t v = 0;
  BOOST_TEST(ParseInteger("0", &v));
  BOOST_TEST(v == 0);
  BOOST_TEST(ParseInteger("-42", &v));
  BOOST_TEST(v == -42);
  BOOST_TEST(ParseInteger("9223372036854775807", &v));
  BOOST_TEST(v == std::numeric_limits<int64_t>::max());
  BOOST_TEST(ParseInteger("-9223372036854775808", &v));
  BOOST_TEST(v == std::numeric_limits<int64_t>::min());
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "1.0", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999", "0x10"}) {
    BOOST_TEST(!ParseInteger(bad, &v), "'" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(RepliesOfEveryType) {
  Reply r;
  size_t n = 0;
  BOOST_REQUIRE(ParseReply("+OK\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kSimpleString && r.text == "OK" && n == 5u));
  BOOST_REQUIRE(ParseReply("-ERR bad\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kError && r.text == "ERR bad"));
  BOOST_REQUIRE(ParseReply(":-7\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kInteger && r.integer == -7));
  BOOST_REQUIRE(ParseReply("$5\r\na\r\nbc\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kBulkString && r.text == "a\r\nbc" && n == 11u));
  BOOST_REQUIRE(ParseReply("$-1\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kNullBulk));
  BOOST_REQUIRE(ParseReply("*-1\r\n", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST((r.type == Reply::Type::kNullArray));
  const std::string nested = "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n+y\r\n";
  BOOST_REQUIRE(ParseReply(nested + "extra", &r, &n) == ReplyParse::kComplete);
  BOOST_TEST(n == nested.size());
  BOOST_REQUIRE_EQUAL(r.elements.size(), 3u);
  BOOST_TEST(r.elements[1].elements[0].text == "x");
  BOOST_TEST((r.elements[1].elements[1].type == Reply::Type::kNullBulk));
  BOOST_TEST(r.elements[2].text == "y");
  // Every proper prefix needs more.
  for (size_t cut = 0; cut < nested.size(); ++cut) {
    BOOST_TEST((ParseReply(nested.substr(0, cut), &r, &n) == ReplyParse::kNeedMore),
               "cut " << cut);
  }
}

BOOST_AUTO_TEST_CASE(MalformedRepliesAreErrors) {
  Reply r;
  size_t n = 0;
  for (const char* bad :
       {"?x\r\n", ":x\r\n", "$-2\r\n", "$1\r\nab\r\n", "*-2\r\n", "*1\r\n!\r\n"}) {
    BOOST_TEST((ParseReply(bad, &r, &n) == ReplyParse::kError), bad);
  }
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  BOOST_TEST((ParseReply(deep, &r, &n, 16) == ReplyParse::kError));
  BOOST_TEST((ParseReply(deep, &r, &n, 20) == ReplyParse::kComplete));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::resp
