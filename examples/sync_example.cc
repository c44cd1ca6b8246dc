// The README's blocking example: the same database through SyncDB.
#include <cstdio>

#include "corodb/sync_db.h"

int main(int argc, char** argv) {
  corodb::Options options;
  options.create_if_missing = true;
  auto db = corodb::SyncDB::Open(options, argc > 1 ? argv[1] : "/tmp/corodb-sync-example");
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    return 1;
  }
  corodb::WriteBatch batch;
  batch.Put("apple", "red");
  batch.Put("banana", "yellow");
  batch.Delete("cherry");
  corodb::Status s = (*db)->Write({.sync = true}, batch);
  corodb::Result<std::string> value = (*db)->Get({}, "banana");
  std::printf("write: %s, banana: %s\n", s.ToString().c_str(),
              value.ok() ? value->c_str() : value.status().ToString().c_str());
  return s.ok() && value.ok() ? 0 : 1;
}
