#!/usr/bin/env bash
# Create .cache/venv with the pinned Python tools used to fetch, convert and
# check the segmentation models. Idempotent: does nothing if the venv already
# matches this lock. Hash-pinned wheels for CPython 3.11-3.13 on x86_64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.cache/venv
# Full dependency closure, so pip resolves nothing on its own (--no-deps).
LOCK=$(cat <<'REQ'
ai-edge-litert==2.3.0 \
    --hash=sha256:1f15078a6725d2357d9de9221664c29afa0545d807559c5f7199ce5e40b96b23 \
    --hash=sha256:dc9f56c23e0dcf182b6c35f23fbb102ed048296588882b806d5eff7654c04c88 \
    --hash=sha256:985ac3823fe1d5d6a04cf5f613cc2adf98a9c8a456af0b5efa8d9ac6b118ea14
backports.strenum==1.2.8 \
    --hash=sha256:fc297cb26971f7d5e15a478a06a78575197f81daea47975771b1aae996dcccf4
flatbuffers==25.12.19 \
    --hash=sha256:7634f50c427838bb021c2d66a3d1168e9d199b0607e6329399f04846d42e20b4
ml_dtypes==0.6.0 \
    --hash=sha256:6c8e39b53e90afda8ce52859c93de4dba3e02b76d85dcf091cc469f9184c6dae \
    --hash=sha256:3b4a480aa8fd54a1805b8ac10f3f91763926a74f73c0c364c10f9231854f4170 \
    --hash=sha256:26b1f1fa4f0435a2946859823f6e2bf06796f1e9f10f5a05b08a5e3c8f46ff69
numpy==2.4.6 \
    --hash=sha256:89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93 \
    --hash=sha256:90f9849678c75fe7afa2d348ac842c168b0a4d3d61919687216dfc547976d853 \
    --hash=sha256:a7830bab239b79cda9c08c2da014761cafb48da6150e1da17ac06283f43b6089 \
    --hash=sha256:ede83e07a75dd06bc501566c1eca2afc0d61677c1472ac9ad93fdee6e638a48d
onnx==1.23.2 \
    --hash=sha256:c03ecf6b835d136108eeaeeafbd0026fc7b3cf98661409fbc6b63d5a29361348 \
    --hash=sha256:7abf381d278f31ac62487fddedc9dd42da842dce94d5d43536836ee3efdf4a2b
onnxruntime==1.32.0 \
    --hash=sha256:5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d \
    --hash=sha256:99e1074c4b2197accd5073052a465361be17b89c093b8ffb6e6bd8f986c52df8 \
    --hash=sha256:02ea12a28c069ea8510093d95a7f6ff8126bfd9fc5c0d3381c03b80fb2b424ba \
    --hash=sha256:926b6a87ffdcef56805b213807c28b97ae53763a630795baee1dfb420c2a5b68
packaging==26.4 \
    --hash=sha256:81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2
pillow==13.0.0 \
    --hash=sha256:a625df9a2a5597fa5e5266e01aefc82604bb85d291e3547981e863560d75da6c \
    --hash=sha256:42d63be3af4f9b951b199b0a9d23365d37ab14687e6d77b74940432c8515c4ca \
    --hash=sha256:5f56499c1a74d2b862beb0c33b8016f99d095858455df9d21583bbbc1c15b582
protobuf==7.36.2 \
    --hash=sha256:89f23aa53c24553a2416fd4fd1ec06f74fa42b14b546d8883128813f775bbfd2 \
    --hash=sha256:bdb3a345d48db958e6ce1f18e508beb0cc981d64f24088427549c866cd039f1e
tflite==2.18.0 \
    --hash=sha256:a49a4316530377c597bb272176c12d5d3c4453640118b068c93a8c3cc6c5c2c1
tqdm==4.70.1 \
    --hash=sha256:c293e525e6fef9c20e8728fd4612df02a0aa31bb5fe91ecd93e123b1b7bffa73
typing_extensions==4.16.0 \
    --hash=sha256:481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8
REQ
)
stamp=$(printf '%s' "$LOCK" | sha256sum | cut -d' ' -f1)

if [[ -f $VENV/.lock-sha256 && $(cat "$VENV/.lock-sha256") == "$stamp" ]]; then
    exit 0
fi

rm -rf "$VENV"
mkdir -p .cache
python3 -m venv "$VENV" || { echo "tools-venv: 'python3 -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
printf '%s\n' "$LOCK" > "$VENV/requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --no-deps --only-binary=:all: -r "$VENV/requirements.txt"
"$VENV/bin/python" -c 'import numpy, onnx, onnxruntime, tflite, PIL, ai_edge_litert.interpreter'
echo "$stamp" > "$VENV/.lock-sha256"
echo "tools-venv: ready at $VENV" >&2
