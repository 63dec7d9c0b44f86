#!/bin/sh
# The test command: installs what it needs, builds with warnings as errors (gcc), runs every
# suite under ctest, then builds again with clang + ASan + UBSan + libFuzzer, runs every suite
# again, and fuzzes each harness for SISP_FUZZ_SECONDS (default 60) as ctest entries.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${SISP_FUZZ_SECONDS:-60}

./scripts/deps.sh

echo "== gcc build, warnings as errors"
cmake -S . -B build -DSISP_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== clang build, ASan + UBSan + libFuzzer; fuzzers run ${fuzz_seconds}s each"
# The accelerated wolfSSL (cmake/wolfssl.cmake) built for the gcc tree is reused, not rebuilt.
CC=clang cmake -S . -B build-asan -DSISP_WERROR=ON -DSISP_FUZZ=ON \
    -DSISP_FUZZ_SECONDS="$fuzz_seconds" -DSISP_WOLFSSL_PREFIX="$PWD/build/wolfssl"
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
