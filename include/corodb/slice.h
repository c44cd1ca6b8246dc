// Slice: a non-owning view of bytes. Keys and values are arbitrary bytes,
// empty and binary included; corodb uses std::string_view for them.
#pragma once

#include <string_view>

namespace corodb {

using Slice = std::string_view;

}  // namespace corodb
