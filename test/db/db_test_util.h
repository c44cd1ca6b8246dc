// Helpers for DB behaviour tests: open/reopen on a chosen backend, run
// coroutines, read raw log files, engine statistics and test hooks.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/db.h"
#include "db/db_impl.h"
#include "io/fault_injection_backend.h"
#include "support/backends.h"
#include "support/run.h"

namespace corodb::test {

inline Options TestOptions(const std::string& backend) {
  Options o;
  o.create_if_missing = true;
  o.io_backend = BackendKindByName(backend);
  return o;
}

// Opens `dir` with `backend` (ignores CORODB_IO_BACKEND: the backend is built here).
inline Result<std::unique_ptr<DB>> TryOpen(const Options& options, const std::string& dir,
                                           std::shared_ptr<io::Backend> backend) {
  return Run(OpenDBWithBackend(options, dir, std::move(backend)));
}

inline std::unique_ptr<DB> OpenOrDie(const Options& options, const std::string& dir,
                                     const std::string& backend) {
  auto db = TryOpen(options, dir, MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  return std::move(db).value();
}

// Get as a string: the value, or "NOT_FOUND", or the error.
inline std::string GetOrStatus(DB& db, const std::string& key) {
  Result<std::string> r = Run(db.Get({}, key));
  if (r.ok()) return *r;
  if (r.status().IsNotFound()) return "NOT_FOUND";
  return r.status().ToString();
}

// Polls `done` every millisecond for up to `ms` ms: waits for an event
// that has no hook, it never decides by the clock.
template <typename Pred>
bool WaitFor(Pred done, int ms) {
  for (int i = 0; i < ms; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// Returns once a non-sync write commits as a group of one on this thread:
// the commit role was free, and this thread let go of it.
inline void UntilRoleIsFree(DB& db) {
  auto& impl = static_cast<DBImpl&>(db);
  WriteBatch b;
  b.Put("role-free", "x");
  while (!impl.TryWriteNow({}, b)) std::this_thread::yield();
}

// Opens `dir` as OpenDBWithBackend does, but with the background chain held
// (DBImpl::HoldBackgroundForTesting) before Open starts it: whatever Open
// leaves (level-0 tables of the recovered logs) stays until released.
inline std::unique_ptr<DBImpl> OpenHeldOrDie(const Options& options, const std::string& dir,
                                             const std::string& backend) {
  auto impl = std::make_unique<DBImpl>(options, dir, MakeBackendByName(backend));
  impl->HoldBackgroundForTesting(true);
  const Status s = Run(boost::asio::co_spawn(impl->engine_executor(), impl->OpenOnEngine(),
                                             boost::asio::use_awaitable));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return impl;
}

// Waits until no flush is pending and no compaction is needed; returns the
// background error.
inline Status WaitIdle(DB& db) {
  return Run(static_cast<DBImpl&>(db).WaitForBackgroundIdleForTesting());
}

inline int FilesAtLevel(DB& db, int level) {
  return static_cast<DBImpl&>(db).NumLevelFilesForTesting(level);
}

// One counter of the "corodb.stats" property ("name: value" lines).
inline uint64_t Stat(DB& db, const std::string& name) {
  std::string stats;
  BOOST_REQUIRE(db.GetProperty("corodb.stats", &stats));
  const std::string needle = name + ": ";
  for (size_t pos = stats.find(needle); pos != std::string::npos; pos = stats.find(needle, pos + 1)) {
    if (pos == 0 || stats[pos - 1] == '\n') return std::stoull(stats.substr(pos + needle.size()));
  }
  BOOST_FAIL("no \"" << name << "\" in corodb.stats:\n" << stats);
  return 0;
}

}  // namespace corodb::test
