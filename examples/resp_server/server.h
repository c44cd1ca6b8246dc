// The RESP server: a TCP acceptor, one coroutine pair per connection, N
// io_contexts, one DB.
//
// Threads: `threads` io_contexts, each run by one thread (the first by the
// caller's). The acceptor lives on the first and hands connections to the
// contexts in turn; a connection stays on its context for life, so its
// coroutines never run concurrently with each other and its reads of the DB
// (and the io_uring ring they use on a miss) stay on that thread. With one
// thread the context is also the DB's engine executor
// (Options::engine_context); with more, the DB runs its own engine thread.
//
// A connection is two coroutines on its context: the reader reads what the
// client sent, parses every complete command in it (resp_parser.h), runs
// them in order (commands.h) and appends the replies to the output buffer;
// the writer sends that buffer whenever it holds bytes — so replies to a
// pipeline go out in batches, in order, while the reader goes on reading. A
// malformed request gets "-ERR Protocol error: ..." and the connection is
// closed once the replies before it are sent. When replies waiting to be
// sent pass `max_reply` bytes (a client that sends but does not read), the
// connection is closed at once.
//
// Shutdown (SIGINT or SIGTERM): the acceptor closes, every connection stops
// reading; commands already running finish and their replies are sent;
// then the DB is closed (Close(): queued writes finish, the log is synced
// or closed) and RunServer returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "corodb/options.h"
#include "resp_parser.h"

namespace corodb::resp {

struct ServerConfig {
  std::string bind = "127.0.0.1";
  uint16_t port = 6379;  // 0: any free port (the one bound is printed)
  std::string db_path = "corodb-resp-db";
  bool sync = false;  // --sync=always: every write is a sync write
  int threads = 1;
  Limits limits;
  size_t max_reply = size_t{1} << 30;  // bytes of replies waiting for a slow reader
  IoBackendKind backend = IoBackendKind::kAuto;
};

// Opens the DB, serves until SIGINT or SIGTERM, closes the DB. Prints
// "corodb-resp-server: listening on ADDRESS:PORT" on stdout (flushed) once
// it accepts connections. Returns the process exit code: 0 after a clean
// shutdown, 1 when the DB cannot be opened or closed, 2 when the address
// cannot be bound.
int RunServer(const ServerConfig& config);

}  // namespace corodb::resp
