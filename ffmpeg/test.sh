#!/bin/bash
# The FFmpeg integration through real ffmpeg command lines (run by scripts/test.sh after
# ffmpeg/build.sh): a testsrc2 clip goes through the nlc filter and the libnlc codec.
# Asserts the frame metadata, that the streams the filter writes decode with `nlc decode`
# to the filter's own output, and that Matroska and NUT round trips give the same frames.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
FF=$BUILD/ffmpeg/ffmpeg
NLC=$BUILD/nlc
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; return 1; fi; }
ff() { "$FF" -hide_banner -nostdin -loglevel error -y "$@"; }
md5s() { grep -v '^#' "$1" | awk -F, '{ print $NF }'; }  # per-frame MD5s of a framemd5 file

# A 5-frame RGB clip (rawvideo keeps it exact) and its first frame as a PNG.
ff -f lavfi -i testsrc2=size=200x120:rate=5:duration=1 -pix_fmt rgb24 -c:v rawvideo clip.nut
ff -i clip.nut -frames:v 1 src1.png
check "testsrc2 clip made" '[ -s clip.nut ] && [ -s src1.png ]'

# Filter: metadata, streams=, output frames.
ff -i clip.nut -vf "nlc=quality=2:threads=2:streams=s%03d.nlc,metadata=print:file=meta.txt" \
   -f framemd5 filter.md5
check "filter ran on 5 frames" '[ "$(md5s filter.md5 | wc -l)" = 5 ] && [ -s s005.nlc ]'
bytes=$(grep -m1 "lavfi.nlc.bytes=" meta.txt | cut -d= -f2)
bpp=$(grep -m1 "lavfi.nlc.bpp=" meta.txt | cut -d= -f2)
psnr=$(grep -m1 "lavfi.nlc.psnr=" meta.txt | cut -d= -f2)
check "lavfi.nlc.bytes is the stream's size ($bytes)" '[ "$bytes" = "$(stat -c %s s001.nlc)" ]'
check "lavfi.nlc.bpp is 8 x bytes / pixels ($bpp)" \
  '[ "$bpp" = "$(awk -v b="$bytes" "BEGIN { printf \"%.6f\", 8 * b / (200 * 120) }")" ]'
"$NLC" decode s001.nlc -o dec1.png 2>/dev/null
want=$("$NLC" compare src1.png dec1.png | awk '{ print $2 }')
check "lavfi.nlc.psnr is the decoded frame's PSNR ($psnr, nlc compare: $want)" \
  '[ "$(awk -v p="$psnr" "BEGIN { printf \"%.3f\", p }")" = "$want" ]'
ff -i dec1.png -pix_fmt rgb24 -f framemd5 dec1.md5
check "frame 1 written by streams= decodes with nlc decode to the filter's output" \
  '[ "$(md5s dec1.md5)" = "$(md5s filter.md5 | head -1)" ]'

# The metadata through ffprobe (lavfi input: the filter graph reads the clip itself).
"$BUILD/ffmpeg/ffprobe" -v error -f lavfi -i "movie=clip.nut,nlc=quality=2" \
  -show_entries frame_tags=lavfi.nlc.bytes -of csv=p=0 > probe.txt
check "ffprobe reads lavfi.nlc.bytes ($(head -1 probe.txt))" '[ "$(head -1 probe.txt)" = "$bytes" ] && [ "$(wc -l < probe.txt)" = 5 ]'

# Codec: Matroska and NUT round trips give the filter's frames.
ff -i clip.nut -c:v libnlc -q:v 2 rt.mkv
ff -i rt.mkv -f framemd5 mkv.md5
check "mkv round trip (-c:v libnlc -q:v 2) gives the filter's frames" '[ "$(md5s mkv.md5)" = "$(md5s filter.md5)" ]'
ff -i clip.nut -c:v libnlc -quality 2 rt.nut
ff -i rt.nut -f framemd5 nut.md5
check "nut round trip gives the same frames" '[ "$(md5s nut.md5)" = "$(md5s filter.md5)" ]'
ff -i rt.mkv out%04d.png
check "mkv decodes to PNGs" '[ -s out0005.png ] && [ ! -e out0006.png ]'
check "each mkv packet is an .nlc stream" '"$NLC" info s003.nlc >/dev/null'

# gbrp is the same RGB in planes: the filter must give the same frames as from rgb24.
ff -i clip.nut -vf "format=gbrp,nlc=quality=2,format=rgb24" -f framemd5 gbrp.md5
check "gbrp input gives the rgb24 input's frames" '[ "$(md5s gbrp.md5)" = "$(md5s filter.md5)" ]'

# Bottom-up frames (negative line sizes, as vflip makes them) code like any others: flipping
# before the codec equals flipping the filter's input.
ff -i clip.nut -vf vflip -c:v libnlc -q:v 2 flip.mkv
ff -i flip.mkv -f framemd5 flip.md5
ff -i clip.nut -vf "vflip,format=rgb24,nlc=quality=2" -f framemd5 flipfilter.md5
check "vflipped frames through the codec equal them through the filter" \
  '[ -s flip.md5 ] && [ "$(md5s flip.md5)" = "$(md5s flipfilter.md5)" ]'

# yuv420p in, yuv420p out (converted for coding and back).
ff -f lavfi -i testsrc2=size=64x48:rate=5:duration=0.4 -vf nlc=q=1 -pix_fmt yuv420p -c:v ffv1 yuv.mkv
check "yuv420p passes through the filter" '[ -s yuv.mkv ]'

# Errors: clear messages, no crash.
refused() {  # refused DESCRIPTION MESSAGE FILTER-OPTIONS: ffmpeg fails and says MESSAGE
  local msg=$2
  "$FF" -hide_banner -nostdin -y -i clip.nut -vf "nlc=$3" -f null - 2>err.txt; local rc=$?
  check "$1 (exit $rc)" '[ $rc != 0 ] && [ $rc -lt 128 ] && grep -q "$msg" err.txt' || cat err.txt
}
refused "missing model is an error that names it" "cannot load the nlc model" model=/no/such.nlcm
# device= goes through libnlc's device selection: cuda codes on a GPU where one is usable,
# else it is refused with the reason; auto always codes.
"$FF" -hide_banner -nostdin -y -i clip.nut -vf nlc=device=cuda -f null - 2>err.txt; rc=$?
if [ $rc = 0 ]; then
  check "device=cuda codes on this machine's GPU" 'true'
else
  check "device=cuda without a usable GPU is refused with the reason (exit $rc)" \
    '[ $rc -lt 128 ] && grep -q "device cannot be used.*device cuda" err.txt' || cat err.txt
fi
"$FF" -hide_banner -nostdin -y -i clip.nut -vf nlc=device=auto:q=1 -f null - 2>err.txt; rc=$?
check "device=auto codes (on the GPU or the CPU)" '[ $rc = 0 ]' || cat err.txt
refused "quality above the model's range is refused" "above the model" quality=99
refused "streams= without a frame number is refused" "frame number" streams=plain.nlc
head -c 3000 rt.mkv > cut.mkv
"$FF" -hide_banner -nostdin -y -i cut.mkv -f null - 2>/dev/null; rc=$?
check "truncated mkv does not crash ffmpeg (exit $rc)" '[ $rc -lt 128 ]'
exit $fail
