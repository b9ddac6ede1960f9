#!/bin/bash
# Installs the build into a temporary prefix and builds a C program against it through
# pkg-config, once dynamically and once statically, then runs both.
set -euo pipefail
BUILD=$1; SRC=$2; WORK=$3; FLAGS=${4:-}  # FLAGS: sanitizer flags of a sanitizer build
rm -rf "$WORK"; mkdir -p "$WORK"
cmake --install "$BUILD" --prefix "$WORK/prefix" >/dev/null
export PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig"
test -f "$WORK/prefix/share/nlc/default.nlcm"
test -f "$WORK/prefix/lib/cmake/nlc/nlcConfig.cmake"
cc $FLAGS -o "$WORK/user_dynamic" "$SRC/tests/install/c_api_user.c" $(pkg-config --cflags --libs nlc) \
   -Wl,-rpath,"$WORK/prefix/lib"
cc $FLAGS -o "$WORK/user_static" "$SRC/tests/install/c_api_user.c" $(pkg-config --cflags nlc) \
   "$WORK/prefix/lib/libnlc.a" $(pkg-config --libs-only-l --static nlc | sed 's/-lnlc//') -fopenmp -lstdc++
"$WORK/user_dynamic" "$SRC/tests/data/tiny.nlcm"
"$WORK/user_static" "$SRC/tests/data/tiny.nlcm"
"$WORK/prefix/bin/nlc" model-info | head -2
echo "install test passed"
