#!/bin/bash
# The main job on a fresh machine: install dependencies, build, run the bundled model on the
# bundled image, write the reconstruction, print the estimated rate and the PSNR.
#   bash scripts/demo.sh [IMAGE.png] [QUALITY]
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=${1:-assets/kodim23.png}
Q=${2:-3}
bash scripts/install_deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNLC_BUILD_TESTS=OFF -DNLC_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target nlc >/dev/null
./build/nlc estimate "$IMG" -q "$Q" -o build/reconstruction.png
