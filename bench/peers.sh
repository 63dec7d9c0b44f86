#!/bin/sh
# sispd against its peers, in one run (docs/BENCHMARKS.md, "sispd against its peers"):
#
#   bench/peers.sh            # installs what is missing, builds both trees, runs, prints the table
#   bench/peers.sh --doc      # the same, and puts the table into docs/BENCHMARKS.md
#   bench/peers.sh --report /tmp/sisp-peers-DATE [--doc]   # the table of an earlier run
#
# - bare wolfSSL (sisp-bench-echo) and sispd of both wolfSSL builds, and nginx (mutual TLS 1.3,
#   one process, no session cache): handshakes per server CPU-second; a 16 MiB download and
#   upload on one connection; 8 concurrent 4 MiB downloads; MB/s and MB per server CPU-second.
# - sispd (TLS) against mosquitto (plain MQTT) fan-out at CONNS subscribers: time until the last
#   has its notification, and server CPU per fan-out; sispd's memory per idle connection.
# - the real client, `sisp post_image` and `sisp download` of a 16 MiB image, next to
#   sisp-bench-crypto's seal and open of 16 MiB in the same run.
# - the goals of issue #7 from the medians, and (PERF=1, the default) a perf profile of each
#   server in each scenario's timed windows, in a separate pass so perf never runs while the
#   figures are taken.
#
# Everything binds 127.0.0.1, and every load is bounded: 4,000 handshakes a round with 32 in
# flight; one 16 MiB transfer at a time; 8 downloads of 4 MiB; at most 10,000 connections. About
# 4 minutes once the trees are built (the first build of the accelerated tree compiles wolfSSL:
# about 2 minutes more).
#
# Environment: ACC (accelerated tree, default build-peers), SYS (system-wolfSSL tree, default
# build-peers-sys), CONNS (fan-out and idle counts, default 100,1000,10000), REPS (default 5),
# BULK_REPS (bulk and conc, default 3 × REPS), PERF (1: profile pass, the default; 0: none;
# PERF_KEEP=1 keeps the perf.data files next to their reports, some 400 MB),
# PIN (1, the default: every server on CPU 0, the load and the client on CPU 1; 0: the
# scheduler places them), OUT (results directory, default /tmp/sisp-peers-DATE).
# shellcheck disable=SC3045,SC2059 # dash has ulimit -n; srow takes a format
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ACC=${ACC:-$ROOT/build-peers}
SYS=${SYS:-$ROOT/build-peers-sys}
CONNS=${CONNS:-100,1000,10000}
REPS=${REPS:-5}
BULK_REPS=${BULK_REPS:-$((REPS * 3))} # one transfer is 10-30 ms: more of them
PERF=${PERF:-1}
PIN=${PIN:-1}
PERF_KEEP=${PERF_KEEP:-0}
OUT=${OUT:-/tmp/sisp-peers-$(date -u +%Y%m%dT%H%M%SZ)}
DOC=0
REPORT=0
while [ $# -gt 0 ]; do
    case $1 in
    --doc) DOC=1 ;;
    --report) # the table (and --doc) again from an earlier run's results: no build, no run
        REPORT=1
        OUT=${2:?--report DIR}
        shift
        ;;
    *) echo "usage: bench/peers.sh [--doc] [--report DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"
start=$(date +%s)
say() { echo "peers: $*" >&2; }

if [ "$REPORT" = 0 ]; then
# ---- 1. packages: the build's (scripts/deps.sh), then the peers and perf; idempotent ----
"$ROOT/scripts/deps.sh" >&2
missing=""
for p in nginx mosquitto linux-perf; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    say "installing:$missing"
    # Their packages would start system services (nginx on port 80): policy-rc.d forbids it
    # for the length of the install, unless the machine already has one.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q --no-install-recommends $missing >&2 ||
        rc=$?
    [ -n "$policy" ] && $SUDO rm -f "$policy"
    [ "${rc:-0}" -eq 0 ] || exit "$rc"
fi
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
MOSQ=$(command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto)

