// Result<T>: a value or the Status that explains why there is none.
//
// Invariant: exactly one of {value, non-OK status} is present. Constructing a
// Result from an OK Status is a bug (it is turned into an InvalidArgument).
#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "corodb/status.h"

namespace corodb {

template <typename T>
class [[nodiscard]] Result {
 public:
  // An empty result (no value, an error status). Exists because Asio's
  // co_spawn default-constructs the result type when a coroutine throws.
  Result() : status_(Status::InvalidArgument("empty Result")) {}
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok());
    if (status_.ok()) status_ = Status::InvalidArgument("Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  // OK when a value is present.
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace corodb
