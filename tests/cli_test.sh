#!/bin/bash
# The nlc command line: the main job works, and bad input gives the documented exit codes
# (1: failure with a message, 2: usage) instead of a crash.
set -u
NLC=$1; SRC=$2
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail=0
expect() {  # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"; local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; cat "$TMP/out" "$TMP/err"; fail=1
  else
    echo "ok: $what (exit $got)"
  fi
}
M="$SRC/tests/data/tiny.nlcm"
expect 0 "estimate with a model" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" -q 2.5 -o "$TMP/rec.png"
grep -q "estimated rate" "$TMP/out" || { echo "FAIL: no rate printed"; fail=1; }
[ -s "$TMP/rec.png" ] || { echo "FAIL: no reconstruction written"; fail=1; }
expect 0 "reference kernels" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" --reference -q 0
expect 0 "model-info" -- "$NLC" model-info -m "$M"
expect 0 "--help" -- "$NLC" --help
expect 2 "no command" -- "$NLC"
expect 2 "unknown option" -- "$NLC" estimate x.png --frobnicate
expect 2 "bad quality" -- "$NLC" estimate x.png -q abc
expect 2 "tile not a multiple of 64" -- "$NLC" encode x.png -o "$TMP/t.nlc" --tile 100
expect 2 "tile overlap over half a tile" -- "$NLC" encode x.png -o "$TMP/t.nlc" --tile 64:48
expect 0 "overlapping tiles" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -q 1 --tile 256:32 -o "$TMP/t.nlc"
expect 0 "overlapping tiles decode" -- "$NLC" decode "$TMP/t.nlc" -m "$M" -o "$TMP/t.png"
if ! "$NLC" info "$TMP/t.nlc" | grep -q "tiles *256 overlapping by 32"; then echo "FAIL: info shows the overlap"; fail=1; fi
# CLC (bitstream 1.3): --clc takes the bundled CLC model ($NLC_CLC_MODEL here: the small
# test one); the default decoder finds it by the stream's model identity.
C="$SRC/tests/data/tiny-clc.nlcm"
expect 0 "encode --clc" -- env NLC_CLC_MODEL="$C" "$NLC" encode --clc "$SRC/assets/kodim23.png" -q 2 -o "$TMP/clc.nlc"
if ! "$NLC" info "$TMP/clc.nlc" | grep -q "REFERENCE"; then echo "FAIL: no REFERENCE section in a CLC stream"; fail=1; fi
if ! "$NLC" info "$TMP/clc.nlc" | grep -q "version *1.3"; then echo "FAIL: a CLC stream is not 1.3"; fail=1; fi
expect 0 "a CLC stream decodes with the default decoder" -- env NLC_CLC_MODEL="$C" "$NLC" decode "$TMP/clc.nlc" -o "$TMP/clc.png"
expect 0 "and with its model" -- "$NLC" decode "$TMP/clc.nlc" -m "$C" -o "$TMP/c2.png"
cmp -s "$TMP/clc.png" "$TMP/c2.png" || { echo "FAIL: CLC decodes differ"; fail=1; }
expect 1 "a CLC stream and a model without dictionary" -- "$NLC" decode "$TMP/clc.nlc" -m "$M" -o "$TMP/c3.png"
grep -q "has no dictionary" "$TMP/err" || { echo "FAIL: the missing dictionary is not named"; fail=1; }
expect 1 "missing input" -- "$NLC" estimate "$TMP/none.png" -m "$M"
expect 1 "quality out of range" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" -q 9
echo junk > "$TMP/junk.png"
expect 1 "not a PNG" -- "$NLC" estimate "$TMP/junk.png" -m "$M"
head -c 1000 "$M" > "$TMP/cut.nlcm"
expect 1 "truncated model" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$TMP/cut.nlcm"
grep -q "truncated" "$TMP/err" || { echo "FAIL: truncation not named"; fail=1; }
expect 1 "output folder missing" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" -o "$TMP/no/such/dir/x.png"
# encode / decode / info, files and pipes
expect 0 "encode" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -q 1.5 -o "$TMP/a.nlc"
expect 0 "decode" -- "$NLC" decode "$TMP/a.nlc" -m "$M" -o "$TMP/a.png"
expect 0 "info" -- "$NLC" info "$TMP/a.nlc"
bytes=$(stat -c %s "$TMP/a.nlc")
want=$(awk -v b="$bytes" 'BEGIN { printf "%.6f", 8 * b / (768 * 512) }')
grep -q "bpp         $want" "$TMP/out" || { echo "FAIL: info bpp is not 8 x bytes / pixels ($want)"; cat "$TMP/out"; fail=1; }
"$NLC" encode - -m "$M" -q 1.5 -o - < "$SRC/assets/kodim23.png" > "$TMP/b.nlc" 2>/dev/null
cmp -s "$TMP/a.nlc" "$TMP/b.nlc" || { echo "FAIL: stdin/stdout encode differs"; fail=1; }
"$NLC" decode - -m "$M" -o - < "$TMP/a.nlc" > "$TMP/b.png" 2>/dev/null
cmp -s "$TMP/a.png" "$TMP/b.png" || { echo "FAIL: stdin/stdout decode differs"; fail=1; }
# Decoding limits: a stream over --max-pixels is refused (exit 1, the limit named); at the
# image's size it decodes; bad values are usage errors.
expect 1 "decode over --max-pixels" -- "$NLC" decode "$TMP/a.nlc" -m "$M" --max-pixels 393215 -o "$TMP/lim.png"
grep -q "larger than the limit of 393215 pixels" "$TMP/err" || { echo "FAIL: pixel limit not named"; cat "$TMP/err"; fail=1; }
[ ! -e "$TMP/lim.png" ] || { echo "FAIL: output written despite the limit"; fail=1; }
expect 0 "decode at --max-pixels" -- "$NLC" decode "$TMP/a.nlc" -m "$M" --max-pixels 393216 --max-seconds 600 -o "$TMP/lim.png"
expect 2 "bad --max-pixels" -- "$NLC" decode "$TMP/a.nlc" -m "$M" --max-pixels 0 -o "$TMP/lim.png"
expect 2 "bad --max-seconds" -- "$NLC" decode "$TMP/a.nlc" -m "$M" --max-seconds -1 -o "$TMP/lim.png"
head -c 100 "$TMP/a.nlc" > "$TMP/cut.nlc"
expect 1 "truncated stream" -- "$NLC" decode "$TMP/cut.nlc" -m "$M" -o "$TMP/c.png"
grep -q "invalid stream" "$TMP/err" || { echo "FAIL: truncation not reported as invalid stream"; fail=1; }
[ ! -e "$TMP/c.png" ] || { echo "FAIL: a failed decode left an output"; fail=1; }
expect 1 "wrong model" -- "$NLC" decode "$TMP/a.nlc" -o "$TMP/d.png"
grep -q "wrong model" "$TMP/err" || { echo "FAIL: wrong model not named"; fail=1; }
expect 2 "encode without -o" -- "$NLC" encode "$SRC/assets/kodim23.png"
# Outputs: a device is written, not replaced; a read-only file is refused unless --force.
expect 0 "encode to /dev/null" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -o /dev/null
[ -c /dev/null ] || { echo "FAIL: /dev/null is no longer a character device"; fail=1; }
cp "$TMP/a.nlc" "$TMP/ro.nlc" && chmod 444 "$TMP/ro.nlc"
expect 1 "read-only output refused" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -q 0 -o "$TMP/ro.nlc"
grep -q "read-only" "$TMP/err" || { echo "FAIL: read-only output not explained"; fail=1; }
expect 0 "read-only output with --force" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -q 0 -o "$TMP/ro.nlc" --force
[ "$(stat -c %a "$TMP/ro.nlc")" = 444 ] || { echo "FAIL: --force changed the mode"; fail=1; }
# The INR codec: no model file; any decoder decodes it; progress on stderr; Ctrl-C stops the
# fit and still writes a valid stream.
/usr/bin/python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").crop((300, 150, 364, 198)).save(sys.argv[2])' \
  "$SRC/assets/kodim23.png" "$TMP/crop.png"
