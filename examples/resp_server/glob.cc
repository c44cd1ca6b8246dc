#include "glob.h"

#include <utility>

namespace corodb::resp {

namespace {

// Matches the pattern element at pattern[*at] (not a '*') against `c`, and
// moves *at past the element.
bool MatchElement(std::string_view pattern, size_t* at, unsigned char c) {
  size_t i = *at;
  if (pattern[i] == '?') {
    *at = i + 1;
    return true;
  }
  if (pattern[i] == '\\' && i + 1 < pattern.size()) {
    *at = i + 2;
    return static_cast<unsigned char>(pattern[i + 1]) == c;
  }
  if (pattern[i] != '[') {
    *at = i + 1;
    return static_cast<unsigned char>(pattern[i]) == c;
  }
  ++i;
  const bool negate = i < pattern.size() && pattern[i] == '^';
  if (negate) ++i;
  bool matched = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      matched |= static_cast<unsigned char>(pattern[i + 1]) == c;
      i += 2;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      auto lo = static_cast<unsigned char>(pattern[i]);
      auto hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      matched |= c >= lo && c <= hi;
      i += 3;
    } else {
      matched |= static_cast<unsigned char>(pattern[i]) == c;
      ++i;
    }
  }
  *at = i < pattern.size() ? i + 1 : i;
  return matched != negate;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      size_t next = p;
      if (MatchElement(pattern, &next, static_cast<unsigned char>(text[t]))) {
        p = next;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;  // let the last '*' take one more byte
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace corodb::resp
