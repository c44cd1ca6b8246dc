// Command-line parsing, help and dispatch for the corodb tool.
#include "cli.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <ostream>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/filter_policy.h"
#include "io/backend.h"

namespace corodb::cli {
namespace {

// What every subcommand accepts.
const std::set<std::string> kGlobalFlags = {"db", "hex", "key_hex", "value_hex", "io_backend"};
// What every subcommand that opens the database accepts (table settings for
// the tables it may write: opening flushes the recovered log).
const std::set<std::string> kOpenFlags = {"bloom_bits", "compression"};

struct Command {
  const char* name;
  const char* synopsis;  // arguments and flags after the name
  const char* summary;   // one line, for `corodb help`
  const char* details;   // for `corodb help NAME`
  std::set<std::string> flags;  // besides kGlobalFlags
  size_t min_args;
  size_t max_args;
  bool needs_db;
  int (*run)(Context&);
};

std::set<std::string> With(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"get", "--db=DIR KEY", "print the value of KEY (exit 1 when it is absent)",
       "Opens the database read-only and prints the value of KEY. Like scan, count,\n"
       "stats and approximate-size it takes no LOCK and writes nothing (the log is\n"
       "replayed in memory), so it works beside a process using the database. Every\n"
       "table block read is checksum-verified: damage is exit 3, never a wrong answer.\n",
       kOpenFlags, 1, 1, true, CmdGet},
      {"put", "--db=DIR KEY VALUE", "set KEY to VALUE",
       "Writes KEY = VALUE (--sync: fdatasync the log first). --create_if_missing\n"
       "creates the database when DIR holds none.\n",
       With({"sync", "create_if_missing"}, kOpenFlags), 2, 2, true, CmdPut},
      {"delete", "--db=DIR KEY", "remove KEY (not an error when it is absent)",
       "Writes a deletion of KEY (--sync: fdatasync the log first).\n",
       With({"sync"}, kOpenFlags), 1, 1, true, CmdDelete},
      {"scan", "--db=DIR [--from=K] [--to=K] [--limit=N] [--reverse] [--keys_only] [--json]",
       "print keys and values in order",
       "Prints every key in [--from, --to) (both optional) as KEY<TAB>VALUE lines,\n"
       "or one JSON object per line with --json ({\"key\":...,\"value\":...}).\n"
       "--reverse walks from the end of the range down; --limit stops after N keys;\n"
       "--keys_only prints keys alone.\n",
       With({"from", "to", "limit", "reverse", "keys_only", "json"}, kOpenFlags),
       0, 0, true, CmdScan},
      {"count", "--db=DIR [--from=K] [--to=K]", "count the keys (in [--from, --to))",
       "Walks the keys in [--from, --to) and prints how many there are.\n",
       With({"from", "to"}, kOpenFlags), 0, 0, true, CmdCount},
      {"stats", "--db=DIR [--json]", "engine statistics and files per level",
       "Opens the database read-only and prints the I/O backend, the leveldb.stats property\n"
       "(LevelDB's per-level table) and the corodb.stats property (counters, cache\n"
       "hit rates, write amplification, files, bytes and compactions per level);\n"
       "--json: corodb.stats as one object with a \"levels\" array.\n",
       With({"json"}, kOpenFlags), 0, 0, true, CmdStats},
      {"approximate-size", "--db=DIR [--from=K] --to=K",
       "approximate table bytes of the keys in [--from, --to)",
       "Prints GetApproximateSizes for [--from, --to) (--from defaults to the empty\n"
       "key): bytes of table data, from the index blocks; the memtable is not counted.\n",
       With({"from", "to"}, kOpenFlags), 0, 0, true, CmdApproximateSize},
      {"compact", "--db=DIR [--from=K] [--to=K]", "compact the key range (default: all)",
       "Runs CompactRange over [--from, --to] (each side unbounded when absent): the\n"
       "memtable is flushed and every overlapping level compacted into the next.\n",
       With({"from", "to"}, kOpenFlags), 0, 0, true, CmdCompact},
      {"repair", "--db=DIR", "rebuild a database that does not open (RepairDB)",
       "Runs RepairDB: logs become tables, every table is read through, and a new\n"
       "MANIFEST lists the readable ones at level 0. What is given up goes to DIR/lost/;\n"
       "DIR/LOG says what was recovered and lost.\n",
       kOpenFlags, 0, 0, true, CmdRepair},
      {"destroy", "--db=DIR --yes", "delete the database (DestroyDB)",
       "Deletes every file of the database and the directory when it is then empty.\n"
       "Refuses without --yes.\n",
       {"yes"}, 0, 0, true, CmdDestroy},
      {"dump-log", "[--db=DIR] FILE [--json]", "print every record of a write-ahead log",
       "Reads FILE (a NNNNNN.log; relative to --db when given and FILE has no '/')\n"
       "without opening the database: for each record its offset, sequence and\n"
       "count, then each put and delete. Damage is reported with its offset (exit 3).\n",
       {"json"}, 1, 1, false, CmdDumpLog},
      {"dump-table", "[--db=DIR] FILE [--json] [--summary]", "print a table file",
       "Reads FILE (a NNNNNN.ldb or .sst) without opening the database: footer,\n"
       "meta blocks (filter policy and size), every data block (offset, size,\n"
       "compression, checksum) with its entries (--summary: without entries), and\n"
       "the properties counted from them.\n",
       {"json", "summary"}, 1, 1, false, CmdDumpTable},
      {"dump-manifest", "--db=DIR [FILE] [--json]", "print the MANIFEST's edits and levels",
       "Reads the MANIFEST that CURRENT names (or FILE, a MANIFEST-NNNNNN) without\n"
       "opening the database: every edit with its offset, then the resulting levels\n"
       "with each file's number, size and key range.\n",
       {"json"}, 0, 1, true, CmdDumpManifest},
      {"check", "--db=DIR", "verify every checksum of every live file",
       "Reads the database's files without opening it (no LOCK, nothing written):\n"
       "CURRENT, the MANIFEST (every record), each live table (every block, key order,\n"
       "the key range the MANIFEST records, its size) and each live log (every record\n"
       "and batch). Prints one line per file; exits 3 on damage, naming the file and\n"
       "offset, 4 when a file cannot be read.\n",
       {}, 0, 0, true, CmdCheck},
      {"backend", "", "which I/O backend this machine gets, and why",
       "Probes io_uring as the engine does (a ring with its setup flags) and says whether\n"
       "it is usable or why not: refused by seccomp, disabled by kernel.io_uring_disabled,\n"
       "kernel too old, locked-memory limit; with the ring features found.\n",
       {}, 0, 0, false, CmdBackend},
  };
  return commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

constexpr const char* kGlobalHelp =
    "Flags for every subcommand:\n"
    "  --db=DIR            the database directory\n"
    "  --hex               keys and values in hex (input and output)\n"
    "  --key_hex, --value_hex   only keys, only values in hex\n"
    "  --io_backend=auto|uring|threadpool   the I/O backend (default auto)\n"
    "Subcommands that open the database also take --bloom_bits=N (bloom filter for\n"
    "the tables they write; default none) and --compression=snappy|none.\n"
    "Keys and values are printed escaped by default: printable ASCII as is, '\\' as\n"
    "'\\\\', other bytes as \\xNN; arguments are read back the same way.\n"
    "Exit codes: 0 ok, 1 not found, 2 usage, 3 corruption, 4 I/O error.\n";

void PrintUsage(std::ostream& os, const Command& c) {
  os << "usage: corodb " << c.name << (*c.synopsis ? " " : "") << c.synopsis << "\n";
}

void PrintOverview(std::ostream& os) {
  os << "usage: corodb SUBCOMMAND [--db=DIR] [flags] [args]\n"
     << "       corodb help [SUBCOMMAND]\n\nSubcommands:\n";
  for (const Command& c : Commands()) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size() + 1, 18), ' ');
    os << "  " << name << c.summary << "\n";
  }
  os << "\n" << kGlobalHelp;
}

