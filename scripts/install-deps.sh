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
# The PipeWire camera's test (tests/pipewire.rs): a private daemon, session manager and session bus,
# and GStreamer's pipewiresrc as the reader. Backdrop itself loads libpipewire at run time only when
# virtual_video_device is pipewire: nothing PipeWire is needed to build it.
command -v pipewire >/dev/null || need+=(pipewire pipewire-bin)
command -v wireplumber >/dev/null || need+=(wireplumber)
# (Debian 12 and Ubuntu 23.04+ split dbus-daemon out of dbus.)
if ! command -v dbus-daemon >/dev/null; then
  if apt-cache show dbus-daemon >/dev/null 2>&1; then need+=(dbus-daemon); else need+=(dbus); fi
fi
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools)
gst-inspect-1.0 pipewiresrc >/dev/null 2>&1 || need+=(gstreamer1.0-pipewire)
# Its browser case: the camera portal, and gdbus to set the portal's camera permission.
[ -x /usr/libexec/xdg-desktop-portal ] || need+=(xdg-desktop-portal)
command -v gdbus >/dev/null || need+=(libglib2.0-bin)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
