#include "resp_parser.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace corodb::resp {

namespace {

// Longest "*<count>\r\n" or "$<length>\r\n" line accepted (an int64 needs 20
// characters with its sign).
constexpr size_t kMaxHeaderLine = 32;
// A bulk string's buffer grows as its bytes arrive; at most this much is
// reserved up front, so a declared length costs no memory until it is sent.
constexpr size_t kMaxReserve = 1024 * 1024;

// Strips the "\r\n" that ends a header line; false when it is not there.
bool StripCrlf(std::string* line) {
  if (line->size() < 2 || (*line)[line->size() - 2] != '\r' || line->back() != '\n')
    return false;
  line->resize(line->size() - 2);
  return true;
}

// A byte as an error message may show it.
std::string Printable(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, c);
  static constexpr char kHex[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(c);
  return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
}

}  // namespace

bool ParseInteger(std::string_view text, int64_t* value) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::string_view digits = text.substr(negative ? 1 : 0);
  // 19 digits always fit in a uint64_t; int64's range has 19 digits.
  if (digits.empty() || digits.size() > 19) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  constexpr uint64_t kMaxPositive = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (v > kMaxPositive + 1) return false;
    *value = v == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                   : -static_cast<int64_t>(v);
  } else {
    if (v > kMaxPositive) return false;
    *value = static_cast<int64_t>(v);
  }
  return true;
}

size_t RequestParser::ReadLine(std::string_view input, size_t max, bool* done) {
  const size_t eol = input.find('\n');
  const size_t take = eol == std::string_view::npos ? input.size() : eol + 1;
  if (line_.size() + take > max) return std::string_view::npos;
  line_.append(input.substr(0, take));
  *done = eol != std::string_view::npos;
  return take;
}

RequestParser::Step RequestParser::Fail(std::string message, size_t consumed) {
  error_ = std::move(message);
  return {Event::kError, consumed};
}

void RequestParser::SplitInline() {
  command_.clear();
  line_.pop_back();  // '\n'
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  size_t i = 0;
  while (i < line_.size()) {
    while (i < line_.size() && (line_[i] == ' ' || line_[i] == '\t')) ++i;
    size_t j = i;
    while (j < line_.size() && line_[j] != ' ' && line_[j] != '\t') ++j;
    if (j > i) command_.emplace_back(line_, i, j - i);
    i = j;
  }
}

bool RequestParser::ArgumentDone() {
  command_.push_back(std::move(arg_));
  arg_.clear();
  if (command_.size() < args_expected_) {
    state_ = State::kBulkHeader;
    line_.clear();
    return false;
  }
  state_ = State::kStart;
  return true;
}

RequestParser::Step RequestParser::Feed(std::string_view input) {
  if (!error_.empty()) return {Event::kError, 0};
  size_t pos = 0;
  while (pos < input.size()) {
    const std::string_view rest = input.substr(pos);
    switch (state_) {
      case State::kStart:
        line_.clear();
        if (rest[0] == '*') {
          state_ = State::kArrayHeader;
          ++pos;
        } else {
          state_ = State::kInline;
        }
        break;

      case State::kInline: {
        bool done = false;
        const size_t n = ReadLine(rest, limits_.max_inline, &done);
        if (n == std::string_view::npos)
          return Fail("Protocol error: too big inline request", pos);
        pos += n;
        if (!done) break;
        state_ = State::kStart;
        SplitInline();
        if (!command_.empty()) {
          return {Event::kCommand, pos};
        }
        break;
      }

      case State::kArrayHeader: {
        bool done = false;
        const size_t n = ReadLine(rest, kMaxHeaderLine, &done);
        if (n == std::string_view::npos)
          return Fail("Protocol error: invalid multibulk length", pos);
        pos += n;
        if (!done) break;
        int64_t count = 0;
        if (!StripCrlf(&line_) || !ParseInteger(line_, &count)) {
          return Fail("Protocol error: invalid multibulk length", pos);
        }
        if (count <= 0) {  // "*0" and "*-1": nothing to run
          state_ = State::kStart;
          break;
        }
        if (static_cast<uint64_t>(count) > limits_.max_args) {
          return Fail("Protocol error: " + std::to_string(count) +
                          " arguments, over the limit of " +
                          std::to_string(limits_.max_args) + " (--max_args)",
                      pos);
        }
        args_expected_ = static_cast<size_t>(count);
        command_.clear();
        command_.reserve(std::min<size_t>(args_expected_, 1024));
        command_bytes_ = 0;
        state_ = State::kBulkHeader;
        line_.clear();
        break;
      }

      case State::kBulkHeader: {
        if (line_.empty() && rest[0] != '$') {
          return Fail("Protocol error: expected '$', got '" + Printable(rest[0]) + "'",
                      pos);
        }
        bool done = false;
        const size_t n = ReadLine(rest, kMaxHeaderLine, &done);
        if (n == std::string_view::npos)
          return Fail("Protocol error: invalid bulk length", pos);
        pos += n;
        if (!done) break;
        int64_t length = 0;
        if (!StripCrlf(&line_) ||
            !ParseInteger(std::string_view(line_).substr(1), &length) || length < 0) {
          return Fail("Protocol error: invalid bulk length", pos);
        }
        const auto len = static_cast<uint64_t>(length);
        if (len > limits_.max_bulk) {
          return Fail("Protocol error: bulk string of " + std::to_string(len) +
                          " bytes, over the limit of " +
                          std::to_string(limits_.max_bulk) + " (--max_bulk)",
                      pos);
        }
        if (command_bytes_ + len > limits_.max_command_bytes) {
          return Fail("Protocol error: request of more than " +
                          std::to_string(limits_.max_command_bytes) +
                          " bytes (--max_query)",
                      pos);
        }
        command_bytes_ += len;
        bulk_remaining_ = static_cast<size_t>(len);
        crlf_seen_ = 0;
        arg_.clear();
        arg_.reserve(std::min(bulk_remaining_, kMaxReserve));
        state_ = State::kBulkData;
        break;
      }

      case State::kBulkData: {
        const size_t take = std::min(bulk_remaining_, rest.size());
        arg_.append(rest.substr(0, take));
        bulk_remaining_ -= take;
        pos += take;
        while (bulk_remaining_ == 0 && crlf_seen_ < 2 && pos < input.size()) {
          if (input[pos] != (crlf_seen_ == 0 ? '\r' : '\n')) {
            return Fail("Protocol error: expected CRLF after a bulk string", pos);
          }
          ++crlf_seen_;
          ++pos;
        }
        if (bulk_remaining_ == 0 && crlf_seen_ == 2 && ArgumentDone())
          return {Event::kCommand, pos};
        break;
      }
    }
  }
  return {Event::kNeedMore, pos};
}