int Help(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    PrintOverview(out);
    return kExitOk;
  }
  const Command* c = FindCommand(args[0]);
  if (c == nullptr || args.size() > 1) {
    err << "corodb: no subcommand '" << args[0] << "'\n";
    PrintOverview(err);
    return kExitUsage;
  }
  PrintUsage(out, *c);
  out << "\n" << c->details << "\n" << kGlobalHelp;
  return kExitOk;
}

// Parses flags and positional arguments into *ctx; "" on success, else
// what is wrong. "--" ends the flags (a key may start with "--").
std::string Parse(const Command& c, const std::vector<std::string>& args, Context* ctx) {
  bool flags_done = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!flags_done && a == "--") {
      flags_done = true;
      continue;
    }
    if (flags_done || !a.starts_with("--")) {
      ctx->args.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (!kGlobalFlags.contains(name) && !c.flags.contains(name)) {
      return "unknown flag --" + name + " for " + c.name;
    }
    ctx->flags[name] = value;
  }
  if (ctx->args.size() < c.min_args || ctx->args.size() > c.max_args) {
    return std::string(c.name) + " takes " +
           (c.min_args == c.max_args ? std::to_string(c.min_args)
                                     : std::to_string(c.min_args) + " to " +
                                           std::to_string(c.max_args)) +
           " argument(s), got " + std::to_string(ctx->args.size());
  }
  if (auto db = ctx->Flag("db")) {
    if (db->empty()) return "--db needs a directory: --db=DIR";
    ctx->db = *db;
  } else if (c.needs_db) {
    return std::string(c.name) + " needs --db=DIR";
  }
  const bool hex = ctx->Has("hex");
  ctx->key_encoding = hex || ctx->Has("key_hex") ? Encoding::kHex : Encoding::kEscaped;
  ctx->value_encoding = hex || ctx->Has("value_hex") ? Encoding::kHex : Encoding::kEscaped;
  ctx->json = ctx->Has("json");
  if (auto b = ctx->Flag("io_backend")) {
    if (!io::ParseBackendKind(*b, &ctx->io_backend)) {
      return "--io_backend must be auto, uring or threadpool, not '" + *b + "'";
    }
  }
  if (auto comp = ctx->Flag("compression"); comp && *comp != "snappy" && *comp != "none") {
    return "--compression must be snappy or none, not '" + *comp + "'";
  }
  for (const char* number : {"bloom_bits", "limit"}) {
    if (auto v = ctx->Flag(number)) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
        return std::string("--") + number + " needs a number, not '" + *v + "'";
      }
    }
  }
  if (auto bits = ctx->Flag("bloom_bits"); bits && std::stoull(*bits) > 64) {
    return "--bloom_bits must be at most 64, not " + *bits;
  }
  return "";
}

}  // namespace

