#!/bin/bash
# The main job on a fresh machine: install dependencies, build, then code the bundled image
# with the bundled model: encode to build/demo.nlc, show the stream, decode to
# build/reconstruction.png, print the PSNR.
#   bash scripts/demo.sh [IMAGE.png] [QUALITY]
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=${1:-assets/kodim23.png}
Q=${2:-3}
bash scripts/install_deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNLC_BUILD_TESTS=OFF -DNLC_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target nlc >/dev/null
./build/nlc encode "$IMG" -q "$Q" -o build/demo.nlc
./build/nlc info build/demo.nlc
./build/nlc decode build/demo.nlc -o build/reconstruction.png
./build/nlc compare "$IMG" build/reconstruction.png
