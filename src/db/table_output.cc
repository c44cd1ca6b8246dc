#include "db/table_output.h"

#include "io/file_names.h"

namespace corodb {
namespace asio = boost::asio;

Status TableOutput::Open(uint64_t number) {
  auto file = fs_.Open(io::TableFileName(dbname_, number), io::OpenMode::kCreate);
  if (!file.ok()) return file.status();
  file_ = std::move(file).value();
  builder_ = std::make_unique<table::TableBuilder>(options_, file_.get());
  meta_ = FileMetaData();
  meta_.number = number;
  return Status::OK();
}

asio::awaitable<Status> TableOutput::Add(Slice key, Slice value) {
  if (builder_->NumEntries() == 0) (void)meta_.smallest.DecodeFrom(key);
  last_key_.assign(key.data(), key.size());
  co_return co_await builder_->AddAsync(key, value);
}

asio::awaitable<Status> TableOutput::Finish(FileMetaData* meta) {
  Status s = co_await builder_->Finish();
  if (s.ok()) s = co_await file_->Sync();
  if (s.ok()) {
    (void)meta_.largest.DecodeFrom(last_key_);
    meta_.file_size = builder_->FileSize();
    *meta = meta_;
  }
  builder_.reset();
  file_.reset();
  co_return s;
}

void TableOutput::Abandon() {
  if (builder_) builder_->Abandon();
  builder_.reset();
  file_.reset();
}

}  // namespace corodb
