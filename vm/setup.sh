#!/bin/bash
# Prepares the real-kernel VM test (tests/vm.rs) on a Debian 12 machine without booting:
# installs qemu-system-x86, v4l-utils, ffmpeg, busybox-static, kmod, make, gcc-12 (apt-get, as
# root), downloads the Debian kernel + headers, builds v4l2loopback against them and the
# initramfs. Everything but the apt packages is cached in $V4L2VM_DIR (~/.cache/v4l2vm).
# `make test` can call it in its set-up step so the test's own time is the VM run alone.
set -euo pipefail
exec "$(dirname "$0")/run-in-vm.sh" --prepare "$@"
