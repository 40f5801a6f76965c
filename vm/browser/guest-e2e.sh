#!/bin/bash
# guest-e2e.sh — runs INSIDE the VM (started by browser-e2e.sh through ../run-in-vm.sh).
# For every case (producer pixel format) x browser: reload v4l2loopback, start the producer
# on $E2E_DEVICE, wait until the loopback announces CAPTURE, open page.html in a headless
# browser (getUserMedia on the camera whose label contains $E2E_LABEL), collect its JSON
# report, check it, stop everything. Artifacts go to $VM_OUT/<case>-<browser>.*
# Environment (all optional, browser-e2e.sh sets them from its options):
#   E2E_CASES      producer pixel formats to try            (default "yuyv422 yuv420p")
#   E2E_PRODUCER   "testsrc2" (default), "loop", or a producer shell command; it sees
#                  PIX_FMT DEVICE WIDTH HEIGHT FPS (and PROGRESS, a file for ffmpeg -progress)
#   E2E_BROWSERS   "chromium", "firefox" or both            (default chromium)
#   E2E_WIDTH/E2E_HEIGHT/E2E_FPS  producer size/rate, also the size the page asks for (1280x720@30)
#   E2E_SECONDS    frame-counting window in the page        (default 5)
#   E2E_MIN_FRAMES minimum rVFC callbacks in that window    (default 10)
#   E2E_DRAW_GAP   seconds between the 3 drawn frames that must differ (default 0.7)
#   E2E_LABEL      camera label substring to pick           (default VirtualCam)
#   E2E_BROWSER_TIMEOUT  seconds a browser gets for one case (default 240)
#   E2E_DEVICE     loopback node                            (default /dev/video10)
#   E2E_CHROMIUM_FLAGS   extra chromium flags
#   E2E_NO_RELOAD=1 do not rmmod/modprobe v4l2loopback before each case
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${VM_OUT:-/tmp/browser-e2e-out}; mkdir -p "$OUT"
export DEVICE=${E2E_DEVICE:-/dev/video10} WIDTH=${E2E_WIDTH:-1280} HEIGHT=${E2E_HEIGHT:-720} FPS=${E2E_FPS:-30}
CASES=${E2E_CASES:-yuyv422 yuv420p}
BROWSERS=${E2E_BROWSERS:-chromium}
SECS=${E2E_SECONDS:-5} MIN_FRAMES=${E2E_MIN_FRAMES:-10} LABEL=${E2E_LABEL:-VirtualCam}
BTIMEOUT=${E2E_BROWSER_TIMEOUT:-240}
# Producer presets (E2E_PRODUCER=testsrc2|loop), anything else is a shell command.
#  testsrc2: live ffmpeg lavfi testsrc2, converted to $PIX_FMT per frame (costly under TCG)
#  loop:     one second of testsrc2 pre-rendered in $PIX_FMT, then looped with -re (cheap producer)
FF='ffmpeg -hide_banner -loglevel error -nostdin'
PRESET_testsrc2="exec $FF -progress \$PROGRESS -re -f lavfi -i testsrc2=size=\${WIDTH}x\${HEIGHT}:rate=\$FPS -pix_fmt \$PIX_FMT -f v4l2 \$DEVICE"
PRESET_loop="$FF -f lavfi -i testsrc2=size=\${WIDTH}x\${HEIGHT}:rate=\$FPS -frames:v \$FPS -pix_fmt \$PIX_FMT -f rawvideo -y /tmp/pattern.\$PIX_FMT && exec $FF -progress \$PROGRESS -re -stream_loop -1 -f rawvideo -pix_fmt \$PIX_FMT -video_size \${WIDTH}x\${HEIGHT} -framerate \$FPS -i /tmp/pattern.\$PIX_FMT -f v4l2 -pix_fmt \$PIX_FMT \$DEVICE"
PRODUCER=${E2E_PRODUCER:-testsrc2}
case "$PRODUCER" in testsrc2|loop) v=PRESET_$PRODUCER; PRODUCER=${!v};; esac
PORT=8765
T_START=$(date +%s.%N)
ts() { awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%6.1fs", b-a}'; }
say() { echo "[guest $(ts)] $*"; }
pass=0; fail=0; SUMMARY=()

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
export HOME=/root XDG_RUNTIME_DIR=/run/user0 LANG=C.UTF-8; mkdir -p $XDG_RUNTIME_DIR; chmod 700 $XDG_RUNTIME_DIR
say "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024)" MB"}' /proc/meminfo); $(dpkg-query -W -f '${Package} ${Version}  ' chromium firefox-esr 2>/dev/null)"
say "producer: $PRODUCER"
for d in /sys/class/video4linux/*; do say "  $(basename $d): $(cat $d/name)"; done

/usr/bin/python3 "$HERE/server.py" $PORT "$OUT" > "$OUT/server.log" 2>&1 & SRV=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

caps_of() { v4l2-ctl -d $DEVICE --info 2>/dev/null | sed -n '/Device Caps/,$p' | tail -n +2 | xargs; }
reload_loop() {   # v4l2loopback 0.12.7: after a write() producer exits, S_FMT is refused until reload
  [ "${E2E_NO_RELOAD:-0}" = 1 ] && return
  rmmod v4l2loopback 2>/dev/null
  modprobe v4l2loopback ${V4L2LOOPBACK_OPTS:-devices=1 exclusive_caps=1 video_nr=10 card_label=VirtualCam}
  for i in $(seq 50); do [ -e $DEVICE ] && break; sleep 0.1; done
}
wait_capture() { for i in $(seq 1 ${1:-300}); do caps_of | grep -q 'Video Capture' && return 0; sleep 0.1; done; return 1; }
kill_tree() { local p=$1; [ -n "$p" ] || return 0; kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null
  for i in $(seq 30); do kill -0 $p 2>/dev/null || break; sleep 0.1; done; kill -KILL -- -$p 2>/dev/null; wait $p 2>/dev/null; }

run_chromium() {   # URL LOG -> pid in BPID
  local prof=/tmp/chromium-profile-$1; rm -rf $prof
  setsid chromium --headless=new --no-sandbox --disable-gpu --use-fake-ui-for-media-stream \
    --autoplay-policy=no-user-gesture-required --no-first-run --no-default-browser-check \
    --disable-background-timer-throttling --disable-renderer-backgrounding --disable-backgrounding-occluded-windows \
    --user-data-dir=$prof --window-size=1280,800 --enable-logging=stderr --v=0 ${E2E_CHROMIUM_FLAGS:-} \
    "$2" > "$3" 2>&1 < /dev/null & BPID=$!
}
run_firefox() {
  local prof=/tmp/firefox-profile-$1; rm -rf $prof; mkdir -p $prof
  cat > $prof/user.js <<'EOF'
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.streams.fake", false);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("devtools.console.stdout.content", true);
user_pref("media.cubeb.backend", "null");
EOF
  MOZ_HEADLESS=1 setsid firefox-esr --headless --no-remote --profile $prof "$2" > "$3" 2>&1 < /dev/null & BPID=$!
}

for pf in $CASES; do
  for br in $BROWSERS; do
    tag="$pf-$br"; export PIX_FMT=$pf PROGRESS="$OUT/$pf-$br.producer-progress"
    say "=== case $tag: producer pix_fmt $pf ${WIDTH}x${HEIGHT}@$FPS -> $DEVICE, browser $br"
    reload_loop
    rm -f "$OUT/$tag".*
    setsid bash -c "$PRODUCER" > "$OUT/$tag.producer.log" 2>&1 < /dev/null & PPID_=$!
    tstart=$(date +%s.%N)
    if ! wait_capture ${E2E_PRODUCER_WAIT:-600}; then
      say "FAIL $tag: loopback never announced CAPTURE (producer: $(head -c 400 "$OUT/$tag.producer.log" | tr '\n' ' '))"
      fail=$((fail+1)); SUMMARY+=("FAIL $tag: producer did not start"); kill_tree $PPID_; continue
    fi
    t0=$(date +%s.%N)   # producer fps is measured from here (after a preset's pre-rendering)
    fmt=$(v4l2-ctl -d $DEVICE --get-fmt-video 2>/dev/null | grep -E "Width/Height|Pixel Format" | xargs)
    say "producer up after $(awk -v a="$tstart" -v b="$t0" 'BEGIN{printf "%.1f", b-a}')s; loopback: $fmt"
    url="http://127.0.0.1:$PORT/page.html?tag=$tag&label=$LABEL&w=$WIDTH&h=$HEIGHT&secs=$SECS&gap=${E2E_DRAW_GAP:-0.7}&timeout=$BTIMEOUT"
    tb=$(date +%s.%N)
    run_$br "$tag" "$url" "$OUT/$tag.browser.log"
    got=
    for i in $(seq 1 $((BTIMEOUT*2))); do
      [ -s "$OUT/$tag.json" ] && { got=1; break; }
      kill -0 $BPID 2>/dev/null || break
      sleep 0.5
    done
    bt=$(awk -v a="$tb" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    # fallback: the page also prints the report on the console
    if [ -z "$got" ] && grep -q 'E2E-REPORT ' "$OUT/$tag.browser.log"; then
      grep -o 'E2E-REPORT {.*}' "$OUT/$tag.browser.log" | head -1 | sed 's/^E2E-REPORT //' > "$OUT/$tag.json"; got=1
    fi
    alive=$(kill -0 $BPID 2>/dev/null && echo running || echo exited)
    kill_tree $BPID; kill_tree $PPID_; tp=$(date +%s.%N)
    gpu=$(grep -c 'GPU process exited unexpectedly' "$OUT/$tag.browser.log")
    [ "$gpu" -gt 0 ] && say "WARNING $tag: chromium GPU process crashed $gpu time(s): $(grep -m1 'GPU process exited unexpectedly' "$OUT/$tag.browser.log" | sed 's/.*ERROR://')"
    if [ -z "$got" ]; then
      say "FAIL $tag: no report from $br after ${bt}s (browser $alive); page steps: $(cat "$OUT/$tag.steps" 2>/dev/null | tr '\n' ';')"
      say "  browser log tail:"; tail -15 "$OUT/$tag.browser.log" | sed 's/^/    /'
      fail=$((fail+1)); SUMMARY+=("FAIL $tag: no report"); continue
    fi
    pfps=
    if [ -s "$OUT/$tag.producer-progress" ]; then   # default producers: ffmpeg -progress output
      pfps=$(awk -F= -v w="$(awk -v a="$t0" -v b="$tp" 'BEGIN{print b-a}')" '/^frame=/{f=$2} /^speed=/{sp=$2} END{printf "%d frames in %.0fs wall = %.1f fps (ffmpeg speed %s)", f, w, f/w, sp}' "$OUT/$tag.producer-progress")
    fi
    verdict=$(/usr/bin/python3 - "$OUT/$tag.json" "$LABEL" "$WIDTH" "$HEIGHT" "$MIN_FRAMES" "$bt" "$pfps" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); label, W, H, minf, bt, pfps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
problems = []
if not r.get("ok"): problems.append("page error: %s" % r.get("error"))
s = r.get("settings") or {}
fr = r.get("frames") or {}
rv, mp = fr.get("rvfc") or {}, fr.get("track_processor") or {}
drawn = r.get("drawn") or []
if label not in (r.get("track_label") or ""): problems.append("track label %r" % r.get("track_label"))
if (s.get("width"), s.get("height")) != (W, H): problems.append("settings %sx%s != %sx%s" % (s.get("width"), s.get("height"), W, H))
if r.get("ok") and (fr.get("received") or 0) < minf: problems.append("only %s frames received in %ss (< %d)" % (fr.get("received"), fr.get("counting_s"), minf))
if drawn and max(drawn[-1]["stddev_rgb"]) < 10: problems.append("drawn frame is flat %s" % drawn[-1])
if r.get("ok") and r.get("distinct_checksums", 0) < 2: problems.append("drawn frames never change")
print("%s | inputs=%s track=%r settings=%sx%s@%s | received=%s frames in %ss (%s) | track-processor: %s frames %s fps %s %s | rVFC: %s callbacks (%s fps), presentedFrames +%s, totalVideoFrames=%s | drawn mean_rgb=%s sd=%s distinct=%s/%s | producer: %s | page %.1fs, browser %.1fs (startup ~%.0fs)" % (
  "PASS" if not problems else "FAIL: " + "; ".join(problems), r.get("video_inputs"), r.get("track_label"),
  s.get("width"), s.get("height"), s.get("frameRate"), fr.get("received"), fr.get("counting_s"), fr.get("received_by"),
  mp.get("frames"), mp.get("fps"), mp.get("formats"), mp.get("sizes"), rv.get("callbacks"), rv.get("fps"), rv.get("presentedFrames_delta"),
  (r.get("playback_quality") or {}).get("totalVideoFrames"), r.get("mean_rgb"), r.get("stddev_rgb"), r.get("distinct_checksums"), len(drawn),
  pfps or "n/a", r.get("elapsed_s") or 0, bt, bt - (r.get("elapsed_s") or 0)))
EOF2
)
    say "$tag: $verdict"
    say "$tag producer log: $(grep -m3 -E 'virtual camera|error|ERROR' "$OUT/$tag.producer.log" | cut -c1-300 | tr '\n' ';')"
    case "$verdict" in PASS*) pass=$((pass+1));; *) fail=$((fail+1)); say "  page steps:"; sed 's/^/    /' "$OUT/$tag.steps" 2>/dev/null;; esac
    SUMMARY+=("$tag: $verdict")
  done
done
kill $SRV 2>/dev/null
say "=== summary ($pass passed, $fail failed, guest time $(ts))"
for l in "${SUMMARY[@]}"; do echo "  $l"; done
[ $fail = 0 ] && [ $pass -gt 0 ]
