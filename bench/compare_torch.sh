#!/bin/bash
# Runtime vs PyTorch on the same model, image and machine, in the same run.
#   bash bench/compare_torch.sh [BUILD_DIR]     (default: build)
# Prints the median times and the ratios PyTorch / nlc for g_a, g_s and decode.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${NLC_PYTHON:-/usr/bin/python3}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
"$BUILD/bench/bench_model" --benchmark_filter='g_a|g_s|decode' --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_out="$OUT/nlc.json" \
  --benchmark_out_format=json >/dev/null
"$PY" "$ROOT/bench/torch_peer.py" --json "$OUT/torch.json" >/dev/null
"$PY" - "$OUT/nlc.json" "$OUT/torch.json" <<'PYEOF'
import json, sys, platform
nlc = json.load(open(sys.argv[1])); pt = json.load(open(sys.argv[2]))
ms = {}
for b in nlc["benchmarks"]:
    if b.get("aggregate_name") == "median":
        name = b["run_name"].split("/")[0].replace("BM_", "")
        ms[name] = b["real_time"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine: {cpu}, {nlc['context']['num_cpus']} cores; torch {pt['torch']} "
      f"({pt['threads']} threads, BLAS {', '.join(pt['blas']) or 'none found'})")
print(f"image {pt['image']} {pt['size'][1]}x{pt['size'][0]}")
print(f"{'stage':8} {'nlc ms':>9} {'torch ms':>9} {'torch/nlc':>9}")
for k in ("g_a", "g_s", "decode"):
    print(f"{k:8} {ms[k]:9.1f} {pt['ms'][k]:9.1f} {pt['ms'][k] / ms[k]:9.2f}")
PYEOF
