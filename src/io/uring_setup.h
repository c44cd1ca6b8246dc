#pragma once

// Setting up and tearing down one io_uring instance: the optional flags the
// kernel accepts, the opcodes corodb needs, and the process-wide order of
// setups and teardowns. The public probe functions (ProbeUring and its
// remembered answer) are declared in io/uring_backend.h and defined beside
// these in uring_setup.cc.

#include "io/uring_backend.h"

struct io_uring;

namespace corodb::io {

// Sets up `ring` with every optional flag the kernel accepts and checks the
// opcodes corodb needs (READ, WRITE, FSYNC, NOP). Returns 0 and the
// UringFeature bits in use, or -errno (-EOPNOTSUPP: an opcode is missing;
// the ring is torn down again). Honours SetUringSetupErrorForTesting and
// SetUringMissingFeaturesForTesting.
int InitRing(io_uring* ring, const UringConfig& config, unsigned* features);

// Tears down a ring InitRing set up. Setups and teardowns take turns (see
// uring_setup.cc).
void ExitRing(io_uring* ring);

}  // namespace corodb::io
