#!/usr/bin/env bash
# Regenerate the pictures of docs/filters.md (docs/img/filter_*.png): each filter of SPEC §4 run by
# `backdrop process` on a real photo, with the configuration shown in docs/filters.md.
#
# Usage: scripts/make_filter_pictures.sh [BACKDROP_BINARY]     (`make docs` builds and runs it)
# Needs: a built backdrop (default target/release/backdrop), the fetched footage and model
#        (`make setup`), ffmpeg.
#
# The person is the NASA portrait of astronaut Eileen Collins (data/footage/stills/skimage_astronaut.png,
# public domain per scikit-image). The webcam clips of the test footage have unclear rights and stay out
# of the docs (scripts/FOOTAGE.md). Backgrounds, the animation and the video are drawn by ffmpeg's
# generators (mandelbrot, gradients, life), so every picture is free to publish.
# Each picture is the 21st output frame (so rolling and moving filters have moved), 256x256 in 256
# colours, about 50 KB (the script fails if one reaches 100 KB).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/release/backdrop}
PHOTO=$ROOT/data/footage/stills/skimage_astronaut.png
OUT=$ROOT/docs/img
[ -x "$BIN" ] || { echo "no backdrop binary at $BIN: run cargo build --release (make docs does)" >&2; exit 1; }
[ -f "$PHOTO" ] || { echo "$PHOTO is missing: run make setup" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: sudo apt-get install ffmpeg" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ff() { ffmpeg -v error -y -nostdin "$@"; }

# Assets, all 512x512 like the photo.
ff -f lavfi -i "gradients=s=512x512:c0=0x1d3557:c1=0x457b9d:c2=0xa8dadc:c3=0xf1faee:x0=0:y0=0:x1=512:y1=512:nb_colors=4:seed=7" \
  -frames:v 1 "$TMP/background.png"
ff -f lavfi -i "mandelbrot=s=512x512:rate=10" -t 3 -c:v ffv1 "$TMP/fractal.mkv"
mkdir -p "$TMP/sparkles"
# A transparent animation: Conway's life cells in gold, the rest transparent.
ff -f lavfi -i "life=s=128x128:rate=10:ratio=0.08:death_color=black:life_color=0xffd166:seed=3" -t 2 \
  -vf "scale=512:512:flags=neighbor,colorkey=black:0.01:0,format=rgba" "$TMP/sparkles/frame_%03d.png"
# "Glasses" for translate_to_head: two round dark lenses and a bridge centred on the frame's
# centre (the point translate_to_head moves onto the eyes), transparent around.
ff -f lavfi -i "color=c=black:s=512x512,format=rgba" -frames:v 1 \
  -vf "geq=r=25:g=25:b=35:a='if(lt(hypot(X-229,Y-256),21)+lt(hypot(X-283,Y-256),21)+lt(abs(X-256),8)*lt(abs(Y-250),2),215,0)'" \
  "$TMP/glasses.png"
# A tall (9:16) picture for the fit example: a sky gradient, a gold sun near the top, dark
# ground at the bottom; stretching it to the square frame turns the sun into an oval.
ff -f lavfi -i "gradients=s=288x512:c0=0x1d3557:c1=0xe76f51:x0=0:y0=0:x1=0:y1=512:nb_colors=2,format=rgb24" \
  -frames:v 1 -vf "geq=r='if(lt(hypot(X-144,Y-150),90),255,if(gt(Y,420),30,r(X,Y)))':g='if(lt(hypot(X-144,Y-150),90),209,if(gt(Y,420),60,g(X,Y)))':b='if(lt(hypot(X-144,Y-150),90),102,if(gt(Y,420),40,b(X,Y)))'" \
  "$TMP/tall.png"
# The input: the photo as a 1 s lossless clip at 30 fps.
ff -loop 1 -i "$PHOTO" -t 1 -r 30 -c:v ffv1 -pix_fmt bgr0 "$TMP/input.mkv"
# A green-screen shot of the same photo, made by Backdrop itself, for chroma_key.
printf 'layers:\n  - input: [["solid_color", 0, 255, 0]]\n  - foreground: []\n' > "$TMP/green.yaml"
"$BIN" process "$PHOTO" -o "$TMP/greenscreen.png" -c "$TMP/green.yaml" -q 2>/dev/null

# name | layers (the YAML under `layers:`, paths relative to the assets folder)
CASES=$(cat <<'EOF'
input|  - input: []
image|  - empty: [["image", "background.png"]]\n  - foreground: []
image_sequence|  - input: [["blur", 20]]\n  - foreground: []\n  - empty: [["image_sequence", "sparkles", 10]]
video|  - empty: [["video", "fractal.mkv"]]\n  - foreground: []
blur|  - input: [["blur", 10]]\n  - foreground: []
gaussian_blur|  - input: [["gaussian_blur", 21]]\n  - foreground: []
grayscale|  - input: ["grayscale"]\n  - foreground: []
roll|  - input: [["roll", 5, 0]]
change_alpha|  - empty: [["image", "background.png"]]\n  - foreground: [["change_alpha", -128]]
colorize|  - input: [["colorize", 80, 160, 255]]\n  - foreground: []
color_filter|  - input: [["color_filter", 255, 200, 120]]
solid_color|  - input: [["solid_color", 40, 40, 60]]\n  - foreground: [["solid_color", 255, 209, 102]]
flip|  - input: [["flip", true, false]]
stripes|  - input: [["blur", 20], "grayscale"]\n  - foreground: [["stripes", 4, 80, 1]]
chroma_key|  - empty: [["video", "fractal.mkv"]]\n  - empty: [["image", "greenscreen.png"], ["chroma_key", 0, 255, 0, 0.35]]
translate_to_head|  - input: []\n  - empty: [["image", "glasses.png"], ["translate_to_head", "eyes", 5]]
light_wrap|  - empty: [["image", "background.png"]]\n  - foreground: []\n  - previous: [["light_wrap", 16, 0.8]]
EOF
)

while IFS='|' read -r name layers; do
  [ -n "$name" ] || continue
  printf 'layers:\n%b\n' "$layers" > "$TMP/$name.yaml"
  "$BIN" process "$TMP/input.mkv" -o "$TMP/$name.y4m" -c "$TMP/$name.yaml" --frames 21 -q 2>"$TMP/$name.log" || {
    cat "$TMP/$name.log" >&2; exit 1; }
  # 256 colours (dithered) keep a 256x256 photo near 50 KB.
  ff -i "$TMP/$name.y4m" -frames:v 1 -pred mixed -vf \
    "select=eq(n\,20),scale=256:256:flags=area,split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=dither=sierra2_4a" \
    "$OUT/filter_$name.png"
  size=$(stat -c %s "$OUT/filter_$name.png")
  if [ "$size" -ge 100000 ]; then
    echo "docs/img/filter_$name.png is $size bytes, over 100 KB" >&2; exit 1
  fi
  printf '%-18s %6d bytes\n' "$name" "$size"
done <<< "$CASES"
# fit: four configurations side by side (192x192 each), the YAML of docs/filters.md.
FITS=(
  '  - empty: [["image", "tall.png", "LINEAR", "stretch"]]\n  - foreground: []'
  '  - empty: [["image", "tall.png"]]\n  - foreground: []'
  '  - empty: [["image", {image_path: tall.png, anchor: top}]]\n  - foreground: []'
  '  - input: [["blur", 30]]\n  - empty: [["image", {image_path: tall.png, fit: contain}]]\n  - foreground: []'
)
inputs=()
for i in "${!FITS[@]}"; do
  printf 'layers:\n%b\n' "${FITS[$i]}" > "$TMP/fit$i.yaml"
  "$BIN" process "$TMP/input.mkv" -o "$TMP/fit$i.y4m" -c "$TMP/fit$i.yaml" --frames 21 -q 2>"$TMP/fit$i.log" || {
    cat "$TMP/fit$i.log" >&2; exit 1; }
  inputs+=(-i "$TMP/fit$i.y4m")
done
ff "${inputs[@]}" -frames:v 1 -pred mixed -filter_complex \
  "[0:v]select=eq(n\,20),scale=192:192:flags=area[a];[1:v]select=eq(n\,20),scale=192:192:flags=area[b];[2:v]select=eq(n\,20),scale=192:192:flags=area[c];[3:v]select=eq(n\,20),scale=192:192:flags=area[d];[a][b][c][d]hstack=inputs=4,split[x][y];[x]palettegen=stats_mode=single[p];[y][p]paletteuse=dither=sierra2_4a" \
  "$OUT/filter_image_fit.png"
size=$(stat -c %s "$OUT/filter_image_fit.png")
[ "$size" -lt 100000 ] || { echo "docs/img/filter_image_fit.png is $size bytes, over 100 KB" >&2; exit 1; }
printf '%-18s %6d bytes\n' image_fit "$size"
echo "pictures in $OUT"
