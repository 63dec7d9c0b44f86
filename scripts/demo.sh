#!/bin/sh
# The demo command: installs what it needs, builds, then runs scripts/demo-run.sh: a real sispd
# on 127.0.0.1, two users with the real sisp client, a live notification, a verified download,
# and DISPLAY in sisp-view when there is a display.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DSISP_WERROR=ON >/dev/null
targets="sispd sisp_cli sisp-sample-image"
if [ -f viewer/CMakeLists.txt ]; then
    targets="$targets sisp-view"
fi
# shellcheck disable=SC2086
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target $targets >/dev/null
exec ./scripts/demo-run.sh ./build/server/sispd ./build/client/sisp ./build/tests/sisp-sample-image
