// corodb-resp-server: a Redis-protocol (RESP2) key-value server over corodb.
//
//   corodb-resp-server --db=DIR [--port=6379] [--bind=127.0.0.1] [--threads=1]
//                      [--sync=always|none] [--max_bulk=512m] [--max_args=1048576]
//                      [--max_query=1g] [--max_reply=1g]
//                      [--backend=auto|uring|threadpool]
//
// Sizes take a k, m or g suffix (powers of 1024). See server.h and
// commands.h for what it does; README.md for an example session.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server.h"

namespace {

void Usage(FILE* to) {
  std::fprintf(
      to,
      "usage: corodb-resp-server [--db=DIR] [--port=N] [--bind=ADDRESS] [--threads=N]\n"
      "         [--sync=always|none] [--max_bulk=SIZE] [--max_args=N] "
      "[--max_query=SIZE]\n"
      "         [--max_reply=SIZE] [--backend=auto|uring|threadpool]\n"
      "  --db         database directory, created if missing (default corodb-resp-db)\n"
      "  --port       TCP port; 0 picks a free one (default 6379)\n"
      "  --bind       address to listen on (default 127.0.0.1)\n"
      "  --threads    io_contexts, one thread each (default 1)\n"
      "  --sync       always: every write is fdatasync'ed before its reply (default "
      "none)\n"
      "  --max_bulk   longest bulk string a client may send (default 512m)\n"
      "  --max_args   most words in one command (default 1048576)\n"
      "  --max_query  most bulk bytes in one command (default 1g)\n"
      "  --max_reply  unsent reply bytes after which a client is disconnected (default "
      "1g)\n"
      "SIZE: a number of bytes with an optional k, m or g suffix.\n");
}

// A number with an optional k/m/g suffix; false on anything else.
bool ParseSize(std::string_view text, size_t* out) {
  if (text.empty()) return false;
  size_t multiplier = 1;
  const char last = text.back();
  if (last == 'k' || last == 'K') multiplier = size_t{1} << 10;
  if (last == 'm' || last == 'M') multiplier = size_t{1} << 20;
  if (last == 'g' || last == 'G') multiplier = size_t{1} << 30;
  if (multiplier != 1) text.remove_suffix(1);
  if (text.empty() || text.size() > 15) return false;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *out = value * multiplier;
  return true;
}

bool ParseFlag(std::string_view arg, corodb::resp::ServerConfig* config,
               std::string* error) {
  if (arg.substr(0, 2) != "--" || arg.find('=') == std::string_view::npos) {
    *error = "expected --name=value, got '" + std::string(arg) + "'";
    return false;
  }
  const size_t eq = arg.find('=');
  const std::string_view name = arg.substr(2, eq - 2);
  const std::string value(arg.substr(eq + 1));
  size_t n = 0;
  auto bad = [&](const char* what) {
    *error = "--" + std::string(name) + ": " + what + ", got '" + value + "'";
    return false;
  };
  if (name == "db") {
    if (value.empty()) return bad("a directory is required");
    config->db_path = value;
  } else if (name == "bind") {
    config->bind = value;
  } else if (name == "port") {
    if (!ParseSize(value, &n) || n > 65535 || value.back() > '9')
      return bad("a port number 0..65535");
    config->port = static_cast<uint16_t>(n);
  } else if (name == "threads") {
    if (!ParseSize(value, &n) || n < 1 || n > 256 || value.back() > '9')
      return bad("1..256");
    config->threads = static_cast<int>(n);
  } else if (name == "sync") {
    if (value != "always" && value != "none") return bad("always or none");
    config->sync = value == "always";
  } else if (name == "max_bulk") {
    if (!ParseSize(value, &n) || n == 0) return bad("a size above 0");
    config->limits.max_bulk = n;
  } else if (name == "max_args") {
    if (!ParseSize(value, &n) || n == 0) return bad("a count above 0");
    config->limits.max_args = n;
  } else if (name == "max_query") {
    if (!ParseSize(value, &n) || n == 0) return bad("a size above 0");
    config->limits.max_command_bytes = n;
  } else if (name == "max_reply") {
    if (!ParseSize(value, &n) || n == 0) return bad("a size above 0");
    config->max_reply = n;
  } else if (name == "backend") {
    if (value == "auto") {
      config->backend = corodb::IoBackendKind::kAuto;
    } else if (value == "uring") {
      config->backend = corodb::IoBackendKind::kUring;
    } else if (value == "threadpool") {
      config->backend = corodb::IoBackendKind::kThreadPool;
    } else {
      return bad("auto, uring or threadpool");
    }
  } else {
    *error = "unknown flag --" + std::string(name);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  corodb::resp::ServerConfig config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    }
    std::string error;
    if (!ParseFlag(arg, &config, &error)) {
      std::fprintf(stderr, "corodb-resp-server: %s\n", error.c_str());
      Usage(stderr);
      return 2;
    }
  }
  return corodb::resp::RunServer(config);
}
