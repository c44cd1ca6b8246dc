// The corodb tool, subcommand by subcommand: in-process through cli::Main
// (over each I/O backend, --io_backend) on a database built with data in
// its log, at level 0 and deeper, and on a directory the real LevelDB
// wrote; and the installed binary as a subprocess.
#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "backend_report.h"
#include "cli.h"
#include "corodb/filter_policy.h"
#include "corodb/sync_db.h"
#include "io/file_names.h"
#include "io/uring_backend.h"
#include "version/version_edit.h"
#include "support/backends.h"
#include "support/temp_dir.h"

extern char** environ;

namespace corodb::cli {
namespace {

namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
using test::BackendNames;
using test::TempDir;
using Model = std::map<std::string, std::string>;

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "exit " << o.code << "\n--- stdout\n" << o.out << "--- stderr\n" << o.err;
}

// Runs the tool in-process.
Outcome Cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  Outcome o;
  o.code = Main(args, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

// Runs the built binary (optionally under `wrapper`) with stdout and stderr
// in files of a private directory.
Outcome Binary(const std::vector<std::string>& args, const std::string& wrapper = "") {
  TempDir io("cli-binary");
  const std::string out_path = io.Child("out"), err_path = io.Child("err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv_s;
  if (!wrapper.empty()) argv_s.push_back(wrapper);
  argv_s.push_back(CORODB_TOOL_PATH);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int r = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  BOOST_REQUIRE_MESSAGE(r == 0, "posix_spawn " << argv[0] << ": " << std::strerror(r));
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE(WIFEXITED(status));
  return Outcome{WEXITSTATUS(status), ReadFile(out_path), ReadFile(err_path)};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// File names in `dir` of `type`, sorted by number.
std::vector<std::string> FilesOfType(const std::string& dir, io::FileType wanted) {
  std::map<uint64_t, std::string> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    uint64_t number = 0;
    io::FileType type;
    const std::string name = entry.path().filename().string();
    if (io::ParseFileName(name, &number, &type) && type == wanted) found[number] = name;
  }
  std::vector<std::string> names;
  for (auto& [n, name] : found) names.push_back(name);
  return names;
}

// The live tables of `dir`: those `check` verified against the MANIFEST
// (a directory may also hold leftovers, e.g. LevelDB leaves the output of a
// compaction its shutdown interrupted, which no MANIFEST names).
std::vector<std::string> LiveTables(const std::string& dir, const std::string& backend) {
  std::ostringstream out, err;
  BOOST_REQUIRE(Main({"check", "--db=" + dir, "--io_backend=" + backend}, out, err) == 0);
  std::vector<std::string> tables;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    const size_t colon = line.find(".ldb: level ");
    if (line.starts_with("ok       ") && colon != std::string::npos) {
      tables.push_back(line.substr(9, colon + 4 - 9));
    }
  }
  BOOST_REQUIRE(!tables.empty());
  return tables;
}

// Every file of `dir` with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().filename().string()] = ReadFile(entry.path().string());
  }
  return files;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string bytes = ReadFile(path);
  BOOST_REQUIRE(offset < bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x40);
  WriteFile(path, bytes);
}

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "key%06d", i);
  return buf;
}

// A corodb database with data in three places, and the model of its keys:
// deeper levels (written, then CompactRange), level 0 (a log recovered by
// the next Open always becomes level-0 tables), and the log (written last).
struct BuiltDb {
  TempDir dir{"cli-db"};
  std::string path = dir.Child("db");
  std::string backend;
  Model model;
  int levels_below_0 = 0;  // files at levels >= 1
  int files_at_0 = 0;

  std::vector<std::string> Args(std::vector<std::string> args) const {
    args.push_back("--db=" + path);
    args.push_back("--io_backend=" + backend);
    return args;
  }
  Outcome Run(std::vector<std::string> args) const { return Cli(Args(std::move(args))); }