# Inputs by content (JPEG with an EXIF rotation, PPM, PGM), PNM output by name.
/usr/bin/python3 -c '
import sys; from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB"); ex = Image.Exif(); ex[0x0112] = 6
im.save(sys.argv[2] + "/rot.jpg", format="JPEG", quality=95, exif=ex)
im.save(sys.argv[2] + "/crop.ppm"); im.convert("L").save(sys.argv[2] + "/gray.pgm")
im.save(sys.argv[2] + "/notjpeg.jpg", format="PNG")' "$TMP/crop.png" "$TMP"
expect 0 "encode a JPEG" -- "$NLC" encode "$TMP/rot.jpg" -m "$M" -q 3 -o "$TMP/rot.nlc"
expect 0 "decode to PPM" -- "$NLC" decode "$TMP/rot.nlc" -m "$M" -o "$TMP/rot.ppm"
[ "$(head -c 9 "$TMP/rot.ppm" | tr '\n' ' ')" = "P6 48 64 " ] ||
  { echo "FAIL: the JPEG's EXIF rotation (48x64 PPM expected)"; head -c 16 "$TMP/rot.ppm"; fail=1; }
expect 0 "encode a PPM" -- "$NLC" encode "$TMP/crop.ppm" -m "$M" -q 3 -o "$TMP/ppm.nlc"
expect 0 "compare PNG with PPM" -- "$NLC" compare "$TMP/crop.png" "$TMP/crop.ppm"
grep -q "PSNR-RGB inf dB" "$TMP/out" || { echo "FAIL: PPM differs from its PNG"; cat "$TMP/out"; fail=1; }
expect 0 "encode a PGM" -- "$NLC" encode "$TMP/gray.pgm" -m "$M" -q 3 -o "$TMP/pgm.nlc"
expect 0 "a PNG named .jpg (content decides)" -- "$NLC" encode "$TMP/notjpeg.jpg" -m "$M" -q 3 -o "$TMP/x.nlc"
expect 1 "an RGB image to .pgm" -- "$NLC" decode "$TMP/rot.nlc" -m "$M" -o "$TMP/x.pgm"
grep -q "PGM holds gray" "$TMP/err" || { echo "FAIL: .pgm refusal message"; cat "$TMP/err"; fail=1; }
printf 'P5\n4 4\n65535\n' > "$TMP/deep.pgm"
expect 1 "16-bit PGM" -- "$NLC" encode "$TMP/deep.pgm" -m "$M" -o "$TMP/x.nlc"
grep -q "16-bit" "$TMP/err" || { echo "FAIL: 16-bit refusal message"; cat "$TMP/err"; fail=1; }
expect 0 "encode --codec inr" -- "$NLC" encode "$TMP/crop.png" --codec inr --effort 0 -q 2 -o "$TMP/inr.nlc"
# the progress line: the half-size stage, then every step done (N/N)
grep -q "fitting  *[0-9]*/[0-9]* (1/2 size)" "$TMP/err" && grep -qE "fitting +([0-9]+)/\1 " "$TMP/err" ||
  { echo "FAIL: no fitting progress line"; cat "$TMP/err"; fail=1; }
