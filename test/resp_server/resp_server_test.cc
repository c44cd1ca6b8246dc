// End to end: the corodb-resp-server binary, started on a free loopback port
// (--port=0; it prints the port it bound), driven by a minimal RESP client
// (below) and, where it is installed, by redis-cli. Every test starts its own
// server on its own temporary database and stops it with SIGTERM, checking
// that it exits cleanly (0) — under the sanitizer presets that also checks
// the server for leaks and races.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "resp_parser.h"
#include "support/temp_dir.h"

namespace corodb::resp {
namespace {

using Args = std::vector<std::string>;

// How long a test waits for one event (the server's start, a reply) before
// it fails — a deadline against hangs, never a way to synchronize.
constexpr int kDeadlineMs = 120000;

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// A server process. The destructor SIGKILLs one still running.
class ServerProcess {
 public:
  ServerProcess(const std::string& db, const Args& flags) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(Errno("pipe"));
    Args args = {CORODB_RESP_SERVER, "--port=0", "--db=" + db};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(Errno("fork"));
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
    // The first stdout line: "corodb-resp-server: listening on 127.0.0.1:PORT (...)".
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, kDeadlineMs) != 1)
        throw std::runtime_error("the server did not start in time");
      char buf[256];
      const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
      if (n <= 0) throw std::runtime_error("the server exited before listening: " + line);
      line.append(buf, static_cast<size_t>(n));
    }
    const size_t at = line.find("listening on ");
    const size_t colon = line.find(':', at == std::string::npos ? 0 : at + 13);
    if (at == std::string::npos || colon == std::string::npos)
      throw std::runtime_error("odd first line: " + line);
    port_ = static_cast<uint16_t>(std::atoi(line.c_str() + colon + 1));
  }
  ~ServerProcess() {
    if (pid_ > 0) Kill();
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }

  // Sends `sig` and waits for the exit; the exit code, or 128 + the signal
  // that killed it, or -1 when it did not exit within the deadline (then it
  // is killed).
  int Stop(int sig = SIGTERM) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    ::kill(pid_, sig);
    bool exited = true;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      exited = ::poll(&p, 1, kDeadlineMs) == 1;
      ::close(pidfd);
    }
    if (!exited) ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (!exited) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Kill() { (void)Stop(SIGKILL); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
};

// A blocking RESP client. Failures throw (usable from helper threads).
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(Errno("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error(Errno("connect"));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  static std::string Encode(const Args& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args)
      out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
  }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(Errno("send"));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // The next reply; throws on EOF, error or timeout.
  Reply Read() {
    Reply r;
    if (!TryRead(&r)) throw std::runtime_error("connection closed before a reply");
    return r;
  }

  // The next reply, or false at EOF (or a reset).
  bool TryRead(Reply* r) {
    while (true) {
      size_t used = 0;
      const ReplyParse res = ParseReply(buffer_, r, &used, 16);
      if (res == ReplyParse::kComplete) {
        buffer_.erase(0, used);
        return true;
      }
      if (res == ReplyParse::kError)
        throw std::runtime_error("malformed reply: " + buffer_.substr(0, 64));
      if (ReadMore() == 0) return false;
    }
  }

  // Reads until EOF or reset; returns the bytes received (buffered ones included).
  size_t Drain() {
    size_t total = buffer_.size();
    buffer_.clear();
    while (size_t n = ReadMore()) {
      total += n;
      buffer_.clear();
    }
    return total;
  }

  Reply Call(const Args& args) {
    Send(Encode(args));
    return Read();
  }

  int fd() const { return fd_; }

 private:
  size_t ReadMore() {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, kDeadlineMs);
    if (ready == 0) throw std::runtime_error("no reply within the deadline");
    char buf[65536];
    ssize_t n;
    do {
      n = ::recv(fd_, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ECONNRESET) return 0;
    if (n < 0) throw std::runtime_error(Errno("recv"));
    buffer_.append(buf, static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }

  int fd_ = -1;
  std::string buffer_;
};

// Reply shorthands for assertions.
std::string Show(const Reply& r) {
  switch (r.type) {
    case Reply::Type::kSimpleString:
      return "+" + r.text;
    case Reply::Type::kError:
      return "-" + r.text;
    case Reply::Type::kInteger:
      return ":" + std::to_string(r.integer);
    case Reply::Type::kBulkString:
      return "$" + r.text;
    case Reply::Type::kNullBulk:
      return "$nil";
    case Reply::Type::kNullArray:
      return "*nil";
    case Reply::Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < r.elements.size(); ++i)
        out += (i ? " " : "") + Show(r.elements[i]);
      return out + "]";
    }
  }
  return "?";
}

