#!/usr/bin/env bash
# Fetch ONNX Runtime's C library for the `ort` crate (feature load-dynamic) from
# the PyPI wheel: ort's own download host is unreachable here. Nothing is
# installed; the wheel is only unpacked. Prints the library's absolute path
# (the only line on stdout), e.g. ORT_DYLIB_PATH=$(scripts/fetch_onnxruntime.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

WHL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
WHL_SHA=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
MEMBER=onnxruntime/capi/libonnxruntime.so.1.32.0
LIB_SHA=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
LIB=data/lib/libonnxruntime.so.1.32.0

sha() { sha256sum "$1" | cut -d' ' -f1; }
die() { echo "fetch_onnxruntime: $*" >&2; exit 1; }

if [[ ! -f $LIB || $(sha "$LIB") != "$LIB_SHA" ]]; then
  scripts/tools-venv.sh  # for a known pip and python
  if [[ ! -f .cache/$WHL || $(sha ".cache/$WHL") != "$WHL_SHA" ]]; then
    rm -f ".cache/$WHL"
    # Ask for the exact wheel whatever the host's Python is.
    .cache/venv/bin/pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 -d .cache onnxruntime==1.32.0
    [[ $(sha ".cache/$WHL") == "$WHL_SHA" ]] || die ".cache/$WHL: sha256 mismatch (want $WHL_SHA)"
  fi
  mkdir -p data/lib
  .cache/venv/bin/python -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    ".cache/$WHL" "$MEMBER" > "$LIB.tmp"
  [[ $(sha "$LIB.tmp") == "$LIB_SHA" ]] || { rm -f "$LIB.tmp"; die "$MEMBER: sha256 mismatch (want $LIB_SHA)"; }
  chmod 0755 "$LIB.tmp"
  mv "$LIB.tmp" "$LIB"
fi
echo "$PWD/$LIB"
