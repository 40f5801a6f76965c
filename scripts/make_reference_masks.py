#!/usr/bin/env python3
"""Make reference masks for the Rust parity test, with the ORIGINAL .tflite models.

Usage: make_reference_masks.py [--models DIR] OUTDIR IMAGE...

For each image and each model it writes, in OUTDIR:
  <stem>_<model>_input.png  8-bit RGB, exactly the model's input size
  <stem>_<model>_mask.f32   LiteRT's output: H*W little-endian float32, row-major
and manifest.txt with one line per pair: "<stem> <model> <width> <height>".
The engine under test must read the PNG, divide by 255 in float32 and run on
that; how the photo was shrunk does not matter, since the PNG is the input.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

MODELS = ("selfie", "selfie_landscape")  # data/models/<name>.tflite


def load_interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    null, saved = os.open(os.devnull, os.O_WRONLY), os.dup(2)
    os.dup2(null, 2)  # LiteRT logs an INFO line when it creates the XNNPACK delegate
    try:
        # Default delegate is XNNPACK: it implements the custom op
        # Convolution2DTransposeBias, the builtin kernels do not.
        it = Interpreter(model_path=str(path))
        it.allocate_tensors()
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)
    return it


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=root / "data" / "models")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("images", nargs="+", type=Path)
    a = ap.parse_args()

    stems = [p.stem for p in a.images]
    if len(set(stems)) != len(stems):
        sys.exit("make_reference_masks: two images share a file stem")
    a.outdir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for model in MODELS:
        it = load_interpreter(a.models / f"{model}.tflite")
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        _, h, w, _ = (int(d) for d in i["shape"])
        for img_path, stem in zip(a.images, stems):
            rgb = Image.open(img_path).convert("RGB").resize((w, h), Image.BILINEAR)
            rgb.save(a.outdir / f"{stem}_{model}_input.png")
            # float32 division, as the Rust side does (x * (1/255) can differ in the last bit).
            x = np.asarray(rgb, np.float32)[None] / np.float32(255)
            it.set_tensor(i["index"], x)
            it.invoke()
            mask = it.get_tensor(o["index"]).reshape(h, w)
            mask.astype("<f4").tofile(a.outdir / f"{stem}_{model}_mask.f32")
            manifest.append(f"{stem} {model} {w} {h}\n")
            print(f"{stem} {model}: {w}x{h}, mean mask {mask.mean():.3f}")
    (a.outdir / "manifest.txt").write_text("".join(manifest))


if __name__ == "__main__":
    main()
