#!/usr/bin/env bash
# Set-up, sanitizer build, and every test through CTest.
#   tools/test.sh            # ASan + UBSan (what CI runs)
#   tools/test.sh tsan       # ThreadSanitizer
#   tools/test.sh release    # optimized build
#   tools/test.sh fuzz [s]   # every libFuzzer target for s seconds (tools/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-asan}
if [ "$preset" = fuzz ]; then
  exec tools/fuzz.sh "${@:2}"
fi

tools/setup.sh
cmake --preset "$preset" > /dev/null
cmake --build --preset "$preset" -j "$(nproc)"

launcher=()
if [ "$preset" = tsan ]; then
  # gcc 12's TSan runtime cannot always map its shadow memory with the kernel's
  # address randomization; run the tests without it.
  launcher=(setarch "$(uname -m)" -R)
fi
"${launcher[@]}" ctest --preset "$preset" -j "$(nproc)"
