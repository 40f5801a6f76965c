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

# Its licence and the notices of the third-party code it contains (shipped in the Debian package).
LICENSE_MEMBER=onnxruntime/LICENSE
LICENSE_SHA=2f07c72751aed99790b8a4869cf2311df85a860b22ded05fa22803587a48922c
LICENSE_FILE=data/lib/onnxruntime-LICENSE
NOTICES_MEMBER=onnxruntime/ThirdPartyNotices.txt
NOTICES_SHA=d8696258afcf9df7827a5e01d6b6d55ee9b461b4e82020f5f48242deb9cc2270
NOTICES_FILE=data/lib/onnxruntime-ThirdPartyNotices.txt

sha() { sha256sum "$1" | cut -d' ' -f1; }
die() { echo "fetch_onnxruntime: $*" >&2; exit 1; }

# extract MEMBER SHA FILE MODE: one checked member of the wheel (downloaded when missing).
extract() {
  [[ -f $3 && $(sha "$3") == "$2" ]] && return 0
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
    ".cache/$WHL" "$1" > "$3.tmp"
  [[ $(sha "$3.tmp") == "$2" ]] || { rm -f "$3.tmp"; die "$1: sha256 mismatch (want $2)"; }
  chmod "$4" "$3.tmp"
  mv "$3.tmp" "$3"
}

extract "$MEMBER" "$LIB_SHA" "$LIB" 0755
extract "$LICENSE_MEMBER" "$LICENSE_SHA" "$LICENSE_FILE" 0644
extract "$NOTICES_MEMBER" "$NOTICES_SHA" "$NOTICES_FILE" 0644
echo "$PWD/$LIB"
