#!/bin/sh
# The server benchmark, as recorded in docs/BENCHMARKS.md:
#
#   bench/run.sh [BUILD_DIR]            # default build; about 2 minutes
#   CONNS=1000 bench/run.sh             # idle and fan-out at 1,000 connections only
#
# sisp-bench starts the servers itself, fresh for every scenario: sispd on a new data directory
# (/tmp/sisp-test-*, removed afterwards) with the registration rate, quota and timeouts raised
# and --max-conns / --max-per-addr 20000, registers the users it logs in as (8; every
# connection logs in as one of them) and makes them all members of group `all`; then
# sisp-bench-echo, the bare wolfSSL server, on that directory's certificates; and mosquitto
# (if installed) for the fan-out reference. sispd does not raise its own file-descriptor
# limit: it inherits it, so the limit is raised here, before anything starts.
set -eu
BUILD=${1:-build}
CONNS=${CONNS:-1000,10000}
REPS=${REPS:-5}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MOSQ=$(command -v mosquitto 2>/dev/null || true)
[ -z "$MOSQ" ] && [ -x /usr/sbin/mosquitto ] && MOSQ=/usr/sbin/mosquitto
[ -z "$MOSQ" ] && echo "# mosquitto not installed: no fan-out reference" >&2
OUT=${OUT:-/tmp/sisp-bench-$$.txt}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, ulimit -n $(ulimit -n), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/sisp-bench" --sispd "$BUILD/server/sispd" --echo "$BUILD/bench/sisp-bench-echo" \
    ${MOSQ:+--mosquitto "$MOSQ"} --reps "$REPS" --conns "$CONNS" \
    handshakes bulk posts idle fanout 2>"$OUT.log" | tee "$OUT" || true
rc=0
grep -q '^# FAILED' "$OUT" && rc=1

# The targets (docs/BENCHMARKS.md), from the medians above.
med() { awk -v m="$1" '$1 == m { print $3 }' "$OUT"; }
check() { # name value op limit
    if [ -z "$2" ]; then printf '%-44s %12s   %s\n' "$1" "-" "not measured"; return; fi
    ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { print (op == ">=" ? v >= l : v <= l) ? "met" : "NOT met" }')
    printf '%-44s %12s   target %s %s: %s\n' "$1" "$2" "$3" "$4" "$ok"
}
echo
echo "# targets (medians)"
check "handshakes sispd/echo per server CPU-s" "$(med hs_sispd/echo)" ">=" 0.8
check "upload 16 MiB sispd/echo" "$(med bulk_up_sispd/echo)" ">=" 0.8
check "download 16 MiB sispd/echo" "$(med bulk_down_sispd/echo)" ">=" 0.8
for n in $(echo "$CONNS" | tr ',' ' '); do
    check "idle KiB per connection at $n (issue)" "$(med idle_sispd_${n}_per_conn)" "<=" 64
    check "idle KiB per connection at $n (BRIEF)" "$(med idle_sispd_${n}_per_conn)" "<=" 128
    check "connections held at $n" "$(med idle_sispd_${n}_held)" ">=" "$n"
    check "fan-out $n last, ms, vs mosquitto here" "$(med fanout_sispd_${n}_last)" "<=" "$(med fanout_mosquitto_${n}_last)"
done
check "fan-out 1000 last, ms, vs the issue's 6.4 ms" "$(med fanout_sispd_1000_last)" "<=" 6.4
check "fan-out 10000 p99, ms (BRIEF)" "$(med fanout_sispd_10000_p99)" "<=" 250
echo "# table: $OUT; servers' and progress log: $OUT.log"
exit $rc
