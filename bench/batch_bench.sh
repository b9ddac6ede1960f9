#!/bin/bash
# Throughput of `python3 -m nlc.batch` (Dask LocalCluster, 1 and 2 worker processes of one
# coding thread each) against a plain shell loop over `nlc encode` (one process per image,
# with all cores, and with one thread), on one folder of images at one quality: images/s
# and MB/s of input, each run from empty outputs. Default folder: the Kodak images
# (throughput only; nothing is tuned on them).
# Usage: bash bench/batch_bench.sh [DIR] [Q]       (after the README's build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/../shared/data/kodak}
Q=${2:-2}
NLC=$ROOT/build/nlc
export PYTHONPATH=$ROOT/build/python${PYTHONPATH:+:$PYTHONPATH}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mapfile -t FILES < <(find "$DIR" -maxdepth 1 -type f -name '*.png' | sort)
N=${#FILES[@]}
[ "$N" -gt 0 ] || { echo "no PNG files in $DIR" >&2; exit 1; }
MB=$(du -cb "${FILES[@]}" | tail -1 | awk '{print $1 / 1e6}')
echo "$N images, $MB MB, quality $Q, $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-44s %8s %9s %8s\n' "run" "seconds" "images/s" "MB/s"
report() {  # NAME SECONDS
  awk -v n="$1" -v s="$2" -v c="$N" -v mb="$MB" 'BEGIN { printf "%-44s %8.2f %9.2f %8.2f\n", n, s, c / s, mb / s }'
}
timed() {  # seconds of the command
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
loop() {  # THREADS
  for f in "${FILES[@]}"; do "$NLC" encode "$f" -q "$Q" --threads "$1" -o "$WORK/loop.nlc"; done
}
report "shell loop over nlc encode, --threads $(nproc)" "$(timed loop "$(nproc)")"
report "shell loop over nlc encode, --threads 1" "$(timed loop 1)"
for w in 1 2; do
  rm -rf "$WORK/out"
  s=$(timed /usr/bin/python3 -m nlc.batch "$DIR" "$WORK/out" -q "$Q" --workers "$w" --threads 1 --include '*.png' \
        --no-progress)
  report "nlc.batch, $w worker(s) x 1 thread (incl. start)" "$s"
done
# The cluster's own start (workers importing numpy and nlc) apart: the same job on a folder
# of one small image.
mkdir -p "$WORK/one"
/usr/bin/python3 -c 'import sys, numpy as np, nlc; nlc.write_image(sys.argv[1], np.zeros((16, 16, 3), np.uint8))' \
  "$WORK/one/x.png"
s=$(timed /usr/bin/python3 -m nlc.batch "$WORK/one" "$WORK/o1" -q "$Q" --workers 2 --no-progress)
printf '%-44s %8.2f\n' "nlc.batch, 2 workers, 1 tiny image (overhead)" "$s"
# The scheduler's own cost a task (where a cluster stops scaling): 5,000 trivial tasks
# through a LocalCluster of 2 workers.
# (A file, not stdin: Dask's worker processes are spawned and re-import the main module.)
cat > "$WORK/scheduler_cost.py" <<'PY'
import time
from distributed import Client, LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as cl:
        cl.gather(cl.map(abs, range(100), pure=False))  # warm
        t0 = time.perf_counter()
        cl.gather(cl.map(abs, range(5000), pure=False))
        s = time.perf_counter() - t0
    print(f"{'Dask scheduler, 5,000 trivial tasks':44s} {s:8.2f} {5000 / s:9.0f} tasks/s ({1000 * s / 5000:.2f} ms a task)")
PY
/usr/bin/python3 "$WORK/scheduler_cost.py" 2>/dev/null
