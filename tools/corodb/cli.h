// The corodb command-line tool: `corodb SUBCOMMAND --db=DIR [flags] [args]`.
//
// Main() parses the command line, runs one subcommand and returns its exit
// code; everything it prints goes to the two streams it is given, so tests
// run it in-process as well as through the installed binary (main.cc).
//
// Exit codes: 0 ok, 1 not found (the key, for get), 2 usage, 3 corruption,
// 4 I/O error (and any other failure: a missing file or database, a
// comparator mismatch, a database another process has open). A failure
// prints one line to stderr, "corodb: <what>", whose message names the file
// (and offset) involved.
#pragma once

#include <iosfwd>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "corodb/status.h"
#include "text.h"

namespace corodb::io {
class FileSystem;
}

namespace corodb::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitUsage = 2,
  kExitCorruption = 3,
  kExitIOError = 4,
};

// Runs the tool; `args` excludes the program name.
int Main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// One run of a subcommand: its arguments and flags, parsed, and the streams.
struct Context {
  std::string command;
  std::vector<std::string> args;              // positional arguments
  std::map<std::string, std::string> flags;   // "--name=value" and "--name" (value "")
  std::string db;                             // --db, "" when not given
  Encoding key_encoding = Encoding::kEscaped;
  Encoding value_encoding = Encoding::kEscaped;
  bool json = false;
  IoBackendKind io_backend = IoBackendKind::kAuto;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;

  bool Has(const std::string& flag) const { return flags.contains(flag); }
  std::optional<std::string> Flag(const std::string& flag) const {
    auto it = flags.find(flag);
    if (it == flags.end()) return std::nullopt;
    return it->second;
  }
};

// Prints "corodb: <message>" and the subcommand's usage to ctx.err and
// returns kExitUsage: for bad arguments and flag values.
int UsageError(const Context& ctx, const std::string& message);

// Prints "corodb: <status>" to ctx.err and returns its exit code:
// Corruption 3, anything else 4 (a missing file too: exit code 1 means
// only that `get` found no such key).
int Fail(const Context& ctx, const Status& status);
int ExitCodeOf(const Status& status);

// A key or value given on the command line, decoded; InvalidArgument
// naming `what` when it does not decode.
Result<std::string> DecodeArg(const std::string& text, Encoding encoding, std::string_view what);

// The value of flag `name` as a decimal number, `absent` when it is not
// given; InvalidArgument when it is not a number.
Result<uint64_t> NumberFlag(const Context& ctx, const std::string& name, uint64_t absent);

// Database options from the flags every opening subcommand takes:
// --io_backend, --bloom_bits, --compression, --create_if_missing.
Options DbOptions(const Context& ctx);

// Runs `aw` to completion on a fresh io_context on this thread.
Status RunStatus(boost::asio::awaitable<Status> aw);

// Subcommands. Each returns its exit code.
int CmdGet(Context& ctx);
int CmdPut(Context& ctx);
int CmdDelete(Context& ctx);
int CmdScan(Context& ctx);
int CmdCount(Context& ctx);
int CmdStats(Context& ctx);
int CmdApproximateSize(Context& ctx);
int CmdCompact(Context& ctx);
int CmdRepair(Context& ctx);
int CmdDestroy(Context& ctx);
int CmdDumpLog(Context& ctx);
int CmdDumpTable(Context& ctx);
int CmdDumpManifest(Context& ctx);
int CmdCheck(Context& ctx);
int CmdBackend(Context& ctx);

}  // namespace corodb::cli
