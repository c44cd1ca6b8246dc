// Uses the installed public API only: opens a database in a temporary
// directory, writes and reads through both the co_await API and SyncDB.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "corodb/db.h"
#include "corodb/sync_db.h"

namespace {

boost::asio::awaitable<std::string> AsyncRoundTrip(std::string dir) {
  corodb::Options options;
  options.create_if_missing = true;
  auto db = co_await corodb::DB::Open(options, dir);
  if (!db.ok()) co_return "open: " + db.status().ToString();
  if (corodb::Status s = co_await (*db)->Put({.sync = true}, "k", "async"); !s.ok()) {
    co_return "put: " + s.ToString();
  }
  corodb::Result<std::string> v = co_await (*db)->Get({}, "k");
  if (!v.ok()) co_return "get: " + v.status().ToString();
  if (corodb::Status s = co_await (*db)->Close(); !s.ok()) co_return "close: " + s.ToString();
  co_return *v == "async" ? "" : "wrong value " + *v;
}

}  // namespace

int main() {
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path dir =
      std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / ("corodb-consumer-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);

  boost::asio::io_context ctx;
  auto result = boost::asio::co_spawn(ctx, AsyncRoundTrip(dir.string()), boost::asio::use_future);
  ctx.run();
  const std::string error = result.get();
  if (!error.empty()) {
    std::fprintf(stderr, "consumer (co_await): %s\n", error.c_str());
    return 1;
  }

  corodb::Options options;
  auto db = corodb::SyncDB::Open(options, dir.string());
  if (!db.ok()) {
    std::fprintf(stderr, "consumer (SyncDB open): %s\n", db.status().ToString().c_str());
    return 1;
  }
  corodb::Status s = (*db)->Put({}, "k2", "sync");
  corodb::Result<std::string> v1 = (*db)->Get({}, "k");
  corodb::Result<std::string> v2 = (*db)->Get({}, "k2");
  if (!s.ok() || !v1.ok() || *v1 != "async" || !v2.ok() || *v2 != "sync") {
    std::fprintf(stderr, "consumer (SyncDB): put %s, reads %s / %s\n", s.ToString().c_str(),
                 v1.ok() ? v1->c_str() : v1.status().ToString().c_str(),
                 v2.ok() ? v2->c_str() : v2.status().ToString().c_str());
    return 1;
  }
  s = (*db)->Close();
  db->reset();
  std::filesystem::remove_all(dir);
  std::printf("consumer: opened, wrote and read a database (%s)\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