  explicit BuiltDb(std::string backend_name) : backend(std::move(backend_name)) {
    Options o;
    o.create_if_missing = true;
    o.io_backend = test::BackendKindByName(backend);
    o.write_buffer_size = 64 << 10;
    o.max_file_size = 32 << 10;
    o.filter_policy = NewBloomFilterPolicy(10);
    {
      auto db = SyncDB::Open(o, path);
      BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
      for (int i = 0; i < 3000; ++i) Put(**db, Key(i), std::string(100, static_cast<char>('a' + i % 26)));
      BOOST_REQUIRE((*db)->CompactRange(nullptr, nullptr).ok());
      BOOST_REQUIRE((*db)->Close().ok());
    }
    {
      auto db = SyncDB::Open(o, path);
      BOOST_REQUIRE(db.ok());
      for (int i = 0; i < 3000; i += 10) Put(**db, Key(i), "overwritten " + std::to_string(i));
      for (int i = 5; i < 3000; i += 100) {
        BOOST_REQUIRE((*db)->Delete({}, Key(i)).ok());
        model.erase(Key(i));
      }
      BOOST_REQUIRE((*db)->Close().ok());
    }
    {
      auto db = SyncDB::Open(o, path);  // the log above becomes a level-0 table
      BOOST_REQUIRE(db.ok());
      for (int i = 0; i < 20; ++i) Put(**db, "zz-log-" + std::to_string(i), "in the log " + std::to_string(i));
      Put(**db, std::string("bin\x00\xff", 5), std::string("\x01\x02", 2));
      std::string n;
      for (int level = 0; level < corodb::kNumLevels; ++level) {
        BOOST_REQUIRE((*db)->GetProperty("leveldb.num-files-at-level" + std::to_string(level), &n));
        (level == 0 ? files_at_0 : levels_below_0) += std::stoi(n);
      }
      BOOST_REQUIRE((*db)->Close().ok());
    }
    BOOST_REQUIRE_MESSAGE(files_at_0 > 0 && levels_below_0 > 0,
                          "level 0: " << files_at_0 << ", deeper: " << levels_below_0);
    const auto logs = FilesOfType(path, io::FileType::kLogFile);
    BOOST_REQUIRE(!logs.empty());
    BOOST_REQUIRE(fs::file_size(path + "/" + logs.back()) > 0);
  }

  void Put(SyncDB& db, const std::string& k, const std::string& v) {
    BOOST_REQUIRE(db.Put({}, k, v).ok());
    model[k] = v;
  }
  std::string NewestLog() const { return FilesOfType(path, io::FileType::kLogFile).back(); }
  std::vector<std::string> Tables() const { return LiveTables(path, backend); }
};

// The scan output the model expects (escaped text, KEY<TAB>VALUE).
std::string ExpectedScan(const Model& model) {
  std::string s;
  for (const auto& [k, v] : model) s += Escape(k) + "\t" + Escape(v) + "\n";
  return s;
}

BOOST_AUTO_TEST_SUITE(CorodbCliTest)

BOOST_AUTO_TEST_CASE(HelpListsEverySubcommand) {
  const Outcome o = Cli({"help"});
  BOOST_TEST(o.code == 0);
  for (const char* name :
       {"get", "put", "delete", "scan", "count", "dump-log", "dump-table", "dump-manifest", "check",
        "stats", "approximate-size", "compact", "repair", "destroy", "backend"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(Contains(o.out, std::string("\n  ") + name + " "));
      const Outcome one = Cli({"help", name});
      BOOST_TEST(one.code == 0);
      BOOST_TEST(Contains(one.out, std::string("usage: corodb ") + name));
    }
  }
  // The installed binary says the same.
  const Outcome binary = Binary({"help"});
  BOOST_TEST(binary.code == 0);
  BOOST_TEST(binary.out == o.out);
}

BOOST_AUTO_TEST_CASE(UsageErrorsPrintTheUsageAndExit2) {
  TempDir dir;
  const std::string db = "--db=" + dir.Child("db");
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"help", "frobnicate"},
      {"get", "k"},                      // no --db
      {"get", db},                       // no KEY
      {"get", db, "a", "b"},             // two keys
      {"put", db, "k"},                  // no VALUE
      {"scan", db, "--frob"},            // unknown flag
      {"scan", db, "--limit=ten"},
      {"get", db, "--hex", "abc"},       // odd hex
      {"get", db, "bad\\escape"},
      {"scan", db, "--io_backend=floppy"},
      {"destroy", db},                   // without --yes
      {"put", db, "--bloom_bits=1000", "k", "v"},
      {"approximate-size", db, "--from=a"},
  };
  for (const auto& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    BOOST_TEST_CONTEXT(joined) {
      const Outcome o = Cli(args);
      BOOST_CHECK_MESSAGE(o.code == kExitUsage, o);
      BOOST_CHECK_MESSAGE(Contains(o.err, "usage: corodb"), o);
      BOOST_CHECK_MESSAGE(o.out.empty(), o);
    }
  }
  BOOST_TEST(!fs::exists(dir.Child("db")));  // nothing was created
  const Outcome binary = Binary({"scan", "--limit=ten", db});
  BOOST_CHECK_MESSAGE(binary.code == 2, binary);
  BOOST_CHECK_MESSAGE(Contains(binary.err, "usage: corodb scan"), binary);
}