Command RequestParser::TakeCommand() {
  Command out = std::move(command_);
  command_.clear();
  return out;
}

namespace {

ReplyParse ParseReplyAt(std::string_view in, size_t* pos, Reply* r, int depth) {
  if (*pos >= in.size()) return ReplyParse::kNeedMore;
  const size_t eol = in.find("\r\n", *pos + 1);
  if (eol == std::string_view::npos) return ReplyParse::kNeedMore;
  const char type = in[*pos];
  const std::string_view line = in.substr(*pos + 1, eol - *pos - 1);
  const size_t after = eol + 2;
  int64_t n = 0;
  switch (type) {
    case '+':
    case '-':
      r->type = type == '+' ? Reply::Type::kSimpleString : Reply::Type::kError;
      r->text.assign(line);
      *pos = after;
      return ReplyParse::kComplete;
    case ':':
      if (!ParseInteger(line, &r->integer)) return ReplyParse::kError;
      r->type = Reply::Type::kInteger;
      *pos = after;
      return ReplyParse::kComplete;
    case '$': {
      if (!ParseInteger(line, &n) || n < -1) return ReplyParse::kError;
      if (n == -1) {
        r->type = Reply::Type::kNullBulk;
        *pos = after;
        return ReplyParse::kComplete;
      }
      const auto len = static_cast<uint64_t>(n);
      if (in.size() - after < 2 || in.size() - after - 2 < len)
        return ReplyParse::kNeedMore;
      if (in[after + len] != '\r' || in[after + len + 1] != '\n')
        return ReplyParse::kError;
      r->type = Reply::Type::kBulkString;
      r->text.assign(in.substr(after, len));
      *pos = after + len + 2;
      return ReplyParse::kComplete;
    }
    case '*': {
      if (!ParseInteger(line, &n) || n < -1) return ReplyParse::kError;
      if (n == -1) {
        r->type = Reply::Type::kNullArray;
        *pos = after;
        return ReplyParse::kComplete;
      }
      if (depth <= 0) return ReplyParse::kError;
      // Every element takes at least 3 bytes: a count the input cannot hold
      // yet is not allocated for.
      if (static_cast<uint64_t>(n) > (in.size() - after) / 3)
        return ReplyParse::kNeedMore;
      r->type = Reply::Type::kArray;
      r->elements.assign(static_cast<size_t>(n), Reply{});
      size_t p = after;
      for (Reply& e : r->elements) {
        const ReplyParse res = ParseReplyAt(in, &p, &e, depth - 1);
        if (res != ReplyParse::kComplete) return res;
      }
      *pos = p;
      return ReplyParse::kComplete;
    }
    default:
      return ReplyParse::kError;
  }
}

}  // namespace

ReplyParse ParseReply(std::string_view input, Reply* reply, size_t* consumed,
                      int max_depth) {
  size_t pos = 0;
  Reply r;
  const ReplyParse res = ParseReplyAt(input, &pos, &r, max_depth);
  if (res == ReplyParse::kComplete) {
    *reply = std::move(r);
    *consumed = pos;
  }
  return res;
}

}  // namespace corodb::resp
