#!/bin/sh
# run_fuzzer.sh BINARY SEED_CORPUS DICT SECONDS WORKDIR
# Fuzzes for SECONDS on a scratch copy of the seed corpus (the committed corpus is never
# modified). libFuzzer exits non-zero on a crash, a sanitizer report, a leak or a timeout;
# the offending input is left in WORKDIR for replay.
set -eu
bin=$1 seeds=$2 dict=$3 secs=$4 work=$5
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
    -dict="$dict" -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
