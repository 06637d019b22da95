#!/usr/bin/env bash
# Build systemd-capable Debian base images with debootstrap and import them into Docker.
# Images are tagged with a hash of this script, so they are rebuilt only when it changes.
# Usage: tests/images/build.sh [bookworm|trixie ...]   (default: both)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${QN_IMAGE_CACHE:-/var/cache/quietnode-images}"
script_hash="$(sha256sum "$0" | cut -c1-12)"
# What a freshly provisioned VPS has: systemd, sshd, python3 for Ansible, sudo, and
# netbase (/etc/protocols, /etc/services), which every real Debian install carries.
packages="systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,netbase,sudo,iproute2,procps,ca-certificates,less,cron,gnupg"

declare -A names=([bookworm]=debian12 [trixie]=debian13)

build_one() {
  local suite="$1" name="${names[$1]}"
  local tag="quietnode/${name}:${script_hash}"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "image ${tag} is current"
    docker tag "$tag" "quietnode/${name}:latest"
    return 0
  fi
  echo "building ${tag} from ${mirror} (${suite})"
  local root
  root="$(mktemp -d "${TMPDIR:-/tmp}/qn-${suite}.XXXXXX")"
  mkdir -p "$cache/$suite"
  debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/$suite" \
    "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -30 "$root.log"; rm -rf "$root"; return 1; }
  chroot "$root" /bin/sh -es <<'CHROOT'
# Services a container cannot or need not run; everything else stays as shipped.
for unit in systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
            getty@tty1.service console-getty.service systemd-firstboot.service \
            systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-modules-load.service; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done
echo 'container' > /etc/hostname
# sshd host keys are made at first boot, as on a real VPS.
rm -f /etc/ssh/ssh_host_*
cat > /etc/systemd/system/ssh-hostkeys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-hostkeys.service /etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/tmp/*
: > /etc/machine-id
CHROOT
  tar -C "$root" --numeric-owner -c . | docker import - "${tag}-rootfs" >/dev/null
  # A local build step (no registry) adds what `docker import -c` cannot: STOPSIGNAL.
  printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nCMD ["/lib/systemd/systemd"]\n' \
    "${tag}-rootfs" | DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >>"$root.log" 2>&1 \
    || { tail -30 "$root.log"; rm -rf "$root" "$root.log"; return 1; }
  docker rmi "${tag}-rootfs" >/dev/null
  rm -rf "$root" "$root.log"
  docker tag "$tag" "quietnode/${name}:latest"
  # Drop images built by earlier versions of this script.
  docker images --format '{{.Repository}}:{{.Tag}}' "quietnode/${name}" \
    | grep -v -e ":latest$" -e ":${script_hash}$" | xargs -r docker rmi >/dev/null 2>&1 || true
  echo "built ${tag}"
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
for s in "${suites[@]}"; do build_one "$s"; done
