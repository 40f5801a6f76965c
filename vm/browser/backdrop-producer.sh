#!/bin/bash
# Producer for browser-e2e.sh: Backdrop itself, vivid ($CAMERA, default /dev/video0) ->
# $DEVICE at ${WIDTH}x$HEIGHT@$FPS with a blurred background (moving, textured pixels for the
# page's checks); $PIX_FMT (the case name) is its output_format: mjpeg, yuyv or i420.
# BACKDROP: the binary (default: target/release/backdrop under the cwd).
B=${BACKDROP:-$PWD/target/release/backdrop}
cfg=$(mktemp /tmp/backdrop-XXXX.yaml)
cat > "$cfg" <<Y
real_video_device: ${CAMERA:-/dev/video0}
virtual_video_device: $DEVICE
width: $WIDTH
height: $HEIGHT
fps: $FPS
output_format: $PIX_FMT
layers:
  - input: [["blur", 10]]
  - foreground: []
Y
BACKDROP_LOG=${BACKDROP_LOG:-info} exec "$B" run -c "$cfg"
