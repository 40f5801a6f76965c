#!/bin/bash
# browser-e2e.sh — real browsers (Debian chromium, firefox-esr) read the v4l2loopback virtual
# camera through getUserMedia inside a QEMU VM that runs a stock Debian kernel (../run-in-vm.sh),
# with Backdrop (or another producer) writing to it. Used by tests/browser.rs; see README.md.
# Usage: browser-e2e.sh [options]
#   --producer P         what feeds the loopback: 'backdrop' (default: Backdrop itself,
#                        backdrop-producer.sh, the case name is its output_format), 'testsrc2'
#                        (live ffmpeg lavfi testsrc2 -pix_fmt $PIX_FMT -f v4l2), 'loop' (1 s of
#                        testsrc2 pre-rendered, looped), or any shell command; it sees $DEVICE
#                        $WIDTH $HEIGHT $FPS $PIX_FMT and $PROGRESS (a file for ffmpeg -progress)
#   --cases 'A B'        case names (default 'mjpeg'): Backdrop's output_format (mjpeg, yuyv,
#                        i420), the pixel format of the ffmpeg presets, a label otherwise
#   --browsers 'B..'     chromium and/or firefox (default 'chromium firefox')
#   --size WxH --fps N   producer size / rate, also what the page requests (1280x720, 30)
#   --seconds N          frame-counting window in the page (5)
#   --label TEXT         the camera to open: label substring (VirtualCam, v4l2loopback card_label)
#   --min-frames N       pass threshold: frames the page received in that window (10)
#   --draw-gap S         seconds between the 3 drawn frames that must differ (0.7)
#   --browser-timeout S  per-case browser limit (240)
#   --chromium-flags 'F' extra chromium command-line flags
#   --mem MB --cpus N --timeout S   VM settings (4096, 2, 900)
# Environment: BACKDROP (the binary, default target/release/backdrop under the cwd); everything
# run-in-vm.sh reads (V4L2VM_DIR, V4L2LOOPBACK_OPTS, VIVID_OPTS, ...).
# Installs chromium / firefox-esr with apt-get when missing (needs root or sudo).
# Exit status: 0 when every case passed. Per case the guest prints a verdict line
# "<case>-<browser>: PASS | ... settings=WxH@FPS ..."; artifacts (reports, browser logs, a PNG
# of a drawn frame) are in the run dir printed at the end ($V4L2VM_DIR/runs/run.*).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MEM=4096 CPUS=2 TIMEOUT=900
export E2E_PRODUCER=${E2E_PRODUCER:-backdrop} E2E_CASES=${E2E_CASES:-mjpeg}
export E2E_BROWSERS=${E2E_BROWSERS:-chromium firefox}
while [ $# -gt 0 ]; do
  case "$1" in
    --producer) export E2E_PRODUCER=$2; shift 2 ;;
    --cases) export E2E_CASES=$2; shift 2 ;;
    --browsers) export E2E_BROWSERS=$2; shift 2 ;;
    --size) export E2E_WIDTH=${2%x*} E2E_HEIGHT=${2#*x}; shift 2 ;;
    --fps) export E2E_FPS=$2; shift 2 ;;
    --seconds) export E2E_SECONDS=$2; shift 2 ;;
    --label) export E2E_LABEL=$2; shift 2 ;;
    --min-frames) export E2E_MIN_FRAMES=$2; shift 2 ;;
    --draw-gap) export E2E_DRAW_GAP=$2; shift 2 ;;
    --browser-timeout) export E2E_BROWSER_TIMEOUT=$2; shift 2 ;;
    --chromium-flags) export E2E_CHROMIUM_FLAGS=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ "$E2E_PRODUCER" = backdrop ]; then
  export BACKDROP=${BACKDROP:-$PWD/target/release/backdrop}
  [ -x "$BACKDROP" ] || { echo "[browser-e2e] no Backdrop binary at $BACKDROP (cargo build --release, or set BACKDROP)" >&2; exit 2; }
  export E2E_PRODUCER="$HERE/backdrop-producer.sh"
  # Two vivid cameras: Firefox's first getUserMedia (for the permission that reveals labels)
  # opens the default camera, /dev/video0; Backdrop reads the second, /dev/video1.
  export VIVID_OPTS=${VIVID_OPTS:-n_devs=2 node_types=0x1,0x1 vid_cap_nr=0,1}
  export CAMERA=${CAMERA:-/dev/video1}
  # As the README's modprobe line: 4 buffers, so a browser decoding a JPEG is not overtaken.
  export V4L2LOOPBACK_OPTS=${V4L2LOOPBACK_OPTS:-devices=1 exclusive_caps=1 video_nr=10 card_label=VirtualCam max_buffers=4}
fi
t0=$(date +%s)
need=()
for b in $E2E_BROWSERS; do
  case $b in
    chromium) command -v chromium >/dev/null || need+=(chromium) ;;
    firefox) command -v firefox-esr >/dev/null || need+=(firefox-esr) ;;
    *) echo "unknown browser $b" >&2; exit 2 ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "[browser-e2e] apt-get install ${need[*]}" >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq >&2 || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}" >&2
  echo "[browser-e2e] browsers installed after $(( $(date +%s) - t0 ))s" >&2
fi
set +e
"$HERE/../run-in-vm.sh" --mem "$MEM" --cpus "$CPUS" --timeout "$TIMEOUT" -- "$HERE/guest-e2e.sh"
rc=$?
set -e
echo "[browser-e2e] total wall time $(( $(date +%s) - t0 ))s, exit status $rc" >&2
exit $rc
