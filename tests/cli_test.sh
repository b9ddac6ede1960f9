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
expect 1 "missing input" -- "$NLC" estimate "$TMP/none.png" -m "$M"
expect 1 "quality out of range" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" -q 9
echo junk > "$TMP/junk.png"
expect 1 "not a PNG" -- "$NLC" estimate "$TMP/junk.png" -m "$M"
head -c 1000 "$M" > "$TMP/cut.nlcm"
expect 1 "truncated model" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$TMP/cut.nlcm"
grep -q "truncated" "$TMP/err" || { echo "FAIL: truncation not named"; fail=1; }
expect 1 "output folder missing" -- "$NLC" estimate "$SRC/assets/kodim23.png" -m "$M" -o "$TMP/no/such/dir/x.png"
exit $fail