BOOST_DATA_TEST_CASE(GetPutDeleteScanCountOnEveryLevel, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  const auto before = Snapshot(db.path);
  // A key from each place: deeper levels, level 0, the log; and a deleted one.
  BOOST_TEST(db.Run({"get", Key(1)}).out == std::string(100, 'b') + "\n");
  BOOST_TEST(db.Run({"get", Key(20)}).out == "overwritten 20\n");
  BOOST_TEST(db.Run({"get", "zz-log-3"}).out == "in the log 3\n");
  const Outcome missing = db.Run({"get", Key(105)});
  BOOST_CHECK_MESSAGE(missing.code == kExitNotFound, missing);
  BOOST_CHECK_MESSAGE(Contains(missing.err, Key(105)), missing);
  BOOST_TEST(missing.out.empty());

  Outcome o = db.Run({"scan"});
  BOOST_REQUIRE(o.code == 0);
  BOOST_TEST(o.out == ExpectedScan(db.model));
  BOOST_TEST(db.Run({"count"}).out == std::to_string(db.model.size()) + "\n");

  // Ranges, limits, reverse, keys only.
  o = db.Run({"scan", "--from=" + Key(10), "--to=" + Key(14)});
  BOOST_TEST(o.out == Key(10) + "\toverwritten 10\n" + Key(11) + "\t" + std::string(100, 'l') + "\n" +
                          Key(12) + "\t" + std::string(100, 'm') + "\n" + Key(13) + "\t" +
                          std::string(100, 'n') + "\n");
  o = db.Run({"scan", "--reverse", "--keys_only", "--limit=3", "--to=" + Key(12)});
  BOOST_TEST(o.out == Key(11) + "\n" + Key(10) + "\n" + Key(9) + "\n");
  o = db.Run({"scan", "--reverse", "--keys_only", "--from=zz-log-7"});
  BOOST_TEST(o.out == "zz-log-9\nzz-log-8\nzz-log-7\n");
  o = db.Run({"scan", "--json", "--limit=1", "--from=zz-log-1"});
  BOOST_TEST(o.out == "{\"key\":\"zz-log-1\",\"value\":\"in the log 1\"}\n");
  BOOST_TEST(db.Run({"count", "--from=" + Key(100), "--to=" + Key(200)}).out == "99\n");
  // None of the reads above changed a byte: they open the DB read-only.
  BOOST_TEST((Snapshot(db.path) == before));

  // Writes.
  BOOST_TEST(db.Run({"put", "new key", "new value", "--sync"}).out == "OK\n");
  BOOST_TEST(db.Run({"get", "new key"}).out == "new value\n");
  BOOST_TEST(db.Run({"delete", "new key"}).code == 0);
  BOOST_TEST(db.Run({"get", "new key"}).code == kExitNotFound);
  BOOST_TEST(db.Run({"delete", "never there"}).code == 0);
}

BOOST_AUTO_TEST_CASE(BinaryKeysRoundTripWithHexThroughTheBinary) {
  BuiltDb db(BackendNames().front());
  const std::string binary_key_hex = ToHex(std::string("bin\x00\xff", 5));
  Outcome o = Binary(db.Args({"get", "--hex", binary_key_hex}));
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  BOOST_TEST(o.out == "0102\n");
  // The escaped form reads back too.
  o = Binary(db.Args({"get", "--value_hex", "bin\\x00\\xff"}));
  BOOST_CHECK_MESSAGE(o.out == "0102\n", o);
  o = Binary(db.Args({"put", "--hex", "00ff00", "fe"}));
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  o = Binary(db.Args({"scan", "--hex", "--to=01"}));
  BOOST_CHECK_MESSAGE(o.out == "00ff00\tfe\n", o);
  o = Binary(db.Args({"scan", "--key_hex", "--to=01"}));
  BOOST_CHECK_MESSAGE(o.out == "00ff00\t\\xfe\n", o);
  o = Binary(db.Args({"scan", "--from=bin", "--to=bio"}));
  BOOST_CHECK_MESSAGE(o.out == "bin\\x00\\xff\t\\x01\\x02\n", o);
  // Every key scanned with --hex is found by get --hex.
  o = Binary(db.Args({"scan", "--hex", "--keys_only", "--limit=50"}));
  for (const std::string& key : Lines(o.out)) {
    BOOST_CHECK_MESSAGE(Cli(db.Args({"get", "--hex", key})).code == 0, key);
  }
}

