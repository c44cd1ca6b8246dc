#include "server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "commands.h"
#include "corodb/db.h"
#include "corodb/filter_policy.h"

namespace corodb::resp {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

class Connection;

// One io_context, run by one thread, and the connections living on it.
struct Worker {
  std::unordered_set<Connection*> connections;  // touched only on ctx's thread
  bool stopping = false;                        // touched only on ctx's thread
  asio::io_context ctx{1};
  // Keeps ctx.run() going while no connection is open; dropped at shutdown.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{
      ctx.get_executor()};
};

// What every connection shares.
struct Shared {
  const ServerConfig& config;
  ServerStats& stats;
  Commands& commands;
};

// Invariants: both coroutines of a connection run on its worker's context;
// `out_` holds replies not yet handed to the socket, `sending_` the ones
// being written; the writer ends once `closing_` is set and `out_` is empty.
class Connection {
 public:
  Connection(tcp::socket socket, Worker& worker, Shared& shared)
      : socket_(std::move(socket)),
        worker_(worker),
        shared_(shared),
        wake_(socket_.get_executor()) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    worker_.connections.insert(this);
    shared_.stats.connected_clients.fetch_add(1);
    shared_.stats.total_connections.fetch_add(1);
  }
  ~Connection() {
    worker_.connections.erase(this);
    shared_.stats.connected_clients.fetch_sub(1);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Graceful stop: no more reading; running commands finish, replies go out.
  void Stop() {
    stopping_ = true;
    read_cancel_.emit(asio::cancellation_type::terminal);
  }

  static asio::awaitable<void> ReadLoop(std::shared_ptr<Connection> self);
  static asio::awaitable<void> WriteLoop(std::shared_ptr<Connection> self);

 private:
  size_t PendingReplyBytes() const { return out_.size() + sending_.size(); }
  void WakeWriter() { wake_.cancel(); }
  // Closes the socket now, dropping unsent replies.
  void Abort() {
    aborted_ = closing_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    WakeWriter();
  }

  tcp::socket socket_;
  Worker& worker_;
  Shared& shared_;
  asio::steady_timer wake_;  // the writer waits on it; cancel() wakes it
  asio::cancellation_signal read_cancel_;
  std::string out_;
  std::string sending_;
  bool stopping_ = false;
  bool closing_ = false;
  bool aborted_ = false;
};

asio::awaitable<void> Connection::ReadLoop(std::shared_ptr<Connection> self) {
  const ServerConfig& config = self->shared_.config;
  RequestParser parser(config.limits);
  std::vector<char> buffer(kReadBufferBytes);
  std::vector<Command> batch;
  const std::function<bool()> over_limit = [c = self.get(), &config] {
    return c->PendingReplyBytes() > config.max_reply;
  };
  while (!self->stopping_ && !self->aborted_) {
    auto [ec, n] = co_await self->socket_.async_read_some(
        asio::buffer(buffer),
        asio::bind_cancellation_slot(self->read_cancel_.slot(), kUseTuple));
    if (ec) break;  // EOF, reset, Stop() or Abort()
    std::string_view input(buffer.data(), n);
    bool failed = false;
    while (!input.empty()) {
      const RequestParser::Step step = parser.Feed(input);
      input.remove_prefix(step.consumed);
      if (step.event == RequestParser::Event::kCommand) {
        batch.push_back(parser.TakeCommand());
      } else if (step.event == RequestParser::Event::kError) {
        failed = true;
        break;
      }
    }
    const Commands::Outcome outcome =
        co_await self->shared_.commands.Run(batch, &self->out_, over_limit);
    batch.clear();
    if (self->aborted_) break;
    if (outcome == Commands::Outcome::kReplyLimit || over_limit()) {
      self->shared_.stats.reply_limit_disconnects.fetch_add(1);
      std::fprintf(
          stderr,
          "corodb-resp-server: closing a client whose unread replies passed %zu bytes\n",
          config.max_reply);
      self->Abort();
      break;
    }
    if (failed) {
      self->shared_.stats.protocol_errors.fetch_add(1);
      ReplyWriter(&self->out_).Error("ERR " + parser.error());
    }
    self->WakeWriter();
    if (failed || outcome == Commands::Outcome::kQuit) break;
  }
  self->closing_ = true;
  self->WakeWriter();
}

asio::awaitable<void> Connection::WriteLoop(std::shared_ptr<Connection> self) {
  while (!self->aborted_) {
    if (self->out_.empty()) {
      if (self->closing_) break;
      co_await self->wake_.async_wait(kUseTuple);  // cancelled by WakeWriter
      continue;
    }
    self->sending_.swap(self->out_);
    auto [ec, n] = co_await asio::async_write(self->socket_, asio::buffer(self->sending_),
                                              kUseTuple);
    self->sending_.clear();
    if (ec) {
      self->Abort();  // also stops the reader
      break;
    }
  }
  if (!self->aborted_) {
    boost::system::error_code ignored;
    self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
    self->socket_.close(ignored);
  }
}