# ---- 2. two trees: wolfSSL with assembly (static) and Debian's libwolfssl ----
TARGETS="sispd sisp-bench sisp-bench-echo sisp-bench-crypto sisp_cli"
build() { # dir, cmake options...
    dir=$1
    shift
    say "building $dir"
    cmake -S "$ROOT" -B "$dir" -DSISP_WERROR=ON -DSISP_VIEWER=OFF "$@" >"$OUT/cmake-$(basename "$dir").log" 2>&1 ||
        { tail -20 "$OUT/cmake-$(basename "$dir").log" >&2; exit 1; }
    # shellcheck disable=SC2086
    cmake --build "$dir" -j"$(nproc)" --target $TARGETS >>"$OUT/cmake-$(basename "$dir").log" 2>&1 ||
        { tail -20 "$OUT/cmake-$(basename "$dir").log" >&2; exit 1; }
}
build "$ACC" -DSISP_WOLFSSL=accelerated -DSISP_WOLFSSL_PREFIX="$ACC/wolfssl"
build "$SYS" -DSISP_WOLFSSL=system
"$ACC/server/sispd" --version | grep -q accelerated ||
    { say "$ACC fell back to the system wolfSSL (see $OUT/cmake-*.log)"; exit 1; }
"$SYS/server/sispd" --version | grep -q "system library" || { say "$SYS is not the system build"; exit 1; }

# ---- 3. the measurements: one load generator (the accelerated sisp-bench) for every server ----
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BENCH="$ACC/bench/sisp-bench"
[ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && BENCH="$BENCH --pin"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)"
    echo "# load at the start: $(cut -d' ' -f1-3 /proc/loadavg); ulimit -n $(ulimit -n)"
    echo "# accelerated: $("$ACC/server/sispd" --version | tail -1); system: $("$SYS/server/sispd" --version | tail -1)"
    echo "# nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), $("$NGINX" -V 2>&1 | sed -n 's/^built with //p')"
    echo "# mosquitto: $(dpkg-query -W -f='${Version}' mosquitto)"
    echo "# tree: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null)$(git -C "$ROOT" status --short -- server protocol client 2>/dev/null | awk 'NR == 1 { printf "; uncommitted:" } { printf " %s", $2 }')"
} >"$OUT/env.txt"
cat "$OUT/env.txt"

say "accelerated: handshakes bulk conc idle fanout client (CONNS=$CONNS, REPS=$REPS)"
$BENCH --sispd "$ACC/server/sispd" --echo "$ACC/bench/sisp-bench-echo" --nginx "$NGINX" \
    --mosquitto "$MOSQ" --sisp "$ACC/client/sisp" --reps "$REPS" --bulk-reps "$BULK_REPS" --conns "$CONNS" \
    handshakes bulk conc idle fanout client >"$OUT/acc.txt" 2>"$OUT/acc.log" || true
say "system: handshakes bulk conc idle client (idle at 1000)"
$BENCH --sispd "$SYS/server/sispd" --echo "$SYS/bench/sisp-bench-echo" --nginx "$NGINX" \
    --sisp "$SYS/client/sisp" --reps "$REPS" --bulk-reps "$BULK_REPS" --conns 1000 \
    handshakes bulk conc idle client >"$OUT/sys.txt" 2>"$OUT/sys.log" || true
say "sisp-bench-crypto --size 16, both builds"
"$ACC/bench/sisp-bench-crypto" --size 16 --reps "$REPS" >"$OUT/crypto-acc.txt" 2>&1 || true
"$SYS/bench/sisp-bench-crypto" --size 16 --reps "$REPS" >"$OUT/crypto-sys.txt" 2>&1 || true