BOOST_DATA_TEST_CASE(DumpLogShowsEveryRecord, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  Outcome o = db.Run({"dump-log", db.NewestLog()});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "record at offset 0: sequence "), o);
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST(Contains(o.out, " put zz-log-" + std::to_string(i) + " => in the log " + std::to_string(i) + "\n"));
  }
  BOOST_CHECK_MESSAGE(Contains(o.out, " put bin\\x00\\xff => \\x01\\x02\n"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "21 records\n"), o);
  o = db.Run({"dump-log", "--json", db.NewestLog()});
  BOOST_REQUIRE(o.code == 0);
  const auto lines = Lines(o.out);
  BOOST_REQUIRE(lines.size() == 22u);
  BOOST_TEST(lines[0].starts_with("{\"type\":\"record\",\"offset\":0,\"sequence\":"));
  BOOST_TEST(Contains(lines[0], "\"updates\":[{\"sequence\":"));
  BOOST_TEST(Contains(lines[0], "\"op\":\"put\",\"key\":\"zz-log-0\",\"value\":\"in the log 0\"}]"));
  BOOST_TEST(lines[21] == "{\"type\":\"end\",\"records\":21,\"torn_tail\":false}");
  // A file path works without --db.
  o = Cli({"dump-log", db.path + "/" + db.NewestLog(), "--io_backend=" + backend});
  BOOST_CHECK_MESSAGE(o.code == 0, o);
}

BOOST_DATA_TEST_CASE(DumpTableShowsBlocksFilterAndProperties, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  uint64_t entries_total = 0;
  for (const std::string& table : db.Tables()) {
    Outcome o = db.Run({"dump-table", table});
    BOOST_REQUIRE_MESSAGE(o.code == 0, o);
    BOOST_CHECK_MESSAGE(Contains(o.out, "meta block filter.leveldb.BuiltinBloomFilter2 at offset "), o);
    BOOST_CHECK_MESSAGE(Contains(o.out, "  filter: leveldb.BuiltinBloomFilter2, "), o);
    BOOST_CHECK_MESSAGE((Contains(o.out, ", snappy (") || Contains(o.out, ", none (")), o);
    BOOST_CHECK_MESSAGE(Contains(o.out, "data block at offset 0, "), o);
    // As many entry lines as the properties count.
    const std::string marker = "  entries: ";
    const size_t at = o.out.find(marker);
    BOOST_REQUIRE(at != std::string::npos);
    const uint64_t entries = std::stoull(o.out.substr(at + marker.size()));
    uint64_t entry_lines = 0;
    for (const std::string& line : Lines(o.out)) {
      if (line.starts_with("  ") && Contains(line, " => ")) ++entry_lines;
    }
    BOOST_TEST(entry_lines == entries);
    entries_total += entries;
    o = db.Run({"dump-table", "--json", "--summary", table});
    BOOST_REQUIRE(o.code == 0);
    const auto lines = Lines(o.out);
    BOOST_TEST(lines.front().starts_with("{\"type\":\"footer\",\"file_size\":"));
    BOOST_TEST(lines.back().starts_with("{\"type\":\"properties\","));
    BOOST_TEST(Contains(lines.back(), "\"entries\":" + std::to_string(entries) + ","));
    BOOST_TEST(Contains(o.out, "{\"type\":\"meta\",\"name\":\"filter.leveldb.BuiltinBloomFilter2\""));
    BOOST_TEST(!Contains(o.out, "\"type\":\"entry\""));
  }
  BOOST_TEST(entries_total >= 3000u);  // every key, overwrites and deletions included
  // Not a table: Corruption naming the file (exit 3); a missing file: exit 4.
  Outcome o = db.Run({"dump-table", db.NewestLog()});
  BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, db.NewestLog()), o);
  o = db.Run({"dump-table", "999999.ldb"});
  BOOST_CHECK_MESSAGE(o.code == kExitIOError, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, "999999.ldb"), o);
  BOOST_TEST(Lines(o.err).size() == 1u);
}

