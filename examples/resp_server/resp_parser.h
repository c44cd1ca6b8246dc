// RESP2 (the Redis serialization protocol, version 2) parsing, without I/O.
//
// RequestParser turns the bytes a client sends into commands. It is
// incremental: bytes may arrive split anywhere (one at a time, or many
// commands in one read — pipelining), and the parser keeps what it needs of
// an unfinished frame itself, so the caller can drop every byte it has fed.
// A request is either
//   - a RESP array of bulk strings: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", or
//   - an inline command, one line of words separated by spaces or tabs
//     ("PING\r\n"; "\n" alone ends the line too), as typed into telnet.
// An empty array ("*0\r\n"), a null array ("*-1\r\n") and an empty inline
// line are skipped, as Redis does.
//
// Limits are checked when a length is read, before any of the bytes it
// announces are buffered: an array longer than max_args, a bulk string
// longer than max_bulk, bulk lengths summing to more than max_command_bytes,
// an inline line longer than max_inline. Exceeding one is an error, as is
// anything malformed (a bad length, a missing CRLF, an array element that is
// not a bulk string). After an error the parser stays failed: the caller
// replies with error() and closes the connection (the byte stream has lost
// its framing).
//
// ParseReply is the other direction, for clients and tests: it parses one
// reply of any RESP2 type from the front of a buffer.
//
// Thread safety: none; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corodb::resp {

struct Limits {
  // Elements of one request array (the command name included).
  size_t max_args = 1024 * 1024;
  // Bytes of one bulk string (Redis's proto-max-bulk-len: 512 MiB).
  size_t max_bulk = 512 * 1024 * 1024;
  // Bytes of all bulk strings of one request (Redis's client-query-buffer-limit).
  size_t max_command_bytes = 1024 * 1024 * 1024;
  // Bytes of one inline command line (Redis: 64 KiB).
  size_t max_inline = 64 * 1024;
};

// A parsed request: the command name and its arguments, as sent.
using Command = std::vector<std::string>;

class RequestParser {
 public:
  enum class Event {
    kNeedMore,  // every byte given was consumed; the command is not complete
    kCommand,   // a command is complete: take it with TakeCommand()
    kError,     // malformed or over a limit: see error()
  };
  struct Step {
    Event event;
    // Bytes of the input consumed by this call (up to the command's end for
    // kCommand; all of them for kNeedMore; up to the bad byte for kError).
    size_t consumed;
  };

  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  // Consumes bytes of `input` until a command completes, the input ends or
  // an error is found. Call again with the rest of the input after kCommand.
  // Once kError was returned, every call returns kError and consumes nothing.
  Step Feed(std::string_view input);

  // The command completed by the last Feed (valid once, after kCommand).
  Command TakeCommand();

  // The error, as Redis words it ("Protocol error: ..."); "" until one.
  const std::string& error() const { return error_; }

  // True while a command has been started but is not complete (bytes of it
  // were consumed). Lets a server tell a clean EOF from one mid-command.
  bool InFrame() const { return state_ != State::kStart; }

 private:
  enum class State {
    kStart,        // before the first byte of a request
    kInline,       // inside an inline line
    kArrayHeader,  // after '*', reading the count line
    kBulkHeader,   // expecting '$' and the length line of the next argument
    kBulkData,     // inside a bulk string's bytes (and its CRLF)
  };

  // Appends bytes up to and including '\n' to line_. Returns the consumed
  // count and sets *done when the line ended; fails when line_ would pass
  // `max` bytes.
  size_t ReadLine(std::string_view input, size_t max, bool* done);
  Step Fail(std::string message, size_t consumed);
  // Finishes an argument; returns true when the command is complete.
  bool ArgumentDone();
  void SplitInline();

  Limits limits_;
  State state_ = State::kStart;
  std::string line_;  // the header or inline line read so far
  size_t args_expected_ = 0;
  size_t bulk_remaining_ = 0;  // bytes of the bulk string still to read
  int crlf_seen_ = 0;          // bytes of the CRLF after it read (0..2)
  size_t command_bytes_ = 0;   // bulk bytes announced by this request so far
  std::string arg_;            // the bulk string being read
  Command command_;
  std::string error_;
};

// Parses a signed decimal integer as RESP writes it (an optional '-', then
// digits, nothing else). False on any other text or on overflow.
bool ParseInteger(std::string_view text, int64_t* value);

// A reply of any RESP2 type.
struct Reply {
  enum class Type {
    kSimpleString,
    kError,
    kInteger,
    kBulkString,
    kNullBulk,
    kArray,
    kNullArray
  };
  Type type = Type::kNullBulk;
  std::string text;  // simple string, error (without the '-'), bulk string
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray
};

enum class ReplyParse { kComplete, kNeedMore, kError };

// Parses the reply at the front of `input`: on kComplete, *reply holds it and
// *consumed its length in bytes; kNeedMore when `input` ends inside it;
// kError when it is malformed or nests deeper than `max_depth` arrays.
ReplyParse ParseReply(std::string_view input, Reply* reply, size_t* consumed,
                      int max_depth = 16);

}  // namespace corodb::resp