# ---- 4. where the time goes: perf, in a pass of its own ----
if [ "$PERF" = 1 ]; then
    if perf record -q -e cpu-clock -o "$OUT/perf-probe.data" true >/dev/null 2>&1; then
        rm -f "$OUT/perf-probe.data"
        mkdir -p "$OUT/perf"
        say "profile pass (perf record -e cpu-clock, DWARF call graphs; the servers' timed windows, the client's commands)"
        common="--sispd $ACC/server/sispd --echo $ACC/bench/sisp-bench-echo --nginx $NGINX --perf $OUT/perf"
        # shellcheck disable=SC2086
        {
            $BENCH $common --reps 3 handshakes
            $BENCH $common --reps 20 bulk conc
            $BENCH $common --reps 3 --conns 1000,10000 fanout
            $BENCH $common --reps 3 --sisp "$ACC/client/sisp" client
        } >"$OUT/perf-run.txt" 2>"$OUT/perf-run.log" || true
        for f in "$OUT"/perf/*.data; do
            [ -f "$f" ] || continue
            perf report -i "$f" --stdio --no-children -g none --sort dso,sym --percent-limit 1 \
                2>/dev/null | grep -v '^$' >"${f%.data}.txt" || true
            perf report -i "$f" --stdio --no-children -g none --sort dso --percent-limit 1 \
                2>/dev/null | grep -v '^$' >"${f%.data}.dso.txt" || true
            perf report -i "$f" --stdio --children -g none --sort sym --percent-limit 3 \
                2>/dev/null | grep -v '^$' >"${f%.data}.children.txt" || true
            [ "$PERF_KEEP" = 1 ] || rm -f "$f" # DWARF stacks: hundreds of MB a run
        done
    else
        echo "perf does not work here: no profiles" >"$OUT/perf-none.txt"
        say "perf record does not work here: no profiles"
    fi
fi
fi # REPORT

# ---- 5. the table ----
med() { # file metric -> median
    awk -v m="$2" '$1 == m { print $3; exit }' "$1" 2>/dev/null
}
fmt() { # value [decimals]
    [ -n "$1" ] && awk -v v="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, v }' || printf '–'
}
usper() { # handshakes per cpu-s -> µs per handshake
    [ -n "$1" ] && awk -v v="$1" 'BEGIN { if (v > 0) printf "%.0f", 1e6 / v; else printf "–" }' || printf '–'
}
ratio() { # a b -> a/b
    [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }' || printf '–'
}
A="$OUT/acc.txt"
S="$OUT/sys.txt"
srow() { # label metric-pattern(%s = server) decimals
    printf '| %s |' "$1"
    for f in "$A" "$S"; do
        for k in echo sispd nginx; do
            m=$(printf "$2" "$k")
            printf ' %s |' "$(fmt "$(med "$f" "$m")" "$3")"
        done
    done
    echo
}
goals() { # title -> the head of a goals table
    printf '\n%s\n\n| goal | measured | |\n|---|---:|---|\n' "$1"
}
check() { # goal value op limit -> a table row
    if [ -z "$2" ]; then
        printf '| %s | – | not measured |\n' "$1"
        return
    fi
    awk -v g="$1" -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
        if (op == ">=") { ok = v >= l; by = (l - v) / l * 100; word = "short" }
        else { ok = v <= l; by = (v - l) / l * 100; word = "over" }
        if (ok) printf "| %s | %.2f | **met** |\n", g, v
        else printf "| %s | %.2f | **not met**: %.0f%% %s |\n", g, v, by, word
    }'
}
{
    echo "Run: $(sed -n 1p "$OUT/env.txt" | sed 's/^# //'); $(sed -n 2p "$OUT/env.txt" | sed 's/^# //')."
    echo "Tree: $(sed -n 's/^# tree: //p' "$OUT/env.txt")."
    echo "Negotiated: $(grep '^# tls' "$A" | sed 's/^# tls //' | paste -sd';' - | sed 's/;/; /g') (accelerated servers); $(grep '^# tls' "$S" | sed 's/^# tls //' | paste -sd';' - | sed 's/;/; /g') (system servers)."
    echo
    echo "Servers (medians of $REPS handshake rounds and of $BULK_REPS transfers; MB = 10^6 bytes; \"per server CPU-s\" = bytes moved / the server's CPU time):"
    echo
    echo "| figure | bare wolfSSL, acc | sispd, acc | nginx | bare wolfSSL, sys | sispd, sys | nginx |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    srow "handshakes per server CPU-s" "hs_%s_per_server_cpu_s" 0
    printf '| server CPU per handshake, µs |'
    for f in "$A" "$S"; do for k in echo sispd nginx; do printf ' %s |' "$(usper "$(med "$f" "hs_${k}_per_server_cpu_s")")"; done; done
    echo
    srow "handshakes per wall second" "hs_%s_wall" 0
    srow "16 MiB download, MB/s" "bulk_down_%s" 0
    srow "16 MiB download, MB per server CPU-s" "bulk_down_%s_per_core" 0
    srow "16 MiB upload, MB/s" "bulk_up_%s" 0
    srow "16 MiB upload, MB per server CPU-s" "bulk_up_%s_per_core" 0
    printf '| 16 MiB upload, bare wolfSSL that also SHA-256s what it receives: MB/s; MB per server CPU-s | %s; %s | | | %s; %s | | |\n' \
        "$(fmt "$(med "$A" bulk_up_echo_sha256)" 0)" "$(fmt "$(med "$A" bulk_up_echo_sha256_per_core)" 0)" \
        "$(fmt "$(med "$S" bulk_up_echo_sha256)" 0)" "$(fmt "$(med "$S" bulk_up_echo_sha256_per_core)" 0)"
    srow "8 × 4 MiB downloads at once, MB/s" "conc8_down_%s" 0
    srow "8 × 4 MiB downloads, MB per server CPU-s" "conc8_down_%s_per_core" 0
    srow "idle connections, KiB each (1,000)" "idle_%s_1000_per_conn" 1
    echo
    pinned="the scheduler placed the processes"
    grep -q pinned "$A" && pinned="every server on CPU 0, the load generator on CPU 1"
    echo "Each column group is one sisp-bench run: the two wolfSSL builds' servers, each next to the same nginx in its own run; the load is the accelerated sisp-bench for all; $pinned."
    echo
    echo "Fan-out, accelerated sispd (TLS) vs mosquitto (plain MQTT), one post / one QoS 0 PUBLISH:"
    echo
    echo "| N | sispd last after POSTED, ms | (after POST_END) | mosquitto last after PUBLISH, ms | last sispd/mosquitto | sispd p99, ms | sispd CPU per fan-out, ms | mosquitto CPU, ms | sispd KiB per idle connection |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for n in $(echo "$CONNS" | tr ',' ' '); do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
            "$(fmt "$(med "$A" "fanout_sispd_${n}_last")" 1)" \
            "$(fmt "$(med "$A" "fanout_sispd_${n}_last_from_post_end")" 1)" \
            "$(fmt "$(med "$A" "fanout_mosquitto_${n}_last")" 1)" \
            "$(fmt "$(med "$A" "fanout_${n}_last_sispd/mosquitto")" 2)" \
            "$(fmt "$(med "$A" "fanout_sispd_${n}_p99")" 1)" \
            "$(fmt "$(med "$A" "fanout_sispd_${n}_server_cpu")" 1)" \
            "$(fmt "$(med "$A" "fanout_mosquitto_${n}_server_cpu")" 1)" \
            "$(fmt "$(med "$A" "idle_sispd_${n}_per_conn")" 1)"
    done
    echo
    echo "The real client, 16 MiB (MB/s of plaintext; one process per command, as a user runs it):"
    echo
    echo "| build | post_image, MB/s (wall ms) | its CPU, ms: client, sispd | download, MB/s (wall ms) | its CPU, ms: client, sispd | seal, MB/s | open, MB/s | post_image / seal | download / open |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for b in acc sys; do
        f="$OUT/$b.txt"
        c="$OUT/crypto-$b.txt"
        pm=$(med "$f" client_post_image)
        dm=$(med "$f" client_download)
        sm=$(med "$c" seal)
        om=$(med "$c" open)
        printf '| %s | %s (%s) | %s, %s | %s (%s) | %s, %s | %s | %s | %s | %s |\n' \
            "$([ $b = acc ] && echo accelerated || echo system)" \
            "$(fmt "$pm")" "$(fmt "$(med "$f" client_post_image_wall)" 1)" \
            "$(fmt "$(med "$f" client_post_image_client_cpu)" 1)" "$(fmt "$(med "$f" client_post_image_sispd_cpu)" 1)" \
            "$(fmt "$dm")" "$(fmt "$(med "$f" client_download_wall)" 1)" \
            "$(fmt "$(med "$f" client_download_client_cpu)" 1)" "$(fmt "$(med "$f" client_download_sispd_cpu)" 1)" \
            "$(fmt "$sm")" "$(fmt "$om")" "$(ratio "$pm" "$sm")" "$(ratio "$dm" "$om")"
    done
    goals "Goals (issue #7), accelerated build, medians of the per-repetition ratios:"
    check "16 MiB download per server CPU-s ≥ 1.0× nginx" "$(med "$A" "bulk_down_sispd/nginx_per_core")" ">=" 1.0
    check "8 × 4 MiB downloads per server CPU-s ≥ 1.0× nginx" "$(med "$A" "conc8_down_sispd/nginx_per_core")" ">=" 1.0
    check "handshakes per server CPU-s ≥ 2× nginx" "$(med "$A" "hs_sispd/nginx")" ">=" 2.0
    for n in 1000 10000; do
        case ",$CONNS," in *",$n,"*)
            check "fan-out to $n, last arrival ≤ 1.0× mosquitto" "$(med "$A" "fanout_${n}_last_sispd/mosquitto")" "<=" 1.0 ;;
        esac
    done
    for n in $(echo "$CONNS" | tr ',' ' '); do
        check "≤ 64 KiB per idle connection ($n), KiB" "$(med "$A" "idle_sispd_${n}_per_conn")" "<=" 64
    done
    goals "Goals (issue #4, BRIEF §6), accelerated build, against bare wolfSSL in the same run:"
    check "handshakes per server CPU-s ≥ 0.8× bare wolfSSL" "$(med "$A" "hs_sispd/echo")" ">=" 0.8
    check "16 MiB download, MB/s ≥ 0.8× bare wolfSSL" "$(med "$A" "bulk_down_sispd/echo")" ">=" 0.8
    check "16 MiB download per server CPU-s ≥ 0.8× bare wolfSSL" "$(med "$A" "bulk_down_sispd/echo_per_core")" ">=" 0.8
    check "8 × 4 MiB downloads per server CPU-s ≥ 0.8× bare wolfSSL" "$(med "$A" "conc8_down_sispd/echo_per_core")" ">=" 0.8
    check "16 MiB upload, MB/s ≥ 0.8× bare wolfSSL" "$(med "$A" "bulk_up_sispd/echo")" ">=" 0.8
    check "16 MiB upload per server CPU-s ≥ 0.8× bare wolfSSL" "$(med "$A" "bulk_up_sispd/echo_per_core")" ">=" 0.8
    check "16 MiB upload per server CPU-s ≥ 0.8× bare wolfSSL + SHA-256 of what it receives" "$(med "$A" "bulk_up_sispd/echo_sha256_per_core")" ">=" 0.8
    grep -h '^# FAILED' "$A" "$S" 2>/dev/null | sed 's/^# FAILED: /- **failed:** /' || true
} >"$OUT/table.md"
echo
cat "$OUT/table.md"

if [ "$DOC" = 1 ]; then
    doc="$ROOT/docs/BENCHMARKS.md"
    begin='<!-- bench/peers.sh: table begin -->'
    end='<!-- bench/peers.sh: table end -->'
    if grep -qF "$begin" "$doc" && grep -qF "$end" "$doc"; then
        awk -v b="$begin" -v e="$end" -v t="$OUT/table.md" '
            $0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
            $0 == e { skip = 0 }
            !skip { print }' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
        say "table written into $doc"
    else
        say "no table markers in $doc: not written"
    fi
fi
[ "$REPORT" = 0 ] && say "done in $(($(date +%s) - start)) s; figures, logs and profiles in $OUT"
grep -q '^# FAILED' "$A" "$S" 2>/dev/null && exit 1
exit 0
