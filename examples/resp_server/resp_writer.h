// RESP2 reply encoding: appends replies to a connection's output buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corodb::resp {

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string* out) : out_(out) {}

  // "+OK\r\n". `text` must not contain CR or LF.
  void SimpleString(std::string_view text) { Line('+', text); }
  // "-ERR ...\r\n". `text` (with its "ERR " prefix) must not contain CR or LF.
  void Error(std::string_view text) { Line('-', text); }
  void Integer(int64_t value) { Line(':', std::to_string(value)); }
  void Bulk(std::string_view bytes) {
    Line('$', std::to_string(bytes.size()));
    out_->append(bytes);
    out_->append("\r\n");
  }
  void NullBulk() { out_->append("$-1\r\n"); }
  // Announces `n` elements; the caller writes them next.
  void ArrayHeader(size_t n) { Line('*', std::to_string(n)); }
  void NullArray() { out_->append("*-1\r\n"); }
  // A reply that is already encoded.
  void Raw(std::string_view encoded) { out_->append(encoded); }

 private:
  void Line(char type, std::string_view text) {
    out_->push_back(type);
    out_->append(text);
    out_->append("\r\n");
  }

  std::string* out_;
};

}  // namespace corodb::resp
