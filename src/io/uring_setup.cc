#include "io/uring_setup.h"

#include <liburing.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>

namespace corodb::io {

namespace {

std::atomic<int> g_setup_error_for_testing{0};
std::atomic<unsigned> g_missing_features_for_testing{0};
// Rings set up by InitRing, ever (tests: ProbeUring's remembered answer).
std::atomic<uint64_t> g_rings_set_up{0};

// ProbeUring's last successful answer, for one ring size.
struct ProbeAnswer {
  bool known = false;
  unsigned sq_entries = 0;
  unsigned cq_entries = 0;
  unsigned features = 0;
};
std::mutex g_probe_mu;
ProbeAnswer g_probe;  // GUARDED_BY(g_probe_mu)

// Ring setups and teardowns take turns under this mutex. liburing maps and
// unmaps a ring's memory with raw system calls that ThreadSanitizer does not
// see, so a new ring mapped where an old one was looked like the old ring's
// memory, written from another thread without synchronization (DBs open and
// close rings all the time). Serializing the two makes the old ring's last
// use happen-before the new ring's first one, for TSan as for the reader of
// this code; it costs one uncontended lock per ring setup and teardown.
std::mutex g_ring_lifetime_mu;

}  // namespace

void ExitRing(io_uring* ring) {
  std::lock_guard lock(g_ring_lifetime_mu);
  io_uring_queue_exit(ring);
}

int InitRing(io_uring* ring, const UringConfig& config, unsigned* features) {
  if (const int err = g_setup_error_for_testing.load(); err != 0) return -err;
  const unsigned missing = g_missing_features_for_testing.load();
  // Optional setup flags, all tried first; a kernel that does not know one
  // refuses the whole setup with EINVAL, and then the ring is set up without.
  unsigned optional = IORING_SETUP_SUBMIT_ALL;
  int r;
  for (;;) {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | optional;
    params.cq_entries = config.cq_entries;
    if ((optional & IORING_SETUP_SUBMIT_ALL) != 0 && (missing & kUringSubmitAll) != 0) {
      r = -EINVAL;  // as a kernel before 5.18 answers
    } else {
      std::lock_guard lock(g_ring_lifetime_mu);
      r = io_uring_queue_init_params(config.sq_entries, ring, &params);
    }
    if (r == -EINVAL && optional != 0) {
      optional = 0;
      continue;
    }
    if (r < 0) return r;
    break;
  }
  g_rings_set_up.fetch_add(1, std::memory_order_relaxed);
  unsigned have = 0;
  if ((optional & IORING_SETUP_SUBMIT_ALL) != 0) have |= kUringSubmitAll;
  if ((ring->features & IORING_FEAT_CQE_SKIP) != 0) have |= kUringCqeSkip;
  io_uring_probe* probe = io_uring_get_probe_ring(ring);  // NULL before 5.6
  const bool required = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_READ) &&
                        io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
                        io_uring_opcode_supported(probe, IORING_OP_FSYNC) &&
                        io_uring_opcode_supported(probe, IORING_OP_NOP);
  if (probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL)) {
    have |= kUringAsyncCancel;
  }
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!required) {
    ExitRing(ring);
    return -EOPNOTSUPP;
  }
  if (features != nullptr) *features = have & ~missing;
  return 0;
}

std::string DescribeUringFeatures(unsigned features) {
  std::string s;
  auto add = [&s](const char* name) { s += s.empty() ? name : std::string(" ") + name; };
  if (features & kUringSubmitAll) add("SUBMIT_ALL");
  if (features & kUringCqeSkip) add("CQE_SKIP");
  if (features & kUringAsyncCancel) add("ASYNC_CANCEL");
  return s.empty() ? "none" : s;
}

int ProbeUring(const UringConfig& config, unsigned* features) {
  const bool overridden =
      g_setup_error_for_testing.load() != 0 || g_missing_features_for_testing.load() != 0;
  io_uring ring{};
  unsigned have = 0;
  const int r = InitRing(&ring, config, &have);
  if (r < 0) return r;
  ExitRing(&ring);
  if (features != nullptr) *features = have;
  // A reduced answer made under a testing override is not remembered (the
  // flags are read again: one may have been set meanwhile).
  if (!overridden && g_setup_error_for_testing.load() == 0 &&
      g_missing_features_for_testing.load() == 0) {
    const std::lock_guard lock(g_probe_mu);
    g_probe = {true, config.sq_entries, config.cq_entries, have};
  }
  return 0;
}

int ProbeUringRemembered(const UringConfig& config, unsigned* features) {
  if (g_setup_error_for_testing.load() == 0 && g_missing_features_for_testing.load() == 0) {
    const std::lock_guard lock(g_probe_mu);
    if (g_probe.known && g_probe.sq_entries == config.sq_entries &&
        g_probe.cq_entries == config.cq_entries) {
      if (features != nullptr) *features = g_probe.features;
      return 0;
    }
  }
  return ProbeUring(config, features);
}

void ForgetUringProbe() {
  const std::lock_guard lock(g_probe_mu);
  g_probe = {};
}

uint64_t UringRingsSetUpForTesting() { return g_rings_set_up.load(); }

void SetUringSetupErrorForTesting(int err) { g_setup_error_for_testing.store(err); }
void SetUringMissingFeaturesForTesting(unsigned features) {
  g_missing_features_for_testing.store(features);
}

}  // namespace corodb::io
