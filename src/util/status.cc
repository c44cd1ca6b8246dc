#include "corodb/status.h"

namespace corodb {

Status::Status(Code code, std::string_view msg, std::string_view msg2) : code_(code) {
  std::string text(msg);
  if (!msg2.empty()) {
    text.append(": ");
    text.append(msg2);
  }
  msg_ = std::make_shared<const std::string>(std::move(text));
}

std::string Status::ToString() const {
  std::string_view prefix;
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      prefix = "NotFound: ";
      break;
    case Code::kCorruption:
      prefix = "Corruption: ";
      break;
    case Code::kNotSupported:
      prefix = "Not implemented: ";
      break;
    case Code::kInvalidArgument:
      prefix = "Invalid argument: ";
      break;
    case Code::kIOError:
      prefix = "IO error: ";
      break;
  }
  std::string out(prefix);
  out.append(message());
  return out;
}

}  // namespace corodb
