#!/usr/bin/env bash
# Stop the VM started by boot.sh in WORKDIR (pidfile), and drop its overlay.
# Always succeeds when no VM is running. Usage: tests/vm/stop.sh WORKDIR
set -uo pipefail

work="$1"
pidfile="$work/qemu.pid"
if [ -s "$pidfile" ]; then
  pid="$(cat "$pidfile")"
  # Only a qemu process may be signalled: a stale pidfile must not hit a reused pid.
  if kill -0 "$pid" 2>/dev/null && grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "stopped qemu $pid"
  fi
  rm -f "$pidfile"
fi
rm -f "$work/overlay.qcow2" "$work/ssh_port"
exit 0
