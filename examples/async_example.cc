// The README's co_await example: open, write, read, close — without blocking
// the event loop.
#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/db.h"

boost::asio::awaitable<void> Demo(std::string path) {
  corodb::Options options;
  options.create_if_missing = true;
  auto db = co_await corodb::DB::Open(options, path);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    co_return;
  }
  corodb::Status s = co_await (*db)->Put({.sync = true}, "hello", "world");
  corodb::Result<std::string> value = co_await (*db)->Get({}, "hello");
  std::printf("put: %s, get: %s\n", s.ToString().c_str(),
              value.ok() ? value->c_str() : value.status().ToString().c_str());

  // Iterators and snapshots.
  corodb::SnapshotHandle snap = (*db)->GetSnapshot();
  s = co_await (*db)->Put({}, "hello", "again");
  corodb::ReadOptions ro;
  ro.snapshot = snap.get();
  std::unique_ptr<corodb::Iterator> it = (*db)->NewIterator(ro);
  for (co_await it->Seek("a"); it->Valid() && it->key() < "i";) {
    std::printf("as of the snapshot: %.*s = %.*s\n", static_cast<int>(it->key().size()),
                it->key().data(), static_cast<int>(it->value().size()), it->value().data());
    if (!it->TryNext()) co_await it->Next();   // suspends only to read a block
  }
  it.reset();
  snap.reset();
  const corodb::Slice from = "a", to = "z";
  s = co_await (*db)->CompactRange(&from, &to);
  std::printf("compact: %s\n", s.ToString().c_str());
  s = co_await (*db)->Close();
}

int main(int argc, char** argv) {
  boost::asio::io_context ctx;
  boost::asio::co_spawn(ctx, Demo(argc > 1 ? argv[1] : "/tmp/corodb-example"),
                        boost::asio::detached);
  ctx.run();
}
