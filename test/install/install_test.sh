#!/usr/bin/env bash
# Installs corodb from BUILD_DIR into a temporary prefix, then builds the
# consumer twice: with find_package(corodb) and with pkg-config. Runs both.
# With a third argument "tool", also checks that the installed bin/corodb
# runs and lists its subcommands.
set -euo pipefail
build_dir=$1
cxx_flags=${2:-}
tool=${3:-}
src_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"

if [ "$tool" = tool ]; then
  "$work/prefix/bin/corodb" help > "$work/help.txt"
  for sub in get put delete scan count dump-log dump-table dump-manifest check stats \
             approximate-size compact repair destroy backend; do
    grep -q "^  $sub " "$work/help.txt" || { echo "installed corodb help lacks $sub"; exit 1; }
  done
  echo "install test: bin/corodb installed and lists every subcommand"
fi

cmake -S "$src_dir/consumer" -B "$work/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$cxx_flags" > "$work/configure.log"
cmake --build "$work/cmake-build" > "$work/build.log"
"$work/cmake-build/consumer"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
g++ $cxx_flags -o "$work/pc-consumer" "$src_dir/consumer/main.cc" $(pkg-config --cflags --libs corodb)
"$work/pc-consumer"
echo "install test: find_package and pkg-config consumers built and ran"
