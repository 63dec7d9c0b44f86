#!/bin/sh
# The demo itself, on built binaries: a sispd on 127.0.0.1 with a temporary data directory;
# alice and bob register from separate homes; bob watches; alice posts a sample photo; bob's
# watch shows the notification; bob downloads it, verifies who signed it, and it is byte for
# byte the original; then DISPLAY opens it in sisp-view (or says how to, without a display).
# usage: demo-run.sh SISPD SISP SAMPLE_IMAGE_TOOL   (ctest runs it too, so the demo cannot rot)
set -eu
SISPD=$1
SISP=$2
SAMPLE=$3

work=$(mktemp -d "${TMPDIR:-/tmp}/sisp-demo.XXXXXX")
sispd_pid=""
watch_pid=""
cleanup() {
    [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null || true
    [ -n "$sispd_pid" ] && kill "$sispd_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }
# Runs and echoes one client command.
run() {
    who=$1
    shift
    printf '%s$ sisp %s\n' "$who" "$*"
    "$SISP" --home "$work/$who" "$@"
}
# Waits up to 10 s for a line matching $2 in file $1.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            echo "demo: timed out waiting for '$2' in $1" >&2
            cat "$1" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}

step "start sispd on 127.0.0.1 (any free port) with a fresh data directory"
"$SISPD" --data "$work/data" --listen 127.0.0.1:0 >"$work/sispd.out" 2>"$work/sispd.log" &
sispd_pid=$!
wait_for "$work/sispd.out" "listening"
cat "$work/sispd.out"
server=$(sed -n 's/^sispd listening on \([^ ]*\) .*/\1/p' "$work/sispd.out")
fingerprint=$(sed -n 's/.* fingerprint \(SHA256:[0-9a-f]*\)$/\1/p' "$work/sispd.out")

step "alice and bob register (each pins the server's CA by the fingerprint sispd printed)"
run alice --server "$server" --fingerprint "$fingerprint" register alice
run bob --server "$server" --fingerprint "$fingerprint" register bob
echo "(bob is pending in group all until a member's client admits him: alice's does, next time it connects)"
run alice group list all

step "bob watches for new images"
echo "bob\$ sisp watch &"
"$SISP" --home "$work/bob" watch >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!

step "alice posts a photo (sealed and signed on her machine)"
"$SAMPLE" "$work/sunset.png"
run alice post_image sunset "$work/sunset.png"

step "bob's watch is told at once"
wait_for "$work/watch.out" "NEW_IMAGE sunset"
cat "$work/watch.out"

step "bob downloads it: the signature and every chunk are verified before anything is written"
run bob download sunset -o "$work/bob-sunset.png"
if cmp -s "$work/sunset.png" "$work/bob-sunset.png"; then
    echo "byte-identical to alice's original ($(wc -c <"$work/sunset.png") bytes)"
else
    echo "demo: the downloaded image differs from the original" >&2
    exit 1
fi

step "bob displays it"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    run bob display sunset
    echo "(close the sisp-view window when done: press q)"
else
    DISPLAY= WAYLAND_DISPLAY= run bob display sunset
fi

step "what the server holds: ciphertext and a signed manifest it cannot open or forge"
run bob list
echo
echo "demo: done; cleaning up"
