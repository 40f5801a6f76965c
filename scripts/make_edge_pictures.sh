#!/usr/bin/env bash
# Regenerate the pictures of docs/edges.md (docs/img/edges_*.png): plain vs refined mask edges,
# the halo-free blur, light wrapping, the reduced-resolution blur and the flicker strip.
#
# Usage: scripts/make_edge_pictures.sh
# Needs: the fetched footage and model (`make setup`), ffmpeg, cargo.
#
# The pictures are drawn by the ignored test `make_edge_pictures` in tests/edges.rs (it runs the
# real model and both refinements), then reduced to 256 colours by ffmpeg to stay small.
# Photographs come only from the public-domain NASA portrait of astronaut Eileen Collins
# (data/footage/stills/skimage_astronaut.png); from the franck clip (FG-net talking face, see
# scripts/FOOTAGE.md) only small crops of masks are shown, never its frames.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/docs/img
command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: sudo apt-get install ffmpeg" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

(cd "$ROOT" && EDGE_PICTURES=$TMP cargo test --release --test edges make_edge_pictures \
  -- --ignored --nocapture --test-threads 1 >"$TMP/log" 2>&1) || { cat "$TMP/log" >&2; exit 1; }

for src in "$TMP"/edges_*.png; do
  name=$(basename "$src")
  ffmpeg -v error -y -nostdin -i "$src" -pred mixed -vf \
    "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=dither=sierra2_4a" \
    "$OUT/$name"
  size=$(stat -c %s "$OUT/$name")
  if [ "$size" -ge 200000 ]; then
    echo "docs/img/$name is $size bytes, over 200 KB" >&2; exit 1
  fi
  printf '%-28s %7d bytes\n' "$name" "$size"
done
echo "pictures in $OUT"
