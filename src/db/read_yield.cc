#include "db/read_yield.h"

#include <ctime>

namespace corodb {

int64_t ReadTurn::MonotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace corodb