expect 0 "info of an INR stream" -- "$NLC" info "$TMP/inr.nlc"
grep -q "INR_LATENTS" "$TMP/out" && grep -q "version     1.5" "$TMP/out" || { echo "FAIL: INR sections or version not shown"; cat "$TMP/out"; fail=1; }
expect 0 "decode an INR stream with the default model" -- "$NLC" decode "$TMP/inr.nlc" -o "$TMP/inr.png"
expect 0 "compare" -- "$NLC" compare "$TMP/crop.png" "$TMP/inr.png"
awk '{ exit !($2 > 20) }' "$TMP/out" || { echo "FAIL: INR reconstruction too poor: $(cat "$TMP/out")"; fail=1; }
expect 0 "INR latent" -- "$NLC" decode "$TMP/inr.nlc" --latent -o "$TMP/inr.npy"
expect 2 "bad effort" -- "$NLC" encode "$TMP/crop.png" --codec inr --effort 7 -o "$TMP/x.nlc"
expect 2 "unknown codec" -- "$NLC" encode "$TMP/crop.png" --codec sirens -o "$TMP/x.nlc"
# --foreground: timeout otherwise signals the child and then its whole process group, two
# SIGINTs, and the second one ends the program (as a second Ctrl-C is meant to)
timeout --foreground -s INT --preserve-status 3 "$NLC" encode "$TMP/crop.png" --codec inr --effort 3 -o "$TMP/int.nlc" 2>"$TMP/err"
rc=$?
if [ $rc = 0 ] && "$NLC" decode "$TMP/int.nlc" -o "$TMP/int.png" 2>/dev/null; then
  echo "ok: Ctrl-C during an INR fit writes a stream that decodes"
