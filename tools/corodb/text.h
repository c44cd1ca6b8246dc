// How the corodb tool writes and reads keys and values on a command line:
// escaped text (the default), hex, and JSON strings.
//
//   escaped  printable ASCII (0x20..0x7e) as is, except '\' as "\\"; every
//            other byte as "\xNN". Reading accepts exactly these two escapes,
//            so whatever the tool prints can be typed back.
//   hex      two lowercase digits per byte; reading also takes upper case
//            and an optional "0x" prefix.
//
// Both forms are plain ASCII, so a JSON string holding one is always valid.
#pragma once

#include <string>
#include <string_view>

#include "corodb/result.h"
#include "corodb/slice.h"

namespace corodb::cli {

enum class Encoding { kEscaped, kHex };

std::string Escape(Slice bytes);
// InvalidArgument naming the position of a bad escape.
Result<std::string> Unescape(std::string_view text);

std::string ToHex(Slice bytes);
// InvalidArgument for an odd length or a character that is not a hex digit.
Result<std::string> FromHex(std::string_view text);

std::string Encode(Slice bytes, Encoding encoding);
Result<std::string> Decode(std::string_view text, Encoding encoding);

// `text` as a quoted JSON string: '"', '\' and control characters escaped,
// bytes >= 0x80 as \u00XX (so the output is ASCII and always valid JSON).
std::string JsonString(std::string_view text);

}  // namespace corodb::cli