BOOST_DATA_TEST_CASE(DumpManifestShowsEditsAndTheLevels, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  Outcome o = db.Run({"dump-manifest"});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "edit at offset 0:\n  comparator: leveldb.BytewiseComparator\n"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "resulting state: log number "), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "level 0: " + std::to_string(db.files_at_0) + " file"), o);
  // Every live table is listed.
  BOOST_TEST(db.Tables().size() == static_cast<size_t>(db.files_at_0 + db.levels_below_0));
  for (const std::string& table : db.Tables()) {
    const std::string number = std::to_string(std::stoull(table));
    BOOST_CHECK_MESSAGE(Contains(o.out, "\n  " + number + ": "), table);
  }
  o = db.Run({"dump-manifest", "--json"});
  BOOST_REQUIRE(o.code == 0);
  const auto lines = Lines(o.out);
  BOOST_TEST(lines.front().starts_with("{\"type\":\"edit\",\"offset\":0,\"comparator\":\"leveldb.BytewiseComparator\""));
  BOOST_TEST(lines.back().starts_with("{\"type\":\"result\",\"log_number\":"));
  // An explicit MANIFEST file works too.
  const std::string manifest = FilesOfType(db.path, io::FileType::kDescriptorFile).back();
  BOOST_TEST(db.Run({"dump-manifest", manifest}).out == db.Run({"dump-manifest"}).out);
  BOOST_TEST(db.Run({"dump-manifest", "000001.log"}).code == kExitIOError);
}

BOOST_DATA_TEST_CASE(StatsApproximateSizeAndCompact, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  Outcome o = db.Run({"stats"});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "io-backend: " + backend + "\n"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"), o);
  BOOST_CHECK_MESSAGE(
      Contains(o.out, "level files bytes compactions compaction_micros read_bytes write_bytes\n0 "), o);
  o = db.Run({"stats", "--json"});
  BOOST_REQUIRE(o.code == 0);
  BOOST_CHECK_MESSAGE(o.out.starts_with("{\"io_backend\":\"" + backend + "\",\"writes\":"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, ",\"levels\":[{\"level\":0,\"files\":"), o);
  BOOST_CHECK_MESSAGE(o.out.ends_with("]}\n"), o);

  o = db.Run({"approximate-size", "--from=" + Key(0), "--to=" + Key(2999)});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(std::stoull(o.out) > 10000u, o);  // 3000 keys in tables (values compress well)
  o = db.Run({"approximate-size", "--from=zzz", "--to=zzzz"});
  BOOST_CHECK_MESSAGE(std::stoull(o.out) < 10000u, o);

  o = db.Run({"compact"});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  o = db.Run({"dump-manifest", "--json"});
  BOOST_CHECK_MESSAGE(Contains(Lines(o.out).back(), "\"levels\":[{\"level\":0,\"bytes\":0,\"files\":[]}"), o);
  BOOST_TEST(db.Run({"scan"}).out == ExpectedScan(db.model));
}