int ExitCodeOf(const Status& status) {
  if (status.ok()) return kExitOk;
  if (status.IsCorruption()) return kExitCorruption;
  return kExitIOError;
}

int Fail(const Context& ctx, const Status& status) {
  *ctx.err << "corodb: " << status.ToString() << "\n";
  return ExitCodeOf(status);
}

int UsageError(const Context& ctx, const std::string& message) {
  *ctx.err << "corodb: " << message << "\n";
  if (const Command* c = FindCommand(ctx.command)) PrintUsage(*ctx.err, *c);
  *ctx.err << "(corodb help " << ctx.command << " says more)\n";
  return kExitUsage;
}

Result<std::string> DecodeArg(const std::string& text, Encoding encoding, std::string_view what) {
  Result<std::string> r = Decode(text, encoding);
  if (!r.ok()) return Status::InvalidArgument(what, r.status().message());
  return r;
}

Result<uint64_t> NumberFlag(const Context& ctx, const std::string& name, uint64_t absent) {
  auto v = ctx.Flag(name);
  if (!v) return absent;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    return Status::InvalidArgument("--" + name + " needs a number, not '" + *v + "'");
  }
  return n;
}

Options DbOptions(const Context& ctx) {
  Options options;
  options.io_backend = ctx.io_backend;
  options.create_if_missing = ctx.Has("create_if_missing");
  if (auto bits = ctx.Flag("bloom_bits"); bits && *bits != "0") {
    options.filter_policy = NewBloomFilterPolicy(std::stoi(*bits));
  }
  if (ctx.Flag("compression") == "none") options.compression = CompressionType::kNoCompression;
  return options;
}

Status RunStatus(boost::asio::awaitable<Status> aw) {
  boost::asio::io_context ctx;
  Status result;
  std::exception_ptr error;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, Status s) {
    error = e;
    result = std::move(s);
  });
  ctx.run();
  if (error) std::rethrow_exception(error);  // a bug: let it end the process loudly
  return result;
}

int Main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    PrintOverview(err);
    return kExitUsage;
  }
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    return Help(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  const Command* c = FindCommand(args[0]);
  if (c == nullptr) {
    err << "corodb: no subcommand '" << args[0] << "'\n";
    PrintOverview(err);
    return kExitUsage;
  }
  Context ctx;
  ctx.command = c->name;
  ctx.out = &out;
  ctx.err = &err;
  if (std::string problem = Parse(*c, args, &ctx); !problem.empty()) {
    return UsageError(ctx, problem);
  }
  const int code = c->run(ctx);
  out.flush();
  return code;
}

}  // namespace corodb::cli
