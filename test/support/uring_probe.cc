// uring_probe: sets up (and tears down) one ring as corodb does and says
// whether that worked. Exit 0: io_uring usable; 1: not (the reason on stdout).
#include <cstdio>
#include <cstring>

#include "io/uring_backend.h"

int main() {
  unsigned features = 0;
  const int r = corodb::io::ProbeUring({}, &features);
  if (r < 0) {
    std::printf("io_uring unavailable: %s\n", std::strerror(-r));
    return 1;
  }
  std::printf("io_uring usable; optional features: %s\n",
              corodb::io::DescribeUringFeatures(features).c_str());
  return 0;
}