// check finds a flipped byte in a table, a log and the MANIFEST, naming the
// file and the offset, and reads without writing anything.
BOOST_DATA_TEST_CASE(CheckFindsAFlippedByteInEachFileType, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  const auto before = Snapshot(db.path);
  Outcome o = db.Run({"check"});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, " 0 damaged, 0 unreadable\n"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "ok       " + db.NewestLog() + ": 21 records\n"), o);
  // Every table the engine reported at build time was verified.
  BOOST_TEST(db.Tables().size() == static_cast<size_t>(db.files_at_0 + db.levels_below_0));
  BOOST_TEST((Snapshot(db.path) == before));  // nothing written, no LOCK taken or made

  const std::string manifest = FilesOfType(db.path, io::FileType::kDescriptorFile).back();
  struct Case {
    std::string file;
    uint64_t offset;
    std::string where;  // what the error must say
  };
  const std::string table = db.Tables().front();
  // Where the table's filter block is, from dump-table.
  const std::string meta = Lines(db.Run({"dump-table", "--json", "--summary", table}).out).at(1);
  const std::string marker = "\"name\":\"filter.leveldb.BuiltinBloomFilter2\",\"offset\":";
  BOOST_REQUIRE_MESSAGE(Contains(meta, marker), meta);
  const uint64_t filter_offset = std::stoull(meta.substr(meta.find(marker) + marker.size()));
  const std::vector<Case> cases = {
      {table, 10, table + ": block at offset 0: block checksum mismatch"},
      {table, filter_offset + 1,
       table + ": block at offset " + std::to_string(filter_offset) + ": block checksum mismatch"},
      {db.NewestLog(), 20, db.NewestLog() + ": offset 0: checksum mismatch"},
      {manifest, 12, manifest + ": offset 0: checksum mismatch"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.file) {
      const std::string path = db.path + "/" + c.file;
      const std::string good = ReadFile(path);
      FlipByte(path, c.offset);
      o = db.Run({"check"});
      BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
      BOOST_CHECK_MESSAGE(Contains(o.out, "DAMAGED  " + c.file + ": Corruption: "), o);
      BOOST_CHECK_MESSAGE(Contains(o.out, c.where), o);
      BOOST_REQUIRE(Lines(o.err).size() == 1u);
      BOOST_CHECK_MESSAGE(Contains(o.err, c.where), o);
      WriteFile(path, good);
    }
  }
  BOOST_TEST(db.Run({"check"}).code == 0);
  // Reads that meet the damage report it too: every block read is verified.
  FlipByte(db.path + "/" + table, 10);
  for (const char* sub : {"scan", "count"}) {
    o = db.Run({sub});
    BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
    BOOST_CHECK_MESSAGE(Contains(o.err, table + ": block at offset 0: block checksum mismatch"), o);
  }
  FlipByte(db.path + "/" + table, 10);
  BOOST_TEST(db.Run({"check"}).code == 0);
  // A table the MANIFEST lists that is gone.
  fs::remove(db.path + "/" + table);
  o = db.Run({"check"});
  BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, table + ": missing: the MANIFEST lists it at level "), o);
}

BOOST_DATA_TEST_CASE(RepairBringsBackADatabaseWithoutItsManifest, bdata::make(BackendNames()), backend) {
  BuiltDb db(backend);
  for (const std::string& m : FilesOfType(db.path, io::FileType::kDescriptorFile)) fs::remove(db.path + "/" + m);
  Outcome o = db.Run({"check"});
  BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, "CURRENT"), o);
  o = db.Run({"get", Key(1)});
  BOOST_CHECK_MESSAGE(o.code == kExitCorruption, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, "CURRENT"), o);
  o = db.Run({"repair"});
  BOOST_REQUIRE_MESSAGE(o.code == 0, o);
  BOOST_TEST(db.Run({"check"}).code == 0);
  BOOST_TEST(db.Run({"scan"}).out == ExpectedScan(db.model));
  BOOST_TEST(db.Run({"get", "zz-log-19"}).out == "in the log 19\n");
}

BOOST_AUTO_TEST_CASE(DestroyNeedsYesAndThenDeletesTheDatabase) {
  BuiltDb db(BackendNames().front());
  BOOST_TEST(db.Run({"destroy"}).code == kExitUsage);
  BOOST_TEST(db.Run({"count"}).out == std::to_string(db.model.size()) + "\n");
  Outcome o = db.Run({"destroy", "--yes"});
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  BOOST_TEST((!fs::exists(db.path) || fs::is_empty(db.path)));
  o = db.Run({"get", Key(1)});
  BOOST_CHECK_MESSAGE(o.code == kExitIOError, o);
  BOOST_CHECK_MESSAGE(Contains(o.err, db.path), o);
  BOOST_TEST(Lines(o.err).size() == 1u);
}