else
  echo "FAIL: Ctrl-C during an INR fit: exit $rc"; cat "$TMP/err"; fail=1
fi
# --device: auto falls back to the CPU with one line when no GPU is usable; cuda then fails
expect 0 "decode --device auto" -- "$NLC" decode "$TMP/a.nlc" -m "$M" -o "$TMP/auto.png" --device auto
if grep -q "no usable GPU" "$TMP/err"; then
  [ "$(wc -l < "$TMP/err")" = 2 ] || { echo "FAIL: auto fallback is not one line"; cat "$TMP/err"; fail=1; }
  cmp -s "$TMP/a.png" "$TMP/auto.png" || { echo "FAIL: auto (CPU) decode differs"; fail=1; }
  expect 1 "encode --device cuda without a usable GPU" -- "$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -o "$TMP/g.nlc" --device cuda
  grep -q "device cuda" "$TMP/err" || { echo "FAIL: --device cuda failure not explained"; fail=1; }
  [ ! -e "$TMP/g.nlc" ] || { echo "FAIL: a failed encode left an output"; fail=1; }
fi
expect 2 "unknown device" -- "$NLC" decode "$TMP/a.nlc" -m "$M" -o "$TMP/x.png" --device gpu
# The GPU path is a plugin: nlc itself starts without CUDA or cuDNN, and a plugin that
# cannot be loaded is one more reason for auto to stay on the CPU (and for cuda to fail).
if ldd "$NLC" | grep -q -E "libcudnn|libcuda"; then echo "FAIL: nlc links CUDA or cuDNN"; fail=1; fi
if [ -e "$(dirname "$NLC")/libnlc_cuda.so" ]; then  # built with CUDA
echo "not a shared library" > "$TMP/fake_plugin.so"
NLC_CUDA_PLUGIN="$TMP/fake_plugin.so" expect 0 "auto with a broken plugin" -- "$NLC" decode "$TMP/a.nlc" -m "$M" -o "$TMP/auto2.png" --device auto
grep -q "no usable GPU (cannot load $TMP/fake_plugin.so" "$TMP/err" || { echo "FAIL: broken plugin not reported"; cat "$TMP/err"; fail=1; }
cmp -s "$TMP/a.png" "$TMP/auto2.png" || { echo "FAIL: fallback decode differs"; fail=1; }
NLC_CUDA_PLUGIN="$TMP/fake_plugin.so" expect 1 "cuda with a broken plugin" -- "$NLC" decode "$TMP/a.nlc" -m "$M" -o "$TMP/g2.png" --device cuda
grep -q "device cuda: cannot load" "$TMP/err" || { echo "FAIL: --device cuda with a broken plugin not explained"; fail=1; }
fi
# bench: times through the API; its stream is the one `nlc encode` writes
expect 0 "bench" -- "$NLC" bench "$SRC/assets/kodim23.png" -m "$M" -q 1.5 --repeat 2 --batch 2
for what in "encode  *median" "decode  *median" "decode x2  *median" "PSNR-RGB"; do
  grep -q "^$what" "$TMP/out" || { echo "FAIL: bench printed no '$what'"; cat "$TMP/out"; fail=1; }
