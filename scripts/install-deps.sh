#!/usr/bin/env bash
# System packages Backdrop needs to build, at run time and for its tests (Debian/Ubuntu).
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v v4l2-ctl >/dev/null || need+=(v4l-utils)
command -v unzip >/dev/null || need+=(unzip)
command -v npm >/dev/null || need+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# MJPEG output links libjpeg-turbo (found with pkg-config at build time).
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists libturbojpeg 2>/dev/null || need+=(libturbojpeg0-dev)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
