// The O_DIRECT alignment io::File uses for a file (File::direct_alignment).
#pragma once

#include <cstddef>
#include <cstdint>

namespace corodb::io {

// The O_DIRECT offset/length alignment to use for a file whose statx
// STATX_DIOALIGN answer was `reported` with `offset_align`: that value when
// it is a power of two up to 1 MiB (larger than a page too: devices with
// 16 KiB blocks need it), else 4096.
size_t ChooseDirectAlignment(bool reported, uint32_t offset_align);

}  // namespace corodb::io