// Reports an exception that escaped a connection or the acceptor (a bug:
// errors are values here) and goes on serving the others.
void ReportException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "corodb-resp-server: connection failed: %s\n", ex.what());
  }
}

asio::awaitable<void> Serve(tcp::socket socket, Worker& worker, Shared& shared) {
  if (worker.stopping) co_return;  // accepted while shutting down
  auto connection = std::make_shared<Connection>(std::move(socket), worker, shared);
  asio::co_spawn(worker.ctx, Connection::WriteLoop(connection), ReportException);
  co_await Connection::ReadLoop(std::move(connection));
}

asio::awaitable<void> AcceptLoop(tcp::acceptor& acceptor,
                                 std::vector<std::unique_ptr<Worker>>& workers,
                                 Shared& shared) {
  size_t next = 0;
  asio::steady_timer backoff(acceptor.get_executor());
  while (acceptor.is_open()) {
    Worker& worker = *workers[next++ % workers.size()];
    auto [ec, socket] = co_await acceptor.async_accept(worker.ctx, kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of descriptors or memory: say so and wait before trying again.
      std::fprintf(stderr, "corodb-resp-server: accept: %s\n", ec.message().c_str());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(worker.ctx, Serve(std::move(socket), worker, shared), ReportException);
  }
}

// Stops accepting and asks every connection to stop reading.
void Shutdown(tcp::acceptor& acceptor, std::vector<std::unique_ptr<Worker>>& workers) {
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (auto& w : workers) {
    asio::post(w->ctx, [worker = w.get()] {
      worker->stopping = true;
      for (Connection* c : worker->connections) c->Stop();
      worker->guard.reset();
    });
  }
}

}  // namespace

int RunServer(const ServerConfig& config) {
  ServerStats stats;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < config.threads; ++i) workers.push_back(std::make_unique<Worker>());
  asio::io_context& main_ctx = workers[0]->ctx;

  Options options;
  options.create_if_missing = true;
  options.io_backend = config.backend;
  options.filter_policy = NewBloomFilterPolicy(10);
  if (config.threads == 1) options.engine_context = &main_ctx;
  std::unique_ptr<DB> db;
  {
    auto opened =
        asio::co_spawn(main_ctx, DB::Open(options, config.db_path), asio::use_future);
    // The context is kept running by a work guard: run it until Open is done.
    while (opened.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      main_ctx.run_one();
    Result<std::unique_ptr<DB>> result = opened.get();
    if (!result.ok()) {
      std::fprintf(stderr, "corodb-resp-server: cannot open %s: %s\n",
                   config.db_path.c_str(), result.status().ToString().c_str());
      return 1;
    }
    db = std::move(*result);
  }

  tcp::acceptor acceptor(main_ctx);
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(config.bind, ec);
  tcp::endpoint bound;
  if (!ec) {
    const tcp::endpoint endpoint(address, config.port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) bound = acceptor.local_endpoint(ec);
  }
  int exit_code = 0;
  if (ec) {
    std::fprintf(stderr, "corodb-resp-server: cannot listen on %s:%u: %s\n",
                 config.bind.c_str(), static_cast<unsigned>(config.port),
                 ec.message().c_str());
    exit_code = 2;
  } else {
    CommandSettings settings;
    settings.sync = config.sync;
    settings.threads = config.threads;
    settings.port = bound.port();
    Commands commands(*db, settings, stats);
    Shared shared{config, stats, commands};

    asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& error, int) {
      if (!error) Shutdown(acceptor, workers);
    });
    asio::co_spawn(main_ctx, AcceptLoop(acceptor, workers, shared), ReportException);
    std::printf("corodb-resp-server: listening on %s:%u (threads=%d, sync=%s, db=%s)\n",
                bound.address().to_string().c_str(), static_cast<unsigned>(bound.port()),
                config.threads, config.sync ? "always" : "none", config.db_path.c_str());
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (size_t i = 1; i < workers.size(); ++i) {
      threads.emplace_back([w = workers[i].get()] { w->ctx.run(); });
    }
    main_ctx.run();
    for (auto& t : threads) t.join();
  }

  // Every connection is gone: close the DB on the first context.
  for (auto& w : workers) w->guard.reset();
  main_ctx.restart();
  auto closed = asio::co_spawn(main_ctx, db->Close(), asio::use_future);
  main_ctx.run();
  const Status s = closed.get();
  db.reset();
  if (!s.ok()) {
    std::fprintf(stderr, "corodb-resp-server: closing the DB: %s\n",
                 s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "corodb-resp-server: closed %s\n", config.db_path.c_str());
  return exit_code;
}

}  // namespace corodb::resp