done
grep -q "^stream  *$(stat -c %s "$TMP/a.nlc") bytes" "$TMP/out" || { echo "FAIL: bench stream size differs from nlc encode"; cat "$TMP/out"; fail=1; }
expect 2 "bench --repeat 0" -- "$NLC" bench "$SRC/assets/kodim23.png" -m "$M" --repeat 0
# eval: real files, the report's numbers agree with the streams it wrote
mkdir -p "$TMP/set" && cp "$SRC/assets/kodim23.png" "$TMP/set/"
expect 0 "eval (bundled model)" -- "$NLC" eval "$TMP/set" -q 0,1,2,3 --baselines jpeg,webp,avif,jpeg2000 -o "$TMP/ev" --label test
for f in report.json report.csv rd.svg streams/kodim23.q2.000.nlc; do
  [ -s "$TMP/ev/$f" ] || { echo "FAIL: eval wrote no $f"; fail=1; }
done
[ "$(ls "$TMP/ev/streams" | wc -l)" = 4 ] || { echo "FAIL: eval should keep 4 streams"; fail=1; }
# stderr is a file here, not a terminal: progress as whole lines (the first coding's at least)
grep -q "^\[1/[0-9]*\] nlc q=0.000 kodim23 (0:[0-9][0-9] elapsed)$" "$TMP/err" ||
  { echo "FAIL: eval printed no progress line to a log"; cat "$TMP/err"; fail=1; }
for c in nlc jpeg webp avif jpeg2000; do
  grep -q "\"$c\": {" "$TMP/ev/report.json" || { echo "FAIL: no $c in report.json"; fail=1; }
  grep -q "BD-rate of nlc against $c: -\?[0-9.]* %" "$TMP/out" || [ $c = nlc ] ||
    { echo "FAIL: no BD-rate against $c"; cat "$TMP/out"; fail=1; }
done
# bench/report_bd.py repeats eval/bd_rate.cc's definition (the Python binding does not reach
# eval/): on a report's whole image set it must give the report's own figures.
/usr/bin/python3 "$SRC/bench/report_bd.py" kodim23 t="$TMP/ev/report.json" > "$TMP/bd.txt" 2>&1 ||
  { echo "FAIL: bench/report_bd.py"; cat "$TMP/bd.txt"; fail=1; }
/usr/bin/python3 - "$TMP/ev/report.json" "$TMP/bd.txt" <<'PY' || fail=1
import json, re, sys
want = json.load(open(sys.argv[1]))["bd_rate_of_nlc_percent"]
got = {k: float(v) for k, v in re.findall(r"BD-rate of t against (\S+): ([-+0-9.]+)%", open(sys.argv[2]).read())}
both = [k for k in got if isinstance(want.get(k), (int, float))]
bad = [k for k in both if abs(got[k] - want[k]) > 0.051]
if len(both) < 3 or bad:
    sys.exit(f"FAIL: report_bd.py {got} against nlc eval's {want}")
PY
# bench/inr_repack.py writes the compact lane headers of bitstream 1.5 independently of the
# encoder: the frozen 1.4 INR conformance stream, repacked, decodes to the same pixels in
# fewer bytes (and a 1.5 stream is refused by it).
V3="$SRC/conformance/streams/crop64x48_inr_v3_q2.nlc"
if /usr/bin/python3 "$SRC/bench/inr_repack.py" --stream "$V3" "$TMP/v4.nlc" &&
   "$NLC" decode "$V3" -o "$TMP/v3.png" 2>/dev/null && "$NLC" decode "$TMP/v4.nlc" -o "$TMP/v4.png" 2>/dev/null; then
  cmp -s "$TMP/v3.png" "$TMP/v4.png" || { echo "FAIL: repacked INR stream decodes differently"; fail=1; }
  [ "$(stat -c %s "$TMP/v4.nlc")" -lt "$(stat -c %s "$V3")" ] || { echo "FAIL: repacked INR stream not smaller"; fail=1; }
  "$NLC" info "$TMP/v4.nlc" | grep -q "version     1.5" || { echo "FAIL: repacked INR stream not 1.5"; fail=1; }
else
  echo "FAIL: bench/inr_repack.py --stream"; fail=1
