#!/bin/bash
# Producer for browser-e2e.sh: Backdrop itself, vivid ($CAMERA, default /dev/video0) ->
# $DEVICE at ${WIDTH}x$HEIGHT@$FPS, composing the camera picture (vivid's colour bars with its
# changing text: textured, changing pixels for the page's checks) with the person layer, masks
# twice a second (cheap enough for an emulated VM); $PIX_FMT (the case name) is its
# output_format: mjpeg, yuyv or i420.
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
mask_fps: 2
layers:
  - input: []
  - foreground: []
Y
BACKDROP_LOG=${BACKDROP_LOG:-info} exec "$B" run -c "$cfg"
