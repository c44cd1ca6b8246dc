#include "table/concat_iterator.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "format/dbformat.h"

namespace corodb::table {
namespace {

class ConcatenatingIterator final : public AsyncIterator {
 public:
  ConcatenatingIterator(const Comparator* cmp, std::vector<ConcatFile> files,
                        FileIteratorFactory open, FileIteratorTryFactory try_open)
      : cmp_(cmp),
        bytewise_internal_(IsBytewiseInternalComparator(cmp)),
        files_(std::move(files)),
        open_(std::move(open)),
        try_open_(std::move(try_open)),
        index_(files_.size()) {}

  bool Valid() const override { return file_ != nullptr && file_->Valid(); }
  Slice key() const override { return file_->key(); }
  Slice value() const override { return file_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    return file_ != nullptr ? file_->status() : Status::OK();
  }

  boost::asio::awaitable<void> SeekToFirst() override {
    status_ = Status::OK();
    if (files_.empty()) co_return;
    if (const bool opened = co_await Open(0); !opened) co_return;
    co_await file_->SeekToFirst();
    if (!file_->Valid()) co_await SkipEmptyFilesForward();
  }

  boost::asio::awaitable<void> SeekToLast() override {
    status_ = Status::OK();
    if (files_.empty()) co_return;
    if (const bool opened = co_await Open(files_.size() - 1); !opened) co_return;
    co_await file_->SeekToLast();
    if (!file_->Valid()) co_await SkipEmptyFilesBackward();
  }

  boost::asio::awaitable<void> Seek(Slice target) override {
    status_ = Status::OK();
    const auto it = FirstFileNotBefore(target);
    if (it == files_.end()) {
      Close();
      co_return;
    }
    if (const bool opened = co_await Open(static_cast<size_t>(it - files_.begin())); !opened) co_return;
    co_await file_->Seek(target);
    if (!file_->Valid()) co_await SkipEmptyFilesForward();
  }

  bool TrySeek(Slice target) override {
    const auto it = FirstFileNotBefore(target);
    if (it == files_.end()) {
      status_ = Status::OK();
      Close();
      return true;
    }
    const size_t index = static_cast<size_t>(it - files_.begin());
    if (file_ == nullptr || index_ != index) {
      if (!try_open_) return false;
      std::unique_ptr<AsyncIterator> opened = try_open_(files_[index]);
      if (opened == nullptr) return false;
      Close();
      file_ = std::move(opened);
      index_ = index;
    }
    status_ = Status::OK();
    if (!file_->TrySeek(target)) return false;
    // Past the file's last key (or an empty file): the awaited Seek moves on.
    return file_->Valid() || !file_->status().ok();
  }

  boost::asio::awaitable<void> Next() override {
    if (!file_->TryNext()) co_await file_->Next();
    if (!file_->Valid()) co_await SkipEmptyFilesForward();
  }

  boost::asio::awaitable<void> Prev() override {
    if (!file_->TryPrev()) co_await file_->Prev();
    if (!file_->Valid()) co_await SkipEmptyFilesBackward();
  }

  bool TryNext() override {
    if (!file_->TryNext()) return false;
    assert(file_->Valid() || !file_->status().ok());  // FileIteratorFactory's contract
    return true;
  }

  bool TryPrev() override {
    if (!file_->TryPrev()) return false;
    assert(file_->Valid() || !file_->status().ok());
    return true;
  }

 private:
  void Close() {
    file_.reset();
    index_ = files_.size();
  }

  // Makes file_ the iterator of files_[index] (unpositioned when newly
  // opened). False, with status_ set, when the file cannot be opened.
  // SUSPENDS: in the factory, unless that file is already open.
  boost::asio::awaitable<bool> Open(size_t index) {
    if (file_ != nullptr && index_ == index) co_return true;
    Close();  // release the previous file before pinning the next
    Result<std::unique_ptr<AsyncIterator>> opened = co_await open_(files_[index]);
    if (!opened.ok()) {
      status_ = opened.status();
      co_return false;
    }
    if (*opened == nullptr) {
      status_ = Status::InvalidArgument("file iterator factory returned no iterator for file",
                                        std::to_string(files_[index].number));
      co_return false;
    }
    file_ = std::move(*opened);
    index_ = index;
    co_return true;
  }

  // The current file ran out (or had no entries): moves on to the first
  // entry of the next file that has one. Stops at an error.
  boost::asio::awaitable<void> SkipEmptyFilesForward() {
    while (file_ != nullptr && !file_->Valid()) {
      if (!file_->status().ok()) co_return;
      if (index_ + 1 >= files_.size()) {
        Close();
        co_return;
      }
      if (const bool opened = co_await Open(index_ + 1); !opened) co_return;
      co_await file_->SeekToFirst();
    }
  }

  boost::asio::awaitable<void> SkipEmptyFilesBackward() {
    while (file_ != nullptr && !file_->Valid()) {
      if (!file_->status().ok()) co_return;
      if (index_ == 0) {
        Close();
        co_return;
      }
      if (const bool opened = co_await Open(index_ - 1); !opened) co_return;
      co_await file_->SeekToLast();
    }
  }

  // The first file that may hold a key >= target (files_.end(): none).
  // Internal keys in BytewiseComparator order are compared inline, not
  // through a virtual call per probe.
  std::vector<ConcatFile>::const_iterator FirstFileNotBefore(Slice target) const {
    if (bytewise_internal_) {
      return std::partition_point(files_.begin(), files_.end(), [&](const ConcatFile& f) {
        return CompareBytewiseInternalKeys(f.largest, target) < 0;
      });
    }
    return std::partition_point(files_.begin(), files_.end(), [&](const ConcatFile& f) {
      return cmp_->Compare(f.largest, target) < 0;
    });
  }

  const Comparator* const cmp_;
  const bool bytewise_internal_;
  const std::vector<ConcatFile> files_;
  const FileIteratorFactory open_;
  const FileIteratorTryFactory try_open_;
  size_t index_;                        // files_.size() when no file is open
  std::unique_ptr<AsyncIterator> file_;
  Status status_;                       // a failed open, until the next Seek*()
};

}  // namespace

std::unique_ptr<AsyncIterator> NewConcatenatingIterator(const Comparator* cmp,
                                                        std::vector<ConcatFile> files,
                                                        FileIteratorFactory open,
                                                        FileIteratorTryFactory try_open) {
  return std::make_unique<ConcatenatingIterator>(cmp, std::move(files), std::move(open),
                                                 std::move(try_open));
}

}  // namespace corodb::table
