#!/bin/sh
# The demo command: installs what it needs, builds, and shows sisp working.
# 1. The SISP/1 protocol self-check: every frame type encoded, delivered in pieces, decoded;
#    hostile frames refused with their specific errors.
# 2. The server end to end: the real sispd on 127.0.0.1; alice and bob register, alice posts
#    a sealed image, bob is notified live, downloads it and verifies who signed it.
#    (Until the sisp command-line client exists, a small driver plays the two users.)
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DSISP_WERROR=ON >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target sisp-selfcheck sispd sisp-demo \
    >/dev/null
./build/tests/sisp-selfcheck
echo
./build/tests/sisp-demo ./build/server/sispd 2>/dev/null
