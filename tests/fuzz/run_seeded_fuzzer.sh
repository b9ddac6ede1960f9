#!/bin/bash
# Runs a libFuzzer target for a bounded time from a seed corpus (the files given, copied),
# and fails on any finding: the model loader and image reader fuzzers (the decoder's has its own
# script, run_fuzzer.sh, which makes its seeds with the encoder).
#   run_seeded_fuzzer.sh NAME FUZZER WORK SECONDS MAX_LEN SEED...
set -euo pipefail
NAME=$1; FUZZER=$2; WORK=$3; SECONDS_=$4; MAX_LEN=$5; shift 5
rm -rf "$WORK"; mkdir -p "$WORK/corpus"
cp "$@" "$WORK/corpus/"
echo "seed corpus: $(ls "$WORK/corpus" | wc -l) files"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
"$FUZZER" -max_total_time="$SECONDS_" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 "$WORK/corpus" 2>&1 | tee "$WORK/fuzz.log" |
  grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|stat::number_of_executed_units" || true
status=${PIPESTATUS[0]}
if grep -q "ERROR: " "$WORK/fuzz.log"; then
  echo "$NAME: FINDING"; grep -A30 "ERROR: " "$WORK/fuzz.log" | head -60; exit 1
fi
execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$WORK/fuzz.log" | grep -o "[0-9]*$")
cov=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$WORK/fuzz.log" | grep -o "cov: [0-9]*" | tail -1)
echo "$NAME: ${execs:-?} executions in ${SECONDS_} s without a finding (${cov:-cov: ?} edges)"
exit "$status"
