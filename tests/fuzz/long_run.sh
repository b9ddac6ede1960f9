#!/bin/bash
# Runs every fuzzer for a long time on a corpus kept between runs (CI runs each for tens of
# seconds; this is the run for hours). For each fuzzer: the repository's seeds are merged
# into CORPUS/NAME, the fuzzer runs SECONDS on it (one process per core, -fork), the new
# inputs are merged back (minimised: only inputs that add coverage are kept), and the edges
# covered by the corpus before and after and the executions are reported; crashes are left
# in CORPUS/NAME-crashes and make the script fail.
#
#   [NLC_FUZZ_JOBS=N] bash tests/fuzz/long_run.sh BUILD CORPUS [SECONDS_EACH]     (default 3600; N processes, default nproc)
#
# BUILD: a fuzzing build (scripts/test.sh makes build-test-fuzz; or
#   CC=clang CXX=clang++ cmake -S . -B BUILD -DNLC_FUZZ=ON -DNLC_SANITIZE=ON -DNLC_CUDA=OFF
#   -DNLC_WERROR=OFF -DNLC_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo), built here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:?usage: long_run.sh BUILD CORPUS [SECONDS_EACH]}
CORPUS=${2:?usage: long_run.sh BUILD CORPUS [SECONDS_EACH]}
SECONDS_EACH=${3:-3600}
JOBS=${NLC_FUZZ_JOBS:-$(nproc)}  # processes per fuzzer; fewer leaves cores for other work
cmake --build "$BUILD" -j"$JOBS" --target decode_fuzzer model_fuzzer image_fuzzer rans_fuzzer c_api_fuzzer nlc >/dev/null
mkdir -p "$CORPUS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The decoder's seeds are streams the encoder makes (run_fuzzer.sh writes them to its work
# folder); the others are in the repository.
seeds_of() {  # NAME -> the seed folder
  case $1 in
    decode)
      local w="$CORPUS/.decode-seeds"
      if [ ! -d "$w/corpus" ]; then
        bash "$SRC/tests/fuzz/run_fuzzer.sh" "$BUILD/tests/decode_fuzzer" "$BUILD/nlc" "$SRC" "$w" 1 >/dev/null 2>&1 || true
      fi
      echo "$w/corpus" ;;
    image) echo "$SRC/tests/fuzz/seeds/image" ;;
    rans) echo "$SRC/tests/fuzz/seeds/rans" ;;
    c_api) echo "$SRC/tests/fuzz/seeds/c_api" ;;
    model) local d="$CORPUS/.model-seeds"; mkdir -p "$d"; cp "$SRC/tests/data/tiny.nlcm" "$SRC"/tests/fuzz/seeds/model/* "$d/"; echo "$d" ;;
  esac
}
max_len_of() {
  case $1 in decode) echo 65536 ;; model) echo 131072 ;; image) echo 4096 ;; rans) echo 8192 ;; c_api) echo 16384 ;; esac
}
# Edges the corpus covers: libFuzzer's "cov:" after it has run every input once.
coverage() {  # FUZZER DIR
  "$1" -runs=0 -max_len="$3" "$2" 2>&1 | grep -oE "INITED cov: [0-9]+" | tail -1 | awk '{print $3}'
}

status=0
printf '%-8s %10s %10s %14s %8s\n' fuzzer "edges in" "edges out" executions inputs
for name in decode model image rans c_api; do
  fuzzer="$BUILD/tests/${name}_fuzzer"
  dir="$CORPUS/$name"
  crashes="$CORPUS/$name-crashes"
  mkdir -p "$dir" "$crashes"
  len=$(max_len_of $name)
  "$fuzzer" -merge=1 -max_len="$len" "$dir" "$(seeds_of $name)" >/dev/null 2>&1
  before=$(coverage "$fuzzer" "$dir" "$len")
  log="$CORPUS/$name.log"
  set +e
  (cd "$crashes" && "$fuzzer" -fork="$JOBS" -ignore_crashes=0 -max_total_time="$SECONDS_EACH" -max_len="$len" \
     -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 "$dir") >"$log" 2>&1
  rc=$?
  set -e
  # -fork writes new inputs into the corpus folder; keep the minimal set that covers as much.
  mkdir -p "$dir.min"
  "$fuzzer" -merge=1 -max_len="$len" "$dir.min" "$dir" >/dev/null 2>&1
  rm -rf "$dir" && mv "$dir.min" "$dir"
  after=$(coverage "$fuzzer" "$dir" "$len")
  # -fork's status lines begin "#EXECUTIONS:" (all jobs together); the last one counts.
  execs=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#')
  printf '%-8s %10s %10s %14s %8s\n' "$name" "$before" "$after" "$execs" "$(ls "$dir" | wc -l)"
  if [ $rc -ne 0 ] || ls "$crashes" | grep -qE '^(crash|leak|timeout|oom)-'; then
    echo "  $name: a finding; see $log and $crashes" >&2
    status=1
  fi
done
exit $status
