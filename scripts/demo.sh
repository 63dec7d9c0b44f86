#!/bin/sh
# The demo command: installs what it needs, builds, and shows sisp working.
# The server and client are not built yet; until they are, the demo runs the SISP/1
# protocol self-check (every frame type encoded, delivered in pieces, decoded; hostile
# frames refused with their specific errors).
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DSISP_WERROR=ON >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target sisp-selfcheck >/dev/null
./build/tests/sisp-selfcheck
