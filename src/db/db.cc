// DB::Open, DestroyDB and the SyncDB facade.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "corodb/sync_db.h"
#include "db/db_impl.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "io/lock_file.h"

namespace corodb {
namespace asio = boost::asio;

asio::awaitable<Result<std::unique_ptr<DB>>> DB::Open(const Options& options,
                                                      const std::string& name) {
  co_return co_await OpenDBWithBackend(options, name, nullptr);
}

asio::awaitable<Result<std::unique_ptr<DB>>> OpenDBWithBackend(
    const Options& options, const std::string& name, std::shared_ptr<io::Backend> backend) {
  auto impl = std::make_unique<DBImpl>(options, name, std::move(backend));
  // Recovery runs on the engine executor: its ring and thread do the I/O.
  Status s = co_await asio::co_spawn(impl->engine_executor(), impl->OpenOnEngine(),
                                     asio::use_awaitable);
  if (!s.ok()) co_return s;
  co_return std::unique_ptr<DB>(std::move(impl));
}

Status DestroyDB(const std::string& name, const Options& /*options*/) {
  auto names = io::ListDir(name);
  if (!names.ok()) return names.status().IsNotFound() ? Status::OK() : names.status();
  const std::string lock_path = io::LockFileName(name);
  auto lock = io::LockFile::Acquire(lock_path);
  if (!lock.ok()) return lock.status();
  Status result;
  for (const std::string& file : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(file, &number, &type) && type != io::FileType::kDBLockFile) {
      if (Status s = io::RemoveFile(name + "/" + file); !s.ok() && result.ok()) result = s;
    }
  }
  lock->reset();
  (void)io::RemoveFile(lock_path);
  (void)io::RemoveDir(name);  // fails harmlessly when foreign files remain
  return result;
}

Result<std::unique_ptr<SyncDB>> SyncDB::Open(const Options& options, const std::string& name) {
  asio::io_context ctx;
  auto opened = asio::co_spawn(ctx, DB::Open(options, name), asio::use_future);
  ctx.run();
  Result<std::unique_ptr<DB>> db = opened.get();
  if (!db.ok()) return db.status();
  return std::make_unique<SyncDB>(std::move(db).value());
}

SyncDB::~SyncDB() = default;

Status SyncDB::Put(const WriteOptions& o, Slice key, Slice value) {
  return asio::co_spawn(db_->engine_executor(), db_->Put(o, key, value), asio::use_future).get();
}
Status SyncDB::Delete(const WriteOptions& o, Slice key) {
  return asio::co_spawn(db_->engine_executor(), db_->Delete(o, key), asio::use_future).get();
}
Status SyncDB::Write(const WriteOptions& o, const WriteBatch& batch) {
  return asio::co_spawn(db_->engine_executor(), db_->Write(o, batch), asio::use_future).get();
}
Result<std::string> SyncDB::Get(const ReadOptions& o, Slice key) {
  return asio::co_spawn(db_->engine_executor(), db_->Get(o, key), asio::use_future).get();
}
Status SyncDB::Close() {
  return asio::co_spawn(db_->engine_executor(), db_->Close(), asio::use_future).get();
}

}  // namespace corodb
