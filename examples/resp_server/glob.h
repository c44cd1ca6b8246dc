// Redis's MATCH patterns (SCAN ... MATCH): `*` any run of bytes, `?` one
// byte, `[abc]`, `[a-z]` and `[^...]` a byte of (not of) the class, `\x`
// the byte x itself. An unterminated class ends at the end of the pattern.
// Linear backtracking on the last `*`: no pattern takes exponential time.
#pragma once

#include <string_view>

namespace corodb::resp {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace corodb::resp
