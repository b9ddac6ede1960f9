#!/bin/bash
# Builds FFmpeg with nlc's filter (vf_nlc) and codec wrapper (libnlc) into build/ffmpeg/.
#
# FFmpeg 5.1 (Debian 12) cannot load filters or codecs from outside its tree, so, as for the
# libvmaf filter and the libjxl wrapper, ours are compiled into an FFmpeg built here:
#   1. nlc's library is installed into build/nlc-prefix/ (found by FFmpeg's configure
#      through pkg-config: nlc.pc);
#   2. Debian's FFmpeg source is fetched with `apt-get source ffmpeg` (a deb-src entry is
#      added when none is configured; run as root or with sudo for that step);
#   3. vf_nlc.c and libnlc.c are copied in and ffmpeg-5.1-nlc.patch registers them
#      (configure --enable-libnlc, the Makefiles, the filter and codec lists, the codec id,
#      its Matroska "V_NLC" and NUT/RIFF "NLCI" tags);
#   4. a small FFmpeg is configured (only the components media pipelines around nlc need)
#      and built.
# Usage: bash ffmpeg/build.sh   (after the nlc build in build/; NLC_BUILD=DIR to change)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
PREFIX=$BUILD/nlc-prefix
SRC_PARENT=$BUILD/ffmpeg-src
OUT=$BUILD/ffmpeg
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

[ -f "$BUILD/CMakeCache.txt" ] || { echo "build.sh: no nlc build in $BUILD (run scripts/test.sh or cmake first)" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null

# ---- FFmpeg source from Debian ----
src=$(ls -d "$SRC_PARENT"/ffmpeg-5.1.* 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
  if ! grep -rqs "^Types:.*deb-src\|^deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "build.sh: adding a deb-src entry for Debian's sources"
    [ -f /etc/apt/sources.list.d/debian.sources ] || { echo "build.sh: no deb-src configured and no debian.sources to derive one from" >&2; exit 1; }
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/nlc-deb-src.sources >/dev/null
  fi
  $SUDO apt-get update -qq
  mkdir -p "$SRC_PARENT"
  (cd "$SRC_PARENT" && apt-get source -qq ffmpeg >/dev/null)
  src=$(ls -d "$SRC_PARENT"/ffmpeg-5.1.* 2>/dev/null | head -1 || true)
  [ -n "$src" ] || { echo "build.sh: apt-get source did not give FFmpeg 5.1" >&2; exit 1; }
fi
cp "$ROOT/ffmpeg/vf_nlc.c" "$src/libavfilter/vf_nlc.c"
cp "$ROOT/ffmpeg/libnlc.c" "$src/libavcodec/libnlc.c"
if ! patch -d "$src" -p1 -R --dry-run -s -f < "$ROOT/ffmpeg/ffmpeg-5.1-nlc.patch" >/dev/null 2>&1; then
  patch -d "$src" -p1 -s < "$ROOT/ffmpeg/ffmpeg-5.1-nlc.patch"
fi

# ---- configure (only when the options or the patch change) and build ----
CONFIG=(
  --disable-everything --disable-autodetect --enable-zlib --disable-doc --disable-ffplay
  --disable-x86asm   # no nasm dependency; the C paths are enough for tests and pipelines
  --enable-libnlc --extra-ldflags="-Wl,-rpath,$PREFIX/lib"
  --enable-decoder=h264,hevc,vp9,png,ffv1,rawvideo,libnlc
  --enable-encoder=ffv1,png,rawvideo,libnlc,wrapped_avframe
  --enable-parser=h264,hevc,vp9,png
  --enable-demuxer=mov,matroska,nut,image2,image_png_pipe,rawvideo
  --enable-muxer=mp4,mov,matroska,nut,image2,rawvideo,null,framemd5,md5
  --enable-protocol=file,pipe
  --enable-indev=lavfi
  --enable-filter=nlc,scale,format,psnr,ssim,metadata,null,testsrc2,trim,setpts,split,fps,movie,vflip
)
mkdir -p "$OUT"
stamp="$(printf '%s\n' "${CONFIG[@]}" | md5sum) $(md5sum < "$ROOT/ffmpeg/ffmpeg-5.1-nlc.patch")"
if [ ! -f "$OUT/config.h" ] || [ "$(cat "$OUT/.nlc-config" 2>/dev/null)" != "$stamp" ]; then
  echo "build.sh: configuring FFmpeg ($(basename "$src")) in $OUT"
  (cd "$OUT" && PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" "$src/configure" "${CONFIG[@]}" >configure.log 2>&1) ||
    { tail -30 "$OUT/configure.log"; tail -30 "$OUT/ffbuild/config.log" 2>/dev/null; exit 1; }
  echo "$stamp" > "$OUT/.nlc-config"
fi
echo "build.sh: building FFmpeg in $OUT"
make -C "$OUT" -j"$(nproc)" ffmpeg ffprobe >"$OUT/make.log" 2>&1 || { tail -40 "$OUT/make.log"; exit 1; }
"$OUT/ffmpeg" -hide_banner -filters 2>/dev/null | grep -q " nlc " || { echo "build.sh: the nlc filter is missing" >&2; exit 1; }
echo "build.sh: $OUT/ffmpeg and $OUT/ffprobe are ready (nlc filter and libnlc codec)"
