#!/usr/bin/env bash
# A Debian 12 (bookworm) arm64 userland under qemu-user, on an x86-64 Debian 12 host (root).
# Raspberry Pi OS bookworm has the same base (Python 3.11, glibc 2.36).
#   emu.sh setup          host packages, binfmt, rootfs (idempotent: ~3 min first time, ~1 s after)
#   emu.sh run CMD...     run CMD inside the arm64 chroot with a clean environment
#   emu.sh teardown       unmount (the rootfs stays for the next run)
# ARM64_CPU and ARM64_CPUINFO choose the emulated core and the /proc/cpuinfo it shows; they must
# match: cortex-a76 + cpuinfo.rpi5 (Pi 5, the default), cortex-a72 + cpuinfo.rpi4 (Pi 4, ARMv8.0),
# cortex-a53 + cpuinfo.rpi3 (Pi 3, Pi Zero 2 W, ARMv8.0).
# Two rules, or results are wrong: QEMU_CPU=cortex-a76 (qemu 7.2's default "max" CPU gives
# silently wrong INT8 results through its SME emulation) and a Pi 5 /proc/cpuinfo (with the
# host's x86 one, XNNPACK's and onnxruntime's cpuinfo library segfault).
set -euo pipefail
ROOT=${ARM64_ROOT:-/var/tmp/edgeembed-arm64root}
CPU=${ARM64_CPU:-cortex-a76}
HERE=$(cd "$(dirname "$0")" && pwd)
CPUINFO=${ARM64_CPUINFO:-$HERE/cpuinfo.rpi5}
log() { echo "[arm64 $(date +%T)] $*" >&2; }
mounted() { grep -q " $1 " /proc/self/mountinfo; }

mirror() {
  if [ -n "${ARM64_MIRROR:-}" ]; then echo "$ARM64_MIRROR"; return; fi
  # The mirror apt already uses on this machine (deb822 .sources or a one-line list).
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

setup_host() {
  if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    log "apt-get install qemu-user-static binfmt-support debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      qemu-user-static binfmt-support debootstrap >/dev/null
  fi
  mounted /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --import qemu-aarch64
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  # F: the interpreter is opened at registration, so it works inside the chroot.
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64
}

build_root() {
  if [ -x "$ROOT/usr/bin/python3.11" ]; then log "rootfs ready: $ROOT"; return; fi
  local url; url=$(mirror)
  log "debootstrap arm64 bookworm from $url -> $ROOT (about 2-3 minutes)"
  rm -rf "$ROOT"; mkdir -p "$(dirname "$ROOT")"
  debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOT" "$url" >"$ROOT.debootstrap.log" 2>&1 || { tail -30 "$ROOT.debootstrap.log"; exit 1; }
}

do_mounts() {
  mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mounted "$ROOT/sys" || mount -t sysfs sysfs "$ROOT/sys"
  mounted "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  # Bound afresh each time: successive runs may emulate different cores.
  if mounted "$ROOT/proc/cpuinfo"; then umount "$ROOT/proc/cpuinfo"; fi
  mount --bind "$CPUINFO" "$ROOT/proc/cpuinfo"
}

run_in() {
  chroot "$ROOT" /usr/bin/env -i QEMU_CPU="$CPU" HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_DISABLE_PIP_VERSION_CHECK=1 ${ARM64_ENV:-} "$@"
}

teardown() {
  for m in proc/cpuinfo proc sys dev; do
    if mounted "$ROOT/$m"; then umount "$ROOT/$m"; fi
  done
}

case "${1:-}" in
  setup) setup_host; build_root; do_mounts ;;
  run) shift; do_mounts; run_in "$@" ;;
  teardown) teardown ;;
  root) echo "$ROOT" ;;
  *) echo "usage: $0 setup | run CMD... | teardown | root" >&2; exit 2 ;;
esac