fi
expect 1 "repack of a 1.5 stream" -- /usr/bin/python3 "$SRC/bench/inr_repack.py" --stream "$TMP/v4.nlc" "$TMP/v5.nlc"
row=$(grep "^nlc,2,kodim23," "$TMP/ev/report.csv")
bytes=$(stat -c %s "$TMP/ev/streams/kodim23.q2.000.nlc")
[ "$(echo "$row" | cut -d, -f4)" = "$bytes" ] || { echo "FAIL: csv bytes $row vs file $bytes"; fail=1; }
"$NLC" decode "$TMP/ev/streams/kodim23.q2.000.nlc" -o "$TMP/ev2.png" 2>/dev/null
psnr=$("$NLC" compare "$SRC/assets/kodim23.png" "$TMP/ev2.png" | awk '{ print $2 }')
want=$(echo "$row" | cut -d, -f6 | awk '{ printf "%.3f", $1 }')
[ "$psnr" = "$want" ] || { echo "FAIL: eval PSNR $want, decoded file $psnr"; fail=1; }
expect 1 "eval of a missing folder" -- "$NLC" eval "$TMP/none" -m "$M"
mkdir -p "$TMP/empty"
expect 1 "eval of a folder without PNGs" -- "$NLC" eval "$TMP/empty" -m "$M" -o "$TMP/ev3"
expect 1 "eval with an unknown baseline" -- "$NLC" eval "$TMP/set" -m "$M" --baselines gif -o "$TMP/ev3"
grep -q "unknown baseline" "$TMP/err" || { echo "FAIL: unknown baseline not named"; fail=1; }
expect 2 "eval with a bad quality list" -- "$NLC" eval "$TMP/set" -q 1,x
# nlc classify with the bundled classifier (default model streams): labels, JSON, refusals.
"$NLC" encode "$SRC/assets/kodim23.png" -q 2 -o "$TMP/k2.nlc" 2>/dev/null
expect 0 "classify" -- "$NLC" classify "$TMP/k2.nlc" --top 3
[ "$(tr ',' '\n' < "$TMP/out" | wc -l)" = 3 ] || { echo "FAIL: classify --top 3 did not give 3 labels"; cat "$TMP/out"; fail=1; }
expect 0 "classify --json" -- "$NLC" classify "$TMP/k2.nlc" "$TMP/k2.nlc" --json
"${NLC_PYTHON:-/usr/bin/python3}" -c "import json,sys; r=json.load(open(sys.argv[1])); assert len(r)==2 and len(r[0]['top'])==5" "$TMP/out" ||
  { echo "FAIL: classify --json"; fail=1; }
"$NLC" encode "$SRC/assets/kodim23.png" -m "$M" -q 2 -o "$TMP/kt.nlc" 2>/dev/null
expect 1 "classify a stream of another model" -- "$NLC" classify "$TMP/k2.nlc" "$TMP/kt.nlc"
grep -q "wrong model" "$TMP/err" || { echo "FAIL: classify: wrong model not named"; fail=1; }
grep -q "^$TMP/k2.nlc:" "$TMP/out" || { echo "FAIL: classify stopped at the bad stream"; fail=1; }
expect 1 "classify an INR stream" -- "$NLC" classify "$TMP/inr.nlc"
grep -q "model-free codec 'inr.*(wrong model)" "$TMP/err" || { echo "FAIL: classify: INR stream not named"; cat "$TMP/err"; fail=1; }
expect 0 "model-info of a classifier" -- "$NLC" model-info -m "$SRC/models/train/classifier/imagenette-pixels-v1.nlcm"
grep -q "^arch *classifier-v1" "$TMP/out" && grep -q "^input *pixels, 3 channels" "$TMP/out" &&
  grep -q "^reads *streams of codec model sha256:$("$NLC" model-info | sed -n 's/^identity *sha256://p')" "$TMP/out" ||
  { echo "FAIL: model-info of a classifier"; cat "$TMP/out"; fail=1; }
expect 2 "classify --top 0" -- "$NLC" classify "$TMP/k2.nlc" --top 0
expect 2 "serve with a stray argument" -- "$NLC" serve extra
exit $fail
