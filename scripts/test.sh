#!/usr/bin/env bash
# The whole test suite: set up, build, run every test through CTest.
#   scripts/test.sh              Release build in build/release
#   scripts/test.sh --sanitize   ASan + UBSan build in build/sanitize
set -euo pipefail
cd "$(dirname "$0")/.."

mode=release
[ "${1:-}" = "--sanitize" ] && mode=sanitize

bash scripts/setup.sh
jobs=$(nproc)
if [ "$mode" = sanitize ]; then
  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRADGAL_SANITIZE=ON \
        -DRADGAL_BENCHMARKS=OFF >/dev/null
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export RADGAL_SANITIZED=1
else
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "build/$mode" -j "$jobs"
ctest --test-dir "build/$mode" --output-on-failure -j "$jobs"
