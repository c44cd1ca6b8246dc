#!/usr/bin/env bash
# Installs the Debian 12 packages corodb needs to build, test and benchmark.
# Idempotent: runs `apt-get update` and `apt-get install` only when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-test1.81-dev
  liburing-dev libsnappy-dev
  libleveldb-dev leveldb-doc librocksdb-dev
  fio
  python3       # bench/io/vs_fio.py; tools/resp-bench.sh (a free port)
  python3-matplotlib   # tools/plot.py: corodb-bench --json as an SVG (test/tools/plot_test.py)
  redis-tools   # redis-cli for the RESP server tests; redis-benchmark and the redis
                # server binary (redis-check-rdb) for tools/resp-bench.sh
  clang-14 libclang-rt-14-dev   # the fuzz preset: clang++-14 and its libFuzzer (tools/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
