#include "text.h"

namespace corodb::cli {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendHexByte(unsigned char c, std::string* out) {
  out->push_back(kHexDigits[c >> 4]);
  out->push_back(kHexDigits[c & 0xf]);
}

}  // namespace

std::string Escape(Slice bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c <= 0x7e) {
      out.push_back(ch);
    } else {
      out += "\\x";
      AppendHexByte(c, &out);
    }
  }
  return out;
}

Result<std::string> Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
      continue;
    }
    if (i + 3 < text.size() && text[i + 1] == 'x' && HexValue(text[i + 2]) >= 0 &&
        HexValue(text[i + 3]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 2]) * 16 + HexValue(text[i + 3])));
      i += 3;
      continue;
    }
    return Status::InvalidArgument(
        "bad escape at position " + std::to_string(i) + " of '" + std::string(text) +
        "' (write a backslash as \\\\ and a byte as \\xNN, or use --hex)");
  }
  return out;
}

std::string ToHex(Slice bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char ch : bytes) AppendHexByte(static_cast<unsigned char>(ch), &out);
  return out;
}

Result<std::string> FromHex(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
  if (digits.size() % 2 != 0) {
    return Status::InvalidArgument("odd number of hex digits in '" + std::string(text) + "'");
  }
  std::string out;
  out.reserve(digits.size() / 2);
  for (size_t i = 0; i < digits.size(); i += 2) {
    const int hi = HexValue(digits[i]);
    const int lo = HexValue(digits[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("not a hex digit at position " +
                                     std::to_string(i + (hi < 0 ? 0 : 1)) + " of '" +
                                     std::string(digits) + "'");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Encode(Slice bytes, Encoding encoding) {
  return encoding == Encoding::kHex ? ToHex(bytes) : Escape(bytes);
}

Result<std::string> Decode(std::string_view text, Encoding encoding) {
  return encoding == Encoding::kHex ? FromHex(text) : Unescape(text);
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      out += "\\u00";
      AppendHexByte(c, &out);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace corodb::cli
