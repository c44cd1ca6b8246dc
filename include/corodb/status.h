// Status: the outcome of an operation, with LevelDB's codes.
//
// OK carries no allocation; an error carries its code and a message that says
// what failed and where (file name, offset). Status is [[nodiscard]]: ignoring
// one is a compile-time warning (an error in CI).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace corodb {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound = 1,
    kCorruption = 2,
    kNotSupported = 3,
    kInvalidArgument = 4,
    kIOError = 5,
  };

  Status() noexcept = default;
  Status(const Status& other) : code_(other.code_), msg_(other.msg_) {}
  Status& operator=(const Status& other) {
    code_ = other.code_;
    msg_ = other.msg_;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNotFound, msg, msg2);
  }
  static Status Corruption(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kCorruption, msg, msg2);
  }
  static Status NotSupported(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNotSupported, msg, msg2);
  }
  static Status InvalidArgument(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kInvalidArgument, msg, msg2);
  }
  static Status IOError(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kIOError, msg, msg2);
  }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  Code code() const { return code_; }

  // The message without the code prefix ("" for OK).
  std::string_view message() const { return msg_ ? std::string_view(*msg_) : std::string_view(); }

  // "OK", or "<Code>: <message>" as LevelDB prints it, e.g. "IO error: 000005.log: No space left on device".
  std::string ToString() const;

 private:
  Status(Code code, std::string_view msg, std::string_view msg2);

  Code code_ = Code::kOk;
  // Shared and immutable: copying an error Status does not copy its message.
  std::shared_ptr<const std::string> msg_;
};

}  // namespace corodb
