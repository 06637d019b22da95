#!/usr/bin/env bash
# Boot the verification VM from a fresh copy-on-write overlay of the cached image, with
# TCG (no KVM here), user-mode networking and SSH forwarded on 127.0.0.1 only.
# Usage: tests/vm/boot.sh WORKDIR
# QN_VM_TAP=<tap device> adds a second NIC on that (existing) tap device, MAC QN_VM_TAP_MAC
# (default 52:54:00:51:0e:01): the incident scenario bridges it to its attacker's network.
# WORKDIR receives: id_ed25519{,.pub} (throwaway key for this run), overlay.qcow2,
# console.log (serial console), qemu.pid, ssh_port. Prints the SSH port on its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mkdir -p "$1" && cd "$1" && pwd)"
mem="${QN_VM_MEMORY:-2048}"
cpus="${QN_VM_CPUS:-2}"
ssh_wait="${QN_VM_SSH_WAIT:-600}"  # TCG under a loaded machine took over 300 s

if [ -s "$work/qemu.pid" ] && kill -0 "$(cat "$work/qemu.pid")" 2>/dev/null; then
  echo "vm already running (pid $(cat "$work/qemu.pid"))" >&2
  cat "$work/ssh_port"
  exit 0
fi

image_dir="$(bash "$here/build-image.sh" | tail -1)"

# One key pair per run: only this run's controller can log in, and nothing is cached.
[ -s "$work/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C quietnode-vm-test -f "$work/id_ed25519"
rm -f "$work/overlay.qcow2" "$work/console.log"
qemu-img create -q -f qcow2 -b "$image_dir/base.img" -F raw "$work/overlay.qcow2"

# A free port on 127.0.0.1, chosen by the kernel.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "$port" > "$work/ssh_port"

extra_nic=()
if [ -n "${QN_VM_TAP:-}" ]; then
  extra_nic=(-netdev "tap,id=n1,ifname=$QN_VM_TAP,script=no,downscript=no"
             -device "virtio-net-pci,netdev=n1,mac=${QN_VM_TAP_MAC:-52:54:00:51:0e:01}")
fi

start=$(date +%s)
# -display none + -daemonize is -nographic without a terminal: the serial console goes
# to console.log and qemu.pid lets destroy stop exactly this process.
qemu-system-x86_64 \
  -name quietnode-vm -machine q35 -accel tcg,thread=multi -cpu "${QN_VM_CPU:-max}" -smp "$cpus" -m "$mem" \
  -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.show_status=1 ${QN_VM_APPEND:-}" \
  -drive "file=$work/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22" -device virtio-net-pci,netdev=n0 \
  "${extra_nic[@]}" \
  -device virtio-rng-pci \
  -fw_cfg "name=opt/quietnode/root_authorized_keys,file=$work/id_ed25519.pub" \
  -display none -serial "file:$work/console.log" -monitor none \
  -pidfile "$work/qemu.pid" -daemonize

fail() {
  echo "$1" >&2
  echo "---- last lines of $work/console.log ----" >&2
  tail -40 "$work/console.log" >&2 || true
  bash "$here/stop.sh" "$work" >&2 || true
  exit 1
}

ssh_opts=(-i "$work/id_ed25519" -p "$port" -o BatchMode=yes -o ConnectTimeout=5
          -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
until ssh "${ssh_opts[@]}" root@127.0.0.1 true 2>/dev/null; do
  kill -0 "$(cat "$work/qemu.pid")" 2>/dev/null || fail "qemu exited during boot"
  [ $(( $(date +%s) - start )) -lt "$ssh_wait" ] || fail "no SSH on 127.0.0.1:$port after ${ssh_wait}s"
  sleep 3
done
echo "vm up: ssh root@127.0.0.1 -p $port after $(( $(date +%s) - start ))s" >&2
echo "$port"