// --- redis-cli, where installed ---

std::string FindRedisCli() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/redis-cli";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

boost::test_tools::assertion_result RedisCliInstalled(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result result(!FindRedisCli().empty());
  result.message() << "redis-cli is not installed (Debian: apt-get install redis-tools); "
                      "the minimal client's tests cover the same commands";
  return result;
}

// Runs redis-cli with `args` (each single-quoted for the shell) and `input`
// on stdin; returns its stdout.
std::string RedisCli(uint16_t port, const Args& args, const std::string& input = "") {
  std::string cmd = "'" + FindRedisCli() + "' -h 127.0.0.1 -p " + std::to_string(port);
  for (const auto& a : args) cmd += " '" + a + "'";
  if (!input.empty()) cmd = "printf '%s' '" + input + "' | " + cmd;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error(Errno("popen"));
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), f)) out.append(buf, n);
  ::pclose(f);  // its exit code differs between versions for error replies
  return out;
}

BOOST_AUTO_TEST_SUITE(RespServerTest)

BOOST_AUTO_TEST_CASE(CommandsAnswerAsRedisDoes) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {});
  Client c(server.port());
  BOOST_TEST(Show(c.Call({"PING"})) == "+PONG");
  BOOST_TEST(Show(c.Call({"ping", "hi"})) == "$hi");
  BOOST_TEST(Show(c.Call({"ECHO", std::string("a\r\n\0b", 5)})) ==
             "$" + std::string("a\r\n\0b", 5));
  BOOST_TEST(Show(c.Call({"GET", "missing"})) == "$nil");
  BOOST_TEST(Show(c.Call({"SET", "k", "v1"})) == "+OK");
  BOOST_TEST(Show(c.Call({"get", "k"})) == "$v1");
  BOOST_TEST(Show(c.Call({"SET", "k", "v2", "NX"})) == "$nil");
  BOOST_TEST(Show(c.Call({"SET", "k", "v3", "xx"})) == "+OK");
  BOOST_TEST(Show(c.Call({"SET", "new", "n", "XX"})) == "$nil");
  BOOST_TEST(Show(c.Call({"SET", "new", "n", "NX"})) == "+OK");
  BOOST_TEST(Show(c.Call({"GET", "k"})) == "$v3");
  BOOST_TEST(Show(c.Call({"SET", "k", "v", "EX", "10"})).rfind("-ERR syntax error", 0) ==
             0);
  BOOST_TEST(Show(c.Call({"SET", "k", "v", "NX", "XX"})) == "-ERR syntax error");
  BOOST_TEST(Show(c.Call({"MSET", "a", "1", "b", "2", "c", "3"})) == "+OK");
  BOOST_TEST(Show(c.Call({"MSET", "a", "1", "b"})) ==
             "-ERR wrong number of arguments for 'mset' command");
  BOOST_TEST(Show(c.Call({"MGET", "a", "nope", "c"})) == "[$1 $nil $3]");
  BOOST_TEST(Show(c.Call({"EXISTS", "a", "a", "nope"})) == ":2");
  BOOST_TEST(Show(c.Call({"DEL", "a", "b", "b", "nope"})) == ":2");
  BOOST_TEST(Show(c.Call({"MGET", "a", "b", "c"})) == "[$nil $nil $3]");
  BOOST_TEST(Show(c.Call({"INCR", "n1"})) == ":1");
  BOOST_TEST(Show(c.Call({"INCRBY", "n1", "41"})) == ":42");
  BOOST_TEST(Show(c.Call({"DECRBY", "n1", "50"})) == ":-8");
  BOOST_TEST(Show(c.Call({"DECR", "n1"})) == ":-9");
  BOOST_TEST(Show(c.Call({"INCR", "k"})) ==
             "-ERR value is not an integer or out of range");
  BOOST_TEST(Show(c.Call({"INCRBY", "n1", "x"})) ==
             "-ERR value is not an integer or out of range");
  BOOST_TEST(Show(c.Call({"SET", "big", "9223372036854775807"})) == "+OK");
  BOOST_TEST(Show(c.Call({"INCR", "big"})) ==
             "-ERR increment or decrement would overflow");
  BOOST_TEST(Show(c.Call({"GET", "big"})) == "$9223372036854775807");
  BOOST_TEST(Show(c.Call({"NOPE", "x"})) ==
             "-ERR unknown command 'NOPE', with args beginning with: 'x' ");
  BOOST_TEST(Show(c.Call({"GET"})) == "-ERR wrong number of arguments for 'get' command");
  BOOST_TEST(Show(c.Call({"DBSIZE"})) == ":5");  // k, new, c, n1, big
  const Reply info = c.Call({"INFO"});
  BOOST_TEST(info.text.find("# Corodb\r\n") != std::string::npos);
  BOOST_TEST(info.text.find("\r\nwrites:") != std::string::npos);
  BOOST_TEST(info.text.find("connected_clients:1\r\n") != std::string::npos);
  BOOST_TEST(c.Call({"INFO", "clients"}).text.find("# Corodb") == std::string::npos);
  const Reply count = c.Call({"COMMAND", "COUNT"});
  BOOST_TEST(count.integer >= 17);
  BOOST_TEST(c.Call({"COMMAND"}).elements.size() == static_cast<size_t>(count.integer));
  BOOST_TEST(Show(c.Call({"COMMAND", "INFO", "get", "nope"})) ==
             "[[$get :2 [+fast] :1 :1 :1 [] [] [] []] *nil]");
  BOOST_TEST(Show(c.Call({"CONFIG", "GET", "appendonly"})) == "[$appendonly $no]");
  BOOST_TEST(Show(c.Call({"QUIT"})) == "+OK");
  Reply r;
  BOOST_TEST(!c.TryRead(&r));  // closed after QUIT
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(PipelinedCommandsAreAnsweredInOrder) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {});
  Client c(server.port());
  constexpr int kRounds = 1500;
  std::string pipeline;
  for (int i = 0; i < kRounds; ++i) {
    const std::string key = "p" + std::to_string(i);
    pipeline += Client::Encode({"SET", key, "v" + std::to_string(i)});
    pipeline += Client::Encode({"GET", key});
    pipeline += Client::Encode({"INCR", "ctr"});
    pipeline += i % 2 ? "PING\r\n"
                      : Client::Encode({"MSET", key, "w" + std::to_string(i), "x", "y"});
  }
  c.Send(pipeline);  // ~100 KB: the server gets it in several reads
  for (int i = 0; i < kRounds; ++i) {
    BOOST_REQUIRE_EQUAL(Show(c.Read()), "+OK");
    BOOST_REQUIRE_EQUAL(Show(c.Read()), "$v" + std::to_string(i));
    BOOST_REQUIRE_EQUAL(Show(c.Read()), ":" + std::to_string(i + 1));
    BOOST_REQUIRE_EQUAL(Show(c.Read()), i % 2 ? "+PONG" : "+OK");
  }
  BOOST_TEST(Show(c.Call({"GET", "p0"})) == "$w0");
  BOOST_TEST(Show(c.Call({"GET", "p1"})) == "$v1");
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(AMalformedFrameGetsAnErrorAndTheConnectionCloses) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {});
  {
    Client c(server.port());
    c.Send("PING\r\n*2\r\n$3\r\nGET\r\n$x\r\nPING\r\n");
    BOOST_TEST(Show(c.Read()) == "+PONG");
    BOOST_TEST(Show(c.Read()) == "-ERR Protocol error: invalid bulk length");
    Reply r;
    BOOST_TEST(!c.TryRead(&r));
  }
  {
    Client c(server.port());
    c.Send(std::string("\x00\xff*garbage\r\n",
                       12));  // an inline line of garbage: unknown command
    BOOST_TEST(Show(c.Read()).rfind("-ERR unknown command", 0) == 0);
    BOOST_TEST(Show(c.Call({"PING"})) == "+PONG");  // still open
  }
  Client c(server.port());
  BOOST_TEST(c.Call({"INFO", "stats"}).text.find("protocol_errors:1\r\n") !=
             std::string::npos);
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(RandomBytesNeverCrashTheServer) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--max_bulk=4k", "--max_args=64"});
  std::mt19937 rng(20261130);
  // Mutations of real requests (more likely to get past the first byte),
  // and plain noise; each on a connection of its own, half-closed after.
  const std::vector<std::string> seeds = {
      Client::Encode({"SET", "k", "v"}), Client::Encode({"MGET", "k", "x", "y"}),
      Client::Encode({"SCAN", "0", "MATCH", "[a-", "COUNT", "5"}),
      Client::Encode({"INCRBY", "n", "-9"}), "PING a b\r\n"};
  for (int round = 0; round < 200; ++round) {
    std::string bytes = seeds[rng() % seeds.size()];
    if (round % 4 == 3) bytes.clear();
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t at = bytes.empty() ? 0 : rng() % bytes.size();
      const char byte = static_cast<char>(rng() % 256);
      switch (rng() % 3) {
        case 0:
          bytes.insert(at, 1, byte);
          break;
        case 1:
          if (!bytes.empty()) bytes[at] = byte;
          break;
        default:
          if (!bytes.empty()) bytes.erase(at, 1);
      }
    }
    Client c(server.port());
    c.Send(bytes);
    ::shutdown(c.fd(), SHUT_WR);
    c.Drain();  // whatever it answers, until it closes
  }
  Client c(server.port());
  BOOST_TEST(Show(c.Call({"PING"})) == "+PONG");
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(OversizeRequestsAreRefusedBeforeTheirBytesArrive) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--max_bulk=1k", "--max_args=8"});
  {
    Client c(server.port());
    c.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n");  // the 1025 bytes are never sent
    BOOST_TEST(Show(c.Read()) ==
               "-ERR Protocol error: bulk string of 1025 bytes, over the limit of 1024 "
               "(--max_bulk)");
    Reply r;
    BOOST_TEST(!c.TryRead(&r));
  }
  {
    Client c(server.port());
    c.Send("*9\r\n");
    BOOST_TEST(Show(c.Read()) ==
               "-ERR Protocol error: 9 arguments, over the limit of 8 (--max_args)");
    Reply r;
    BOOST_TEST(!c.TryRead(&r));
  }
  Client c(server.port());
  BOOST_TEST(Show(c.Call({"SET", "k", std::string(1024, 'x')})) ==
             "+OK");  // at the limit
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(AClientThatStopsReadingIsDisconnected) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--max_reply=1m"});
  Client c(server.port());
  const std::string value(64 * 1024, 'v');
  BOOST_TEST(Show(c.Call({"SET", "big", value})) == "+OK");
  std::string pipeline;
  constexpr int kGets = 2000;  // 128 MiB of replies if all were sent
  for (int i = 0; i < kGets; ++i) pipeline += "GET big\r\n";
  c.Send(pipeline);  // and read nothing until the server gives up
  const size_t received = c.Drain();
  BOOST_TEST(received < size_t{kGets} * value.size() / 4);
  Client other(server.port());
  BOOST_TEST(other.Call({"INFO", "stats"}).text.find("reply_limit_disconnects:1\r\n") !=
             std::string::npos);
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(ScanReturnsEveryKeyPresentThroughoutWhileWritesGoOn) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {});
  Client scanner(server.port());
  Client writer(server.port());
  constexpr int kStable = 1000;
  auto stable = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "stable:%05d", i);
    return std::string(buf);
  };
  for (int i = 0; i < kStable; i += 100) {
    Args mset = {"MSET"};
    for (int j = i; j < i + 100; ++j) {
      mset.push_back(stable(j));
      mset.push_back("s");
    }
    BOOST_REQUIRE_EQUAL(Show(writer.Call(mset)), "+OK");
  }
  // Keys that come and go between the stable ones, before and after the cursor.
  std::set<std::string> churn_live;
  int churn_next = 0;
  std::multiset<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    const Reply r = scanner.Call({"SCAN", cursor, "COUNT", "37"});
    BOOST_REQUIRE_EQUAL(r.elements.size(), 2u);
    cursor = r.elements[0].text;
    for (const auto& k : r.elements[1].elements) seen.insert(k.text);
    ++calls;
    // Writes between two calls: new keys all over the key space, deletions
    // of earlier ones, and (once) enough bytes to flush the memtable to a
    // table, so the scan continues across a flush.
    for (int j = 0; j < 5; ++j) {
      const std::string key =
          stable((churn_next * 7919) % kStable) + ":churn" + std::to_string(churn_next);
      ++churn_next;
      BOOST_REQUIRE_EQUAL(Show(writer.Call({"SET", key, "c"})), "+OK");
      churn_live.insert(key);
    }
    while (churn_live.size() > 20) {
      auto victim = churn_live.begin();
      std::advance(victim, churn_next % churn_live.size());
      BOOST_REQUIRE_EQUAL(Show(writer.Call({"DEL", *victim})), ":1");
      churn_live.erase(victim);
    }
    if (calls == 10) {
      Args mset = {"MSET"};
      for (int j = 0; j < 6; ++j) {
        mset.push_back("zz-filler" + std::to_string(j));
        mset.push_back(std::string(1 << 20, 'f'));
      }
      BOOST_REQUIRE_EQUAL(Show(writer.Call(mset)), "+OK");
    }
  } while (cursor != "0" && calls < 10000);
  BOOST_TEST(cursor == "0");
  BOOST_TEST(calls > 20);
  for (int i = 0; i < kStable; ++i) {
    BOOST_TEST(seen.count(stable(i)) == 1u,
               stable(i) << " returned " << seen.count(stable(i)) << " times");
  }
  BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()).size() ==
             seen.size());  // no key twice

  // MATCH filters; a full scan with it still finds all matching keys.
  std::set<std::string> matched;
  cursor = "0";
  do {
    const Reply r =
        scanner.Call({"SCAN", cursor, "MATCH", "stable:0001?", "COUNT", "100"});
    cursor = r.elements[0].text;
    for (const auto& k : r.elements[1].elements) matched.insert(k.text);
  } while (cursor != "0");
  BOOST_TEST(matched.size() == 10u);
  BOOST_TEST(*matched.begin() == "stable:00010");
  BOOST_TEST(Show(scanner.Call({"SCAN", "12345"})) == "-ERR invalid cursor");
  BOOST_TEST(Show(scanner.Call({"SCAN", "0", "COUNT", "0"})) == "-ERR syntax error");
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(IncrFromManyClientsCountsEveryIncrementOnce) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--threads=2", "--sync=always"});
  constexpr int kClients = 8, kIncrs = 200, kPipeline = 10;
  std::vector<std::vector<int64_t>> results(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::string> nx(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      try {
        Client c(server.port());
        for (int i = 0; i < kIncrs; i += kPipeline) {
          std::string batch;
          for (int j = 0; j < kPipeline; ++j)
            batch += Client::Encode({"INCR", "counter"});
          c.Send(batch);
          for (int j = 0; j < kPipeline; ++j) {
            const Reply r = c.Read();
            if (r.type != Reply::Type::kInteger)
              throw std::runtime_error("INCR: " + Show(r));
            results[t].push_back(r.integer);
          }
        }
        nx[t] = Show(c.Call({"SET", "lock", "owner" + std::to_string(t), "NX"}));
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) BOOST_TEST(e == "");
  std::vector<int64_t> all;
  for (const auto& r : results) {
    BOOST_TEST(std::is_sorted(r.begin(), r.end()));  // one client's INCRs in order
    all.insert(all.end(), r.begin(), r.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(kClients * kIncrs);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i + 1);
  BOOST_TEST((all == expected));  // every value 1..N handed out exactly once
  Client c(server.port());
  BOOST_TEST(Show(c.Call({"GET", "counter"})) == "$" + std::to_string(kClients * kIncrs));
  BOOST_TEST(std::count(nx.begin(), nx.end(), "+OK") == 1);  // one SET NX won
  BOOST_TEST(std::count(nx.begin(), nx.end(), "$nil") == kClients - 1);
  BOOST_TEST(server.Stop() == 0);
}

// A SET of a counter that clients keep INCRementing (pipelined, two server
// threads, sync writes: INCR batches are always in flight) is ordered with
// them: no INCR overwrites it with a value computed before it, and every
// INCR sent after the SET was acknowledged counts from it. In a linearizable
// history the INCRs before the SET answer 1..a, those after it
// kBase+1..kBase+b, and the final value is kBase+b.
BOOST_AUTO_TEST_CASE(ASetAmongConcurrentIncrsIsNeverOverwritten) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--threads=2", "--sync=always"});
  constexpr int kClients = 6, kIncrs = 300, kPipeline = 10;
  constexpr int64_t kBase = 1000000;
  std::mutex mu;
  std::condition_variable cv;
  int acknowledged = 0;   // INCRs answered so far; GUARDED_BY(mu)
  bool set_done = false;  // the SET was acknowledged; GUARDED_BY(mu)
  std::vector<std::vector<int64_t>> results(kClients), after_set(kClients);
  std::vector<std::string> errors(kClients + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      try {
        Client c(server.port());
        for (int i = 0; i < kIncrs; i += kPipeline) {
          bool sent_after_set;
          {
            std::lock_guard<std::mutex> lock(mu);
            sent_after_set = set_done;
          }
          std::string batch;
          for (int j = 0; j < kPipeline; ++j)
            batch += Client::Encode({"INCR", "counter"});
          c.Send(batch);
          for (int j = 0; j < kPipeline; ++j) {
            const Reply r = c.Read();
            if (r.type != Reply::Type::kInteger)
              throw std::runtime_error("INCR: " + Show(r));
            results[t].push_back(r.integer);
            if (sent_after_set) after_set[t].push_back(r.integer);
          }
          std::lock_guard<std::mutex> lock(mu);
          acknowledged += kPipeline;
          cv.notify_all();
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  // The SET, once a third of the INCRs are answered (the rest are running).
  threads.emplace_back([&] {
    try {
      Client c(server.port());
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return acknowledged >= kClients * kIncrs / 3; });
      }
      const std::string reply = Show(c.Call({"SET", "counter", std::to_string(kBase)}));
      if (reply != "+OK") throw std::runtime_error("SET: " + reply);
      std::lock_guard<std::mutex> lock(mu);
      set_done = true;
    } catch (const std::exception& e) {
      errors[kClients] = e.what();
    }
  });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) BOOST_TEST(e == "");

  std::vector<int64_t> before, after;
  for (const auto& r : results) {
    for (int64_t v : r) (v > kBase ? after : before).push_back(v);
  }
  for (const auto& r : after_set) {
    for (int64_t v : r) BOOST_TEST(v > kBase);  // sent after the SET: counts from it
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::vector<int64_t> expected_before(before.size()), expected_after(after.size());
  for (size_t i = 0; i < before.size(); ++i)
    expected_before[i] = static_cast<int64_t>(i + 1);
  for (size_t i = 0; i < after.size(); ++i)
    expected_after[i] = kBase + static_cast<int64_t>(i + 1);
  BOOST_TEST((before == expected_before));
  BOOST_TEST((after == expected_after));
  Client c(server.port());
  BOOST_TEST(Show(c.Call({"GET", "counter"})) ==
             "$" + std::to_string(kBase + static_cast<int64_t>(after.size())));
  BOOST_TEST(server.Stop() == 0);
}

// The engine's write count from INFO's corodb section.
int64_t EngineWrites(Client& c) {
  const std::string info = c.Call({"INFO", "corodb"}).text;
  const size_t at = info.find("\r\nwrites:");
  if (at == std::string::npos) throw std::runtime_error("no writes: line in INFO corodb");
  return std::atoll(info.c_str() + at + 9);
}

BOOST_AUTO_TEST_CASE(PipelinedWritesShareOneEngineWrite) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--sync=always"});
  Client c(server.port());
  constexpr int kPipeline = 50;
  // INCRs of one key: the first is written alone (its sync write suspends),
  // the 49 queued behind it meanwhile share the next write.
  int64_t before = EngineWrites(c);
  std::string pipeline;
  for (int i = 0; i < kPipeline; ++i) pipeline += Client::Encode({"INCR", "hits"});
  c.Send(pipeline);
  for (int i = 1; i <= kPipeline; ++i)
    BOOST_REQUIRE_EQUAL(Show(c.Read()), ":" + std::to_string(i));
  BOOST_TEST(EngineWrites(c) - before <= 3);
  // Plain SETs: one WriteBatch.
  before = EngineWrites(c);
  pipeline.clear();
  for (int i = 0; i < kPipeline; ++i)
    pipeline += Client::Encode({"SET", "k" + std::to_string(i), "v"});
  c.Send(pipeline);
  for (int i = 0; i < kPipeline; ++i) BOOST_REQUIRE_EQUAL(Show(c.Read()), "+OK");
  BOOST_TEST(EngineWrites(c) - before == 1);
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(AcknowledgedSetsSurviveSigkill) {
  test::TempDir dir("resp");
  const std::string db = dir.Child("db");
  constexpr int kWriters = 4, kPipeline = 8;
  constexpr size_t kKillAfter = 600;
  std::mutex mu;
  std::condition_variable enough;  // signalled once kKillAfter SETs are acknowledged
  std::map<std::string, std::string> acknowledged;
  {
    ServerProcess server(db, {"--threads=2", "--sync=always"});
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
      threads.emplace_back([&, t] {
        try {
          Client c(server.port());
          for (int i = 0;; i += kPipeline) {
            std::string batch;
            for (int j = i; j < i + kPipeline; ++j) {
              batch += Client::Encode({"SET",
                                       "w" + std::to_string(t) + ":" + std::to_string(j),
                                       "value-" + std::to_string(j)});
            }
            c.Send(batch);
            for (int j = i; j < i + kPipeline; ++j) {
              const Reply r = c.Read();
              if (Show(r) != "+OK") return;
              std::lock_guard<std::mutex> lock(mu);
              acknowledged["w" + std::to_string(t) + ":" + std::to_string(j)] =
                  "value-" + std::to_string(j);
              if (acknowledged.size() == kKillAfter) enough.notify_all();
            }
          }
        } catch (const std::exception&) {
          // The kill ends every writer with an error.
        }
      });
    }
    // Kill while the writers are still writing: once enough were acknowledged.
    bool reached = false;
    {
      std::unique_lock<std::mutex> lock(mu);
      reached = enough.wait_for(lock, std::chrono::milliseconds(kDeadlineMs),
                                [&] { return acknowledged.size() >= kKillAfter; });
    }
    server.Kill();
    for (auto& th : threads) th.join();
    BOOST_REQUIRE(reached);
  }
  BOOST_TEST_MESSAGE(acknowledged.size() << " SETs acknowledged before the kill");
  ServerProcess server(db, {});
  Client c(server.port());
  size_t missing = 0;
  for (const auto& [key, value] : acknowledged) {
    if (Show(c.Call({"GET", key})) != "$" + value) ++missing;
  }
  BOOST_TEST(missing == 0u);
  BOOST_TEST(acknowledged.size() >= kKillAfter);
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(SigtermFinishesRunningCommandsAndClosesTheDatabase) {
  test::TempDir dir("resp");
  const std::string db = dir.Child("db");
  std::vector<std::string> acked;
  {
    ServerProcess server(db, {});
    Client idle(server.port());  // an idle client does not hold the shutdown
    BOOST_TEST(Show(idle.Call({"PING"})) == "+PONG");
    Client c(server.port());
    std::string pipeline;
    for (int i = 0; i < 2000; ++i)
      pipeline += Client::Encode({"SET", "t" + std::to_string(i), "v"});
    c.Send(pipeline);
    BOOST_TEST(Show(c.Read()) == "+OK");  // the server is running the pipeline
    acked.push_back("t0");
    BOOST_TEST(server.Stop(SIGTERM) == 0);
    Reply r;
    for (int i = 1; c.TryRead(&r); ++i) {
      BOOST_REQUIRE_EQUAL(Show(r), "+OK");
      acked.push_back("t" + std::to_string(i));
    }
  }
  ServerProcess server(db, {});
  Client c(server.port());
  for (const auto& key : acked) BOOST_REQUIRE_EQUAL(Show(c.Call({"GET", key})), "$v");
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(RedisCliDrivesTheServer,
                     *boost::unit_test::precondition(RedisCliInstalled)) {
  test::TempDir dir("resp");
  ServerProcess server(dir.Child("db"), {"--threads=2"});
  const uint16_t port = server.port();
  BOOST_TEST(RedisCli(port, {"PING"}) == "PONG\n");
  BOOST_TEST(RedisCli(port, {"SET", "greeting", "hello world"}) == "OK\n");
  BOOST_TEST(RedisCli(port, {"GET", "greeting"}) == "hello world\n");
  BOOST_TEST(RedisCli(port, {"MSET", "k1", "a", "k2", "b", "k3", "c", "j1", "d"}) ==
             "OK\n");
  BOOST_TEST(RedisCli(port, {"INCR", "visits"}) == "1\n");
  BOOST_TEST(RedisCli(port, {"DBSIZE"}) == "6\n");
  BOOST_TEST(RedisCli(port, {"--scan", "--pattern", "k*"}) == "k1\nk2\nk3\n");
  BOOST_TEST(RedisCli(port, {"INFO", "corodb"}).find("io_backend:") != std::string::npos);
  BOOST_TEST(RedisCli(port, {"NOPE"}).find("ERR unknown command 'NOPE'") !=
             std::string::npos);
  // Commands from stdin, one per line: redis-cli sends them and prints each reply.
  BOOST_TEST(RedisCli(port, {}, "SET a 1\nINCRBY a 9\nGET a\n") == "OK\n10\n10\n");
  BOOST_TEST(server.Stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::resp
