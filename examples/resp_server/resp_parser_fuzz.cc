// libFuzzer target for the RESP parser (resp_parser.h), with ASan and UBSan.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target resp_parser_fuzz
//   mkdir -p $TMPDIR/resp-corpus
//   build/fuzz/examples/resp_server/resp_parser_fuzz $TMPDIR/resp-corpus
//   -max_total_time=300
//
// (the fuzz preset uses clang++-14, whose libFuzzer Debian ships in
// libclang-rt-14-dev). Besides "no crash, no leak, no undefined behaviour"
// it checks a property: the commands and the error the parser yields do not
// depend on how the bytes are split into reads. The first input byte picks
// the split (a chunk length from 1 to 16); small limits make every limit
// reachable. Each input is also parsed as a reply (ParseReply).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp_parser.h"

namespace {

struct Outcome {
  std::vector<corodb::resp::Command> commands;
  std::string error;
};

Outcome ParseInChunks(std::string_view input, size_t chunk) {
  corodb::resp::Limits limits;
  limits.max_args = 8;
  limits.max_bulk = 64;
  limits.max_command_bytes = 128;
  limits.max_inline = 64;
  corodb::resp::RequestParser parser(limits);
  Outcome out;
  for (size_t at = 0; at < input.size(); at += chunk) {
    std::string_view piece = input.substr(at, chunk);
    while (!piece.empty()) {
      const auto step = parser.Feed(piece);
      if (step.consumed > piece.size()) __builtin_trap();
      piece.remove_prefix(step.consumed);
      if (step.event == corodb::resp::RequestParser::Event::kCommand) {
        out.commands.push_back(parser.TakeCommand());
        if (out.commands.back().empty()) __builtin_trap();  // never an empty command
      } else if (step.event == corodb::resp::RequestParser::Event::kError) {
        out.error = parser.error();
        if (out.error.empty()) __builtin_trap();
        return out;
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 16;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = ParseInChunks(input, input.size() + 1);
  const Outcome split = ParseInChunks(input, chunk);
  if (whole.commands != split.commands || whole.error != split.error) __builtin_trap();

  corodb::resp::Reply reply;
  size_t consumed = 0;
  if (corodb::resp::ParseReply(input, &reply, &consumed, 8) ==
          corodb::resp::ReplyParse::kComplete &&
      (consumed == 0 || consumed > input.size())) {
    __builtin_trap();
  }
  return 0;
}