// A directory the real LevelDB 1.23 wrote: tables at level 0 and deeper
// (with bloom filters), and records left in its log.
BOOST_DATA_TEST_CASE(LevelDBDirectory, bdata::make(BackendNames()), backend) {
  TempDir dir("cli-leveldb");
  const std::string path = dir.Child("db");
  Model model;
  std::unique_ptr<const leveldb::FilterPolicy> bloom(leveldb::NewBloomFilterPolicy(10));
  {
    leveldb::Options lo;
    lo.create_if_missing = true;
    lo.write_buffer_size = 64 << 10;
    lo.max_file_size = 32 << 10;
    lo.filter_policy = bloom.get();
    leveldb::DB* raw = nullptr;
    BOOST_REQUIRE(leveldb::DB::Open(lo, path, &raw).ok());
    std::unique_ptr<leveldb::DB> ldb(raw);
    for (int i = 0; i < 2000; ++i) {
      model[Key(i)] = std::string(100, static_cast<char>('A' + i % 26));
      BOOST_REQUIRE(ldb->Put({}, Key(i), model[Key(i)]).ok());
    }
    ldb->CompactRange(nullptr, nullptr);
    // Three rounds of overwrites over the whole range, each less than a
    // memtable and flushed by a CompactRange over a range that holds no key
    // (it flushes the memtable and compacts nothing): the first flush goes
    // to level 1, the next two stay at level 0. Two level-0 files stay
    // below LevelDB's compaction trigger (4), so no background compaction
    // can race the check below or the close.
    const std::string past_every_key = "~";
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 2000; i += 6) {
        model[Key(i)] = "leveldb again " + std::to_string(round) + std::string(100, 'x');
        BOOST_REQUIRE(ldb->Put({}, Key(i), model[Key(i)]).ok());
      }
      const leveldb::Slice past(past_every_key);
      ldb->CompactRange(&past, &past);
    }
    std::string at_0;
    BOOST_REQUIRE(ldb->GetProperty("leveldb.num-files-at-level0", &at_0));
    BOOST_TEST_REQUIRE(std::stoi(at_0) == 2);
    leveldb::WriteBatch batch;
    batch.Put("in-log", "yes");
    batch.Delete(Key(7));
    model["in-log"] = "yes";
    model.erase(Key(7));
    BOOST_REQUIRE(ldb->Write({}, &batch).ok());
  }
  const auto args = [&](std::vector<std::string> a) {
    a.push_back("--db=" + path);
    a.push_back("--io_backend=" + backend);
    return a;
  };
  // Read-only subcommands first: they must not change a byte.
  const auto before = Snapshot(path);
  Outcome o = Cli(args({"check"}));
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  o = Cli(args({"dump-manifest"}));
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "comparator: leveldb.BytewiseComparator"), o);
  const auto logs = FilesOfType(path, io::FileType::kLogFile);
  BOOST_REQUIRE(!logs.empty());
  o = Cli(args({"dump-log", logs.back()}));
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(Contains(o.out, " put in-log => yes\n"), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, " delete " + Key(7) + "\n"), o);
  for (const std::string& t : LiveTables(path, backend)) {
    o = Cli(args({"dump-table", "--summary", t}));
    BOOST_CHECK_MESSAGE(o.code == 0, o);
    BOOST_CHECK_MESSAGE(Contains(o.out, "filter: leveldb.BuiltinBloomFilter2, "), o);
  }
  // The ones that open it read-only: the log is replayed in memory only.
  BOOST_TEST(Cli(args({"get", "in-log"})).out == "yes\n");
  BOOST_TEST(Cli(args({"get", Key(7)})).code == kExitNotFound);
  BOOST_TEST(Cli(args({"scan"})).out == ExpectedScan(model));
  BOOST_TEST(Cli(args({"count"})).out == std::to_string(model.size()) + "\n");
  BOOST_TEST(Cli(args({"stats"})).code == 0);
  BOOST_TEST(std::stoull(Cli(args({"approximate-size", "--to=~"})).out) > 10000u);
  BOOST_TEST((Snapshot(path) == before));
  // Then the ones that write.
  BOOST_TEST(Cli(args({"compact", "--bloom_bits=10"})).code == 0);
  BOOST_TEST(Cli(args({"check"})).code == 0);
  BOOST_TEST(Cli(args({"put", "from-corodb", "1"})).code == 0);
  BOOST_TEST(Cli(args({"delete", Key(8)})).code == 0);
  model["from-corodb"] = "1";
  model.erase(Key(8));
  // Without its MANIFEST it does not open; repair brings it back.
  for (const std::string& m : FilesOfType(path, io::FileType::kDescriptorFile)) fs::remove(path + "/" + m);
  BOOST_TEST(Cli(args({"count"})).code == kExitCorruption);
  Outcome o2 = Cli(args({"repair", "--bloom_bits=10"}));
  BOOST_CHECK_MESSAGE(o2.code == 0, o2);
  BOOST_TEST(Cli(args({"check"})).code == 0);
  BOOST_TEST(Cli(args({"scan"})).out == ExpectedScan(model));
  {
    // LevelDB reads what the tool wrote and repaired.
    leveldb::Options lo;
    leveldb::DB* raw = nullptr;
    BOOST_REQUIRE(leveldb::DB::Open(lo, path, &raw).ok());
    std::unique_ptr<leveldb::DB> ldb(raw);
    std::string v;
    BOOST_TEST(ldb->Get({}, Key(3), &v).ok());
    BOOST_TEST(v == model[Key(3)]);
    BOOST_TEST(ldb->Get({}, "from-corodb", &v).ok());
    BOOST_TEST(ldb->Get({}, Key(8), &v).IsNotFound());
  }
  BOOST_TEST(Cli(args({"destroy", "--yes"})).code == 0);
  BOOST_TEST(Cli(args({"count"})).code == kExitIOError);
}

