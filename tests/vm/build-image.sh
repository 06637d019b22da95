#!/usr/bin/env bash
# Build the Debian 12 verification VM from Debian packages only: debootstrap into a
# directory, then a raw ext4 image with `mkfs.ext4 -d` (no loop mount, no partition table),
# plus the kernel and initrd for direct kernel boot.
# The result is cached under $QN_VM_CACHE/<hash of this script>/ and rebuilt only when this
# script changes; every run boots a copy-on-write overlay, so the cache stays pristine.
# Usage: tests/vm/build-image.sh        prints the cache directory on its last line
set -euo pipefail
# debootstrap and chroot need root; the cache is shared by every user of the machine.
[ "$(id -u)" -eq 0 ] || exec sudo -E bash "$0" "$@"

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${QN_VM_CACHE:-/var/cache/quietnode-vm}"
size="${QN_VM_DISK_SIZE:-6G}"
hash="$(sha256sum "$0" | cut -c1-12)"
out="$cache/$hash"
# A fresh VPS: systemd, sshd, python3 for Ansible, sudo; plus a kernel and what it boots with.
packages="systemd,systemd-sysv,udev,dbus,kmod,openssh-server,python3,python3-apt,netbase,sudo,iproute2,procps,ca-certificates,less,cron,gnupg,linux-image-cloud-amd64,initramfs-tools,e2fsprogs"
# What the baseline roles install (vars/Debian.yml of each role). Installed here because under
# TCG `apt-get update` alone takes ~100 s and installing these ~4 min; the roles still run
# their install tasks, which then report ok.
# Installed by apt in the chroot, not by debootstrap: debootstrap's configure order breaks polkitd.
# Not atop: preinstalled, its atopacct.service starts at boot and, when it stops, turns kernel
# accounting off while acct.service still reads active (the incident run showed an empty pacct).
preload="firewalld nftables fail2ban python3-systemd sysstat xz-utils acct auditd audispd-plugins openssh-client"

if [ -s "$out/base.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
  echo "vm image $out is current" >&2
  echo "$out"
  exit 0
fi

start=$(date +%s)
mkdir -p "$cache/debs"
# Serialise builds: two runs on one machine share the cache.
exec 9>"$cache/.build.lock"
flock -w 1800 9
if [ -s "$out/base.img" ]; then echo "$out"; exit 0; fi

root="$(mktemp -d "${TMPDIR:-/tmp}/qn-vm-root.XXXXXX")"
log="$root.log"
cleanup() {
  mountpoint -q "$root/proc" && umount "$root/proc"
  rm -rf "$root" "$out.tmp"
}
trap cleanup EXIT
echo "building vm image $out from $mirror (log $log)" >&2
debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debs" \
  bookworm "$root" "$mirror" >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }

# The chroot's package scripts need /proc; mounted only for the install (a proc mount, no loop device).
# Installed from the suite debootstrap used (no upgrade), as a first `apt install` on a new VPS does.
mount -t proc proc "$root/proc"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
chroot "$root" /bin/sh -ec "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; \
  apt-get install -y -qq --no-install-recommends $preload" >>"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
rm -f "$root/usr/sbin/policy-rc.d"
umount "$root/proc"
# What package scripts left in /run belongs to no boot; the VM's /run starts empty.
rm -rf "${root:?}"/run/*
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
  "$mirror" "$mirror" > "$root/etc/apt/sources.list"

chroot "$root" /bin/sh -es <<'CHROOT'
echo quietnode-vm > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 quietnode-vm\n::1 localhost ip6-localhost ip6-loopback\n' > /etc/hosts
printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' > /etc/fstab
# The user-mode NIC gets its address by DHCP from QEMU's slirp; 10.0.2.3 is slirp's resolver.
mkdir -p /etc/systemd/network
printf '[Match]\nType=ether\n\n[Network]\nDHCP=ipv4\n' > /etc/systemd/network/10-qn-uplink.network
ln -sf /lib/systemd/system/systemd-networkd.service /etc/systemd/system/multi-user.target.wants/systemd-networkd.service
printf 'nameserver 10.0.2.3\n' > /etc/resolv.conf
# Host keys are made here, not at first boot: RSA generation under TCG costs ~50 s per run,
# and this VM is a throwaway test fixture reachable only on 127.0.0.1.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A
# e2scrub_reap only cleans LVM snapshots (there is no LVM); under TCG it costs ~40 s of CPU at boot.
ln -sf /dev/null /etc/systemd/system/e2scrub_reap.service
# The per-run root key arrives through QEMU's fw_cfg (the image is cached and shared, so
# no key is baked in); installed once, before sshd accepts connections.
cat > /usr/local/sbin/qn-fwcfg-key <<'SH'
#!/bin/sh
set -eu
key=/sys/firmware/qemu_fw_cfg/by_name/opt/quietnode/root_authorized_keys/raw
modprobe qemu_fw_cfg 2>/dev/null || true
[ -r "$key" ] || { echo "no key in fw_cfg"; exit 0; }
install -d -m 0700 /root/.ssh
install -m 0600 "$key" /root/.ssh/authorized_keys
echo "root authorized_keys installed from fw_cfg"
SH
chmod 0755 /usr/local/sbin/qn-fwcfg-key
cat > /etc/systemd/system/qn-fwcfg-key.service <<'UNIT'
[Unit]
Description=Install the test run's root SSH key from QEMU fw_cfg
Before=ssh.service
ConditionPathExists=!/root/.ssh/authorized_keys
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/qn-fwcfg-key
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/qn-fwcfg-key.service /etc/systemd/system/multi-user.target.wants/qn-fwcfg-key.service
# Root logs in by key only until ssh_lockdown takes over.
passwd -l root
# Package lists stay in the image: a role that installs something not preloaded still resolves it,
# and no run pays for `apt-get update` under TCG.
apt-get update -qq
apt-get clean
rm -rf /var/cache/apt/*.bin /tmp/* /var/tmp/*
: > /etc/machine-id
CHROOT

mkdir -p "$out.tmp"
cp "$root"/boot/vmlinuz-* "$out.tmp/vmlinuz"
cp "$root"/boot/initrd.img-* "$out.tmp/initrd.img"
mkfs.ext4 -q -F -L qn-root -d "$root" "$out.tmp/base.img" "$size" >>"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
rm -rf "$out" && mv "$out.tmp" "$out"
# Images of older builder versions are never booted again.
find "$cache" -mindepth 1 -maxdepth 1 -type d -name '????????????' ! -name "$hash" -exec rm -rf {} +
rm -f "$log"
echo "vm image built in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
