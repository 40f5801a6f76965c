#!/usr/bin/env bash
# Installs the Debian package into a clean Debian 12 root and checks that it works there.
#
# Usage: scripts/test_deb.sh [DEB]     (`make test-deb` builds the package and runs it)
# Needs: root (debootstrap, chroot, mounting /proc), debootstrap (installed when missing), ffmpeg
#        and the fetched footage on this machine, network the first time.
#
# The root is Debian 12 "minbase" plus man-db and bash-completion: no Rust, npm or Python (checked).
# In it, as an ordinary user: apt installs the package (ffmpeg comes as a dependency; Recommends
# are left out, the kernel module needs a real kernel); `backdrop init`, `check`, `run`'s first-run
# config, and `process` of a real photo with the default config and with a replaced background
# (the same pixels as this checkout's build); `man`; bash completion. Then zsh and fish (fish pulls
# in Python, so only now) and their completions. Last, `apt-get remove` must take away every file
# of the package and leave nothing behind but the user's config.
#
# KEEP_ROOT=1 keeps the root (in /var/tmp) for a look after a failure.
# Caches in ${XDG_CACHE_HOME:-~/.cache}/backdrop-deb-test: the bootstrapped root as a tarball and
# the .debs apt downloaded, so a rerun needs no network and takes about a minute.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
START=$(date +%s)
step() { echo "[test-deb $(($(date +%s) - START))s] $*"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
DEB=${1:-$(ls -t target/deb/backdrop_*_amd64.deb 2>/dev/null | head -1)}
[ -f "$DEB" ] || fail "no package: make deb"
PHOTO=data/footage/stills/ultralytics_zidane.jpg
BG=data/footage/stills/mpl_grace_hopper.jpg
for f in "$PHOTO" "$BG"; do [ -f "$f" ] || fail "$f is missing: make footage"; done
HOST_BIN=target/release/backdrop
[ -x "$HOST_BIN" ] || fail "no $HOST_BIN to compare with: cargo build --release"
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/backdrop-deb-test
BASE=$CACHE/bookworm-minbase.tar
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE/archives"

R=
cleanup() {
  [ -n "$R" ] || return 0
  umount "$R/proc" 2>/dev/null || true
  if [ -n "${KEEP_ROOT:-}" ]; then echo "test-deb: the root stays in $R" >&2; return 0; fi
  # A root in memory goes with its mount; on disk, --one-file-system never follows a mount
  # that failed to come off into the host.
  umount "$R" 2>/dev/null || true
  rm -rf --one-file-system "$R"
  R=
}
trap cleanup EXIT

if [ ! -f "$BASE" ]; then
  step "bootstrapping Debian 12 minbase (once; cached in $BASE)"
  command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  R=$(mktemp -d /var/tmp/backdrop-deb-base.XXXXXX)
  chmod 0755 "$R"
  debootstrap --variant=minbase --include=man-db,bash-completion bookworm "$R" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  chroot "$R" apt-get update -qq
  chroot "$R" apt-get clean
  tar -C "$R" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
  cleanup
fi

step "unpacking a fresh root"
R=$(mktemp -d /var/tmp/backdrop-deb-test.XXXXXX)
# In memory when allowed (about 1 GiB at most): unpacking and removing 30000 files on a busy
# disk take longer than the test.
mount -t tmpfs -o size=3g tmpfs "$R" 2>/dev/null || true
tar -C "$R" -xf "$BASE"
chmod 0755 "$R" # mktemp's 0700 would keep the user (and apt's sandbox) out of /
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
cp "$CACHE"/archives/*.deb "$R/var/cache/apt/archives/" 2>/dev/null || true
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }
# as_user SCRIPT: runs SCRIPT with bash in the user's home; its output is kept in $OUT_LOG.
OUT_LOG=$(mktemp)
as_user() {
  chroot --userspec=tester:tester "$R" env -i PATH=/usr/bin:/bin HOME=/home/tester USER=tester \
    LANG=C.UTF-8 TERM=dumb bash -c "cd ~ && $1" >"$OUT_LOG" 2>&1
}
expect() { # expect WANTED_STATUS 'script' 'text the output must contain' ...
  local want=$1 script=$2 got=0
  shift 2
  as_user "$script" || got=$?
  [ "$got" = "$want" ] || { cat "$OUT_LOG" >&2; fail "'$script' exited $got, not $want"; }
  for t in "$@"; do
    grep -qF -- "$t" "$OUT_LOG" || { cat "$OUT_LOG" >&2; fail "'$script' did not say: $t"; }
  done
}
save_archives() { cp -n "$R"/var/cache/apt/archives/*.deb "$CACHE/archives/" 2>/dev/null || true; }

for tool in cargo rustc rustup npm node python3 python; do
  ! in_root sh -c "command -v $tool" >/dev/null || fail "the clean root has $tool"
done
in_root useradd -m -s /bin/bash tester

step "apt-get install ./$(basename "$DEB") (with its dependencies, without Recommends)"
cp "$DEB" "$R/tmp/backdrop.deb"
in_root apt-get install -y -qq --no-install-recommends /tmp/backdrop.deb >"$OUT_LOG" 2>&1 ||
  { tail -30 "$OUT_LOG" >&2; fail "apt-get install failed"; }
save_archives
in_root dpkg -s backdrop | grep -q '^Status: install ok installed' || fail "backdrop is not installed"

step "init, check and run's first-run config"
CFG=/home/tester/.config/backdrop/config.yaml
expect 0 'backdrop --version' "backdrop 0"
expect 2 'backdrop check' "$CFG does not exist" "backdrop init"
expect 0 'backdrop init' "wrote $CFG"
cmp "$R$CFG" "$R/usr/share/backdrop/config.yaml.example" || fail "init did not write the example"
expect 2 'echo "fps: 15" > .config/backdrop/config.yaml && backdrop init' "already exists"
grep -qx 'fps: 15' "$R$CFG" || fail "init replaced an existing config"
expect 0 'rm .config/backdrop/config.yaml && backdrop init && backdrop check' "$CFG: OK" "model auto"
! grep -q warning "$OUT_LOG" || { cat "$OUT_LOG" >&2; fail "check warns"; }
# run without -c creates the config, says so, then stops at the missing camera (no devices here).
expect 2 'rm .config/backdrop/config.yaml && backdrop run' "created $CFG from the example" "camera /dev/video0 does not exist"
cmp "$R$CFG" "$R/usr/share/backdrop/config.yaml.example" || fail "run did not create the example config"
expect 0 'XDG_CONFIG_HOME=$HOME/xdg backdrop init' "wrote /home/tester/xdg/backdrop/config.yaml"

step "process a real photo: default config, and a replaced background from the user's config"
cp "$PHOTO" "$R/tmp/photo.jpg"
ffmpeg -v error -y -i "$BG" "$R/home/tester/.config/backdrop/bg.png"
chmod a+r "$R/tmp/photo.jpg" "$R/home/tester/.config/backdrop/bg.png"
expect 0 'cd / && BACKDROP_LOG=info backdrop process /tmp/photo.jpg -o ~/blur.png -q' "engine onnxruntime"
printf 'layers:\n  - empty: [["image", "bg.png"]]\n  - foreground: []\n' > "$R$CFG"
# (process takes no config implicitly: without -c it uses the built-in blurred background.)
expect 0 'cd / && backdrop check && backdrop process /tmp/photo.jpg -o ~/replaced.png -q -c ~/.config/backdrop/config.yaml' "engine onnxruntime"
# The same pixels as this checkout's own build with its own data directory.
HOST=$(mktemp -d)
cp "$R$CFG" "$R/home/tester/.config/backdrop/bg.png" "$HOST/"
"$HOST_BIN" process "$PHOTO" -o "$HOST/blur.png" -q 2>/dev/null
"$HOST_BIN" process "$PHOTO" -o "$HOST/replaced.png" -c "$HOST/config.yaml" -q 2>/dev/null
psnr() { ffmpeg -v error -i "$1" -i "$2" -lavfi psnr=stats_file=- -f null - | sed -n 's/.*psnr_avg:\([0-9.inf]*\).*/\1/p' | head -1; }
# Against the input: the blurred stadium (already out of focus) changes a little, the replaced
# background a lot.
for out in blur:50 replaced:30; do
  most=${out#*:} out=${out%:*}
  p=$(psnr "$R/home/tester/$out.png" "$HOST/$out.png")
  [ "$p" = inf ] || awk "BEGIN { exit !($p > 45) }" || fail "$out.png differs from the checkout's (PSNR $p dB)"
  p_in=$(psnr "$R/home/tester/$out.png" "$PHOTO")
  [ "$p_in" != inf ] && awk "BEGIN { exit !($p_in < $most) }" ||
    fail "$out.png is too near the input photo (PSNR $p_in dB, want < $most): no background effect"
  echo "  $out.png: PSNR against the checkout's build $p dB, against the input photo $p_in dB"
done
rm -rf "$HOST"

step "man pages and bash completion"
expect 0 'man -P cat backdrop' "backdrop-run(1)" "FILES" "~/.config/backdrop/config.yaml"
expect 0 'man -P cat backdrop-init' "never replaces an existing file"
complete_bash() { # words of a command line, last one being completed
  as_user "source /usr/share/bash-completion/bash_completion
    _completion_loader backdrop
    COMP_WORDS=($1); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMP_LINE=\"$1\"; COMP_POINT=\${#COMP_LINE}
    \$(complete -p backdrop | sed -n 's/.*-F \([^ ]*\) .*/\1/p') backdrop \"\${COMP_WORDS[COMP_CWORD]}\" \"\${COMP_WORDS[COMP_CWORD-1]}\"
    printf '%s\n' \"\${COMPREPLY[@]}\""
}
complete_bash 'backdrop pro' && grep -qx process "$OUT_LOG" || { cat "$OUT_LOG" >&2; fail "bash: backdrop pro<TAB>"; }
complete_bash 'backdrop process --fr' && grep -qx -- --frames "$OUT_LOG" || { cat "$OUT_LOG" >&2; fail "bash: backdrop process --fr<TAB>"; }

step "zsh and fish completions (apt-get install zsh fish)"
in_root apt-get install -y -qq --no-install-recommends zsh fish >"$OUT_LOG" 2>&1 ||
  { tail -30 "$OUT_LOG" >&2; fail "apt-get install zsh fish failed"; }
save_archives
expect 0 'fish -c "complete -C \"backdrop pro\""' "process"
expect 0 'fish -c "complete -C \"backdrop init --\""' "--config"
# zsh finds the completion function on its default path and binds it to the command.
expect 0 'zsh -fc "autoload -Uz compinit && compinit -u -d /tmp/zcomp && print -r -- \$_comps[backdrop] && whence -v _backdrop"' \
  "_backdrop" "/usr/share/zsh/vendor-completions/_backdrop"

step "apt-get remove leaves nothing behind but the user's config"
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /tmp -o -path /home -o -path /root -o -path /run \
    -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \) -prune -o -print | sort
}
BEFORE=$(mktemp) AFTER=$(mktemp) FILES=$(mktemp)
snapshot > "$BEFORE"
in_root dpkg -L backdrop | sort > "$FILES"
in_root apt-get remove -y -qq backdrop >"$OUT_LOG" 2>&1 || { cat "$OUT_LOG" >&2; fail "apt-get remove failed"; }
snapshot > "$AFTER"
new=$(comm -13 "$BEFORE" "$AFTER")
[ -z "$new" ] || fail "files appeared: $new"
left=$(comm -12 "$FILES" "$AFTER" | while read -r p; do [ -d "$R$p" ] || echo "$p"; done)
[ -z "$left" ] || fail "files of the package are left: $left"
for d in /usr/lib/backdrop /usr/share/backdrop /usr/share/doc/backdrop; do
  [ ! -e "$R$d" ] || fail "$d is left"
done
[ -f "$R$CFG" ] || fail "the user's config was removed"
echo "  removed $(comm -23 "$BEFORE" "$AFTER" | wc -l) paths; the user's $CFG stays"
rm -f "$BEFORE" "$AFTER" "$FILES" "$OUT_LOG"
cleanup
step "PASS: $(basename "$DEB") installs, works and uninstalls cleanly in a fresh Debian 12 root"