BOOST_AUTO_TEST_CASE(BackendSaysWhichBackendAndWhy) {
  const Outcome o = Cli({"backend"});
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  BOOST_CHECK_MESSAGE(o.out.starts_with("backend: "), o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "\nio_uring: "), o);
  const BackendFacts here = GatherBackendFacts();
  if (here.probe_result == 0) {
    BOOST_CHECK_MESSAGE(Contains(o.out, "io_uring: usable\nring features: "), o);
  }
  // The probe failing as each kind of machine makes it fail.
  const std::pair<int, const char*> cases[] = {
      {ENOSYS, here.seccomp_mode == 2 ? "io_uring: refused by seccomp" : "io_uring: kernel too old"},
      {ENOMEM, "io_uring: locked-memory limit"},
      {EOPNOTSUPP, "io_uring: kernel too old"},
  };
  for (const auto& [err, expected] : cases) {
    io::SetUringSetupErrorForTesting(err);
    const Outcome failed = Cli({"backend"});
    io::SetUringSetupErrorForTesting(0);
    BOOST_TEST(failed.code == 0);
    BOOST_CHECK_MESSAGE(Contains(failed.out, expected), failed);
    if (here.env_override.empty()) BOOST_CHECK_MESSAGE(failed.out.starts_with("backend: threadpool\n"), failed);
  }
}

BOOST_AUTO_TEST_CASE(BackendVerdictsFromTheFacts) {
  BackendFacts f;
  f.probe_result = -EPERM;
  f.io_uring_disabled = 2;
  BOOST_TEST(VerdictName(ClassifyUring(f)) == std::string("disabled by kernel.io_uring_disabled"));
  f.io_uring_disabled = 1;
  f.privileged_for_io_uring = false;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kDisabledBySysctl));
  f.privileged_for_io_uring = true;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kRefusedBySeccomp));
  f.io_uring_disabled.reset();
  f.seccomp_mode = 2;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kRefusedBySeccomp));
  f.probe_result = -ENOSYS;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kRefusedBySeccomp));  // a filter answering ENOSYS
  f.seccomp_mode = 0;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kKernelTooOld));
  f.probe_result = -ENOMEM;
  f.memlock_limit = 64 << 10;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kLockedMemoryLimit));
  BOOST_TEST(Contains(ExplainBackend(f), "locked-memory limit (64 KiB"));
  f.probe_result = 0;
  f.features = io::kUringAllFeatures;
  BOOST_TEST((ClassifyUring(f) == UringVerdict::kUsable));
  BOOST_TEST(Contains(ExplainBackend(f), "ring features: SUBMIT_ALL CQE_SKIP ASYNC_CANCEL; missing: none"));
  f.env_override = "threadpool";
  BOOST_TEST(ExplainBackend(f).starts_with("backend: threadpool (CORODB_IO_BACKEND=threadpool)\n"));
}

// The binary under a seccomp filter that refuses io_uring_setup, as
// Docker's default profile does.
BOOST_AUTO_TEST_CASE(BackendUnderSeccompSaysRefusedBySeccomp) {
  const Outcome o = Binary({"backend"}, WITHOUT_URING_PATH);
  BOOST_CHECK_MESSAGE(o.code == 0, o);
  const BackendFacts here = GatherBackendFacts();
  const bool sysctl_off = here.io_uring_disabled.value_or(0) == 2 ||
                          (here.io_uring_disabled.value_or(0) == 1 && !here.privileged_for_io_uring);
  BOOST_CHECK_MESSAGE(Contains(o.out, sysctl_off ? "io_uring: disabled by kernel.io_uring_disabled"
                                        : "io_uring: refused by seccomp (io_uring_setup: Operation not permitted)"),
             o);
  BOOST_CHECK_MESSAGE(Contains(o.out, "seccomp: filter\n"), o);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::cli
