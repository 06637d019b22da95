#!/usr/bin/env bash
# Cost of the recorders on an idle converged container (the Molecule `recorders` scenario: process
# accounting, sysstat, atop, the connection log and the persistence baseline), then the connection
# log's CPU overhead under a bounded flood of new outbound connections to the scenario's peer.
#   QN_BENCH_MINUTES  idle interval measured (default 10); per-day and per-hour figures are extrapolated
#   QN_BENCH_FLOOD    new outbound connections in each flood minute (default 1000, at most 1000)
#   MOLECULE_DISTRO   debian12 (default) or debian13
# CPU of short-lived recorder processes (sa1, sadc and their children) comes from the container's own
# process accounting; atop's from /proc/<pid>/stat; disk from du. Targets (issue 12): all recorders
# together at most 1% of one core and 50 MB of disk a day.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export MOLECULE_DISTRO="${MOLECULE_DISTRO:-debian12}"
export MOLECULE_IMAGE="quietnode/$MOLECULE_DISTRO:latest" MOLECULE_INIT=/lib/systemd/systemd
export QN_APT_CACHE="${QN_APT_CACHE_ROOT:-/var/cache/quietnode-apt}/bench"
mkdir -p "$QN_APT_CACHE/$MOLECULE_DISTRO"
minutes="${QN_BENCH_MINUTES:-10}"
flood="${QN_BENCH_FLOOD:-1000}"
[ "$flood" -le 1000 ] || { echo "QN_BENCH_FLOOD is at most 1000 a minute" >&2; exit 2; }
target="recorders-target-$MOLECULE_DISTRO"
peer_ip=10.231.77.20
out="$PWD/bench-results/recorders"
mkdir -p "$out"

cleanup() { molecule destroy -s recorders >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "converging the recorders scenario on $MOLECULE_DISTRO" >&2
molecule destroy -s recorders >/dev/null 2>&1 || true
molecule converge -s recorders >"$out/converge.log" 2>&1 || { tail -40 "$out/converge.log"; exit 1; }
in_ct() { docker exec -i "$target" "$@"; }

# One snapshot: epoch, atop's CPU ticks, pid 1's and journald's, recorder directory sizes, process count.
snapshot() {
  in_ct bash -c '
    ticks() { p=$(systemctl show -p MainPID --value "$1"); [ "$p" != 0 ] && awk "{print \$14+\$15}" /proc/$p/stat || echo 0; }
    echo "epoch $(date +%s)"
    echo "atop_pid $(systemctl show -p MainPID --value atop.service)"
    echo "atop_ticks $(ticks atop.service)"
    echo "init_ticks $(awk "{print \$14+\$15}" /proc/1/stat)"
    echo "journald_ticks $(ticks systemd-journald.service)"
    for d in /var/log/atop /var/log/sysstat /var/log/account /var/lib/quietnode/baseline; do
      s=$(du -sb "$d" 2>/dev/null | cut -f1); echo "du $d ${s:-0}"; done
    # The journal is persistent on a converged host (journald role), volatile in this scenario.
    s=$(du -scb /var/log/journal /run/log/journal 2>/dev/null | tail -1 | cut -f1); echo "du journal ${s:-0}"
    echo "procs $(ls -d /proc/[0-9]* | wc -l)"
    echo "pacct_bytes $(stat -c %s /var/log/account/pacct)"'
}

# Let the first samples and the converge's own processes pass before measuring.
sleep 70
snapshot >"$out/start.txt"
echo "measuring an idle interval of $minutes minutes" >&2
sleep $(( minutes * 60 ))
snapshot >"$out/end.txt"
start_bytes=$(awk '$1 == "pacct_bytes" {print $2}' "$out/start.txt")
in_ct tail -c +$(( start_bytes + 1 )) /var/log/account/pacct >"$out/pacct.bin"
journal_lines=$(in_ct journalctl -q --since "@$(awk '$1 == "epoch" {print $2}' "$out/start.txt")" \
  -u sysstat-collect.service -u atop.service -u acct.service -u quietnode-connlog.service | wc -l)

# The flood: one process opening connections at an even pace for a minute, as nobody; the container's
# cgroup CPU time (host side, cgroup v1 cpuacct) is read with the table loaded and without it.
cid=$(docker inspect -f '{{.Id}}' "$target")
cpuacct=/sys/fs/cgroup/cpuacct/docker/$cid/cpuacct.usage
[ -r "$cpuacct" ] || cpuacct=/sys/fs/cgroup/cpu,cpuacct/docker/$cid/cpuacct.usage
flood_once() {
  local before after
  before=$(cat "$cpuacct")
  in_ct setpriv --reuid=nobody --regid=nogroup --clear-groups python3 - "$flood" "$peer_ip" <<'EOF'
import socket, sys, time
count, peer = int(sys.argv[1]), sys.argv[2]
start = time.monotonic()
for i in range(count):
    sock = socket.socket()
    sock.settimeout(2)
    try:
        sock.connect((peer, 8080))
    except OSError:
        pass
    sock.close()
    pause = start + (i + 1) * 60.0 / count - time.monotonic()
    if pause > 0:
        time.sleep(pause)
EOF
  after=$(cat "$cpuacct")
  echo $(( after - before ))
}
counters() { in_ct nft list table inet quietnode_connlog | sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]* limit.*counter packets \([0-9]*\) bytes.*/\1 \2/p'; }
echo "flood: $flood new outbound connections in one minute, with and without the connection log" >&2
read -r total0 logged0 < <(counters)
with_ns=$(flood_once)
read -r total1 logged1 < <(counters)
in_ct nft delete table inet quietnode_connlog
without_ns=$(flood_once)
in_ct systemctl restart quietnode-connlog.service

python3 - "$out" "$minutes" "$journal_lines" "$flood" "$with_ns" "$without_ns" \
  "$(( total1 - total0 ))" "$(( logged1 - logged0 ))" "$(in_ct getconf CLK_TCK)" "$MOLECULE_DISTRO" <<'EOF'
import struct, sys
out, minutes, journal_lines, flood, with_ns, without_ns, total, logged, hz, distro = sys.argv[1:]
minutes, flood, hz = float(minutes), int(flood), int(hz)

def snap(name):
    data = {}
    for line in open('%s/%s' % (out, name)):
        key, *rest = line.split()
        data[(key, rest[0]) if key == 'du' else key] = int(rest[-1]) if rest[-1].lstrip('-').isdigit() else rest[-1]
    return data

def comp(value):
    return (value & 0x1fff) << (3 * ((value >> 13) & 7))

start, end = snap('start.txt'), snap('end.txt')
seconds = end['epoch'] - start['epoch']
# acct v3 records (64 bytes): sum sa1, sadc and the children sa1 starts.
raw = open('%s/pacct.bin' % out, 'rb').read()
records = []
for off in range(0, len(raw) - 63, 64):
    rec = struct.unpack('<BBHIIIIIIf8H16s', raw[off:off + 64])
    comm = rec[-1].split(b'\0')[0].decode('ascii', 'replace')
    records.append({'pid': rec[6], 'ppid': rec[7], 'comm': comm, 'cpu': (comp(rec[10]) + comp(rec[11])) / 100.0})
sa1 = set(r['pid'] for r in records if r['comm'] == 'sa1')
sysstat_cpu = sum(r['cpu'] for r in records if r['comm'] in ('sa1', 'sadc') or r['ppid'] in sa1)
# debian-sa1 and sa1 exec sadc, so each sample ends as one record named sadc.
sysstat_runs = sum(1 for r in records if r['comm'] == 'sadc')
atop_cpu = (end['atop_ticks'] - start['atop_ticks']) / float(hz) if end['atop_pid'] == start['atop_pid'] else float('nan')
init_cpu = (end['init_ticks'] - start['init_ticks']) / float(hz)
journald_cpu = (end['journald_ticks'] - start['journald_ticks']) / float(hz)

def grow(path):
    return end[('du', path)] - start[('du', path)]

day = 86400.0 / seconds
rows = [
    ('atop (60 s samples)', atop_cpu, grow('/var/log/atop')),
    ('sysstat (sa1+sadc, %d runs)' % sysstat_runs, sysstat_cpu, grow('/var/log/sysstat')),
    ('process accounting (kernel)', 0.0, grow('/var/log/account')),
    ('persistence baseline (converge only)', 0.0, grow('/var/lib/quietnode/baseline')),
    ('connection log (kernel, idle)', 0.0, 0),
]
print('Recorders on an idle converged %s container: measured %.1f min, extrapolated to an hour and a day' % (distro, seconds / 60.0))
print('(%d processes in the container; atop\'s file grows with the process count)' % end['procs'])
print('%-40s %12s %12s %14s %12s' % ('recorder', 'CPU s/interval', '% of 1 core', 'disk B/interval', 'MB/day (ext.)'))
tot_cpu = tot_disk = 0.0
for name, cpu, disk in rows:
    tot_cpu += cpu if cpu == cpu else 0.0
    tot_disk += disk
    print('%-40s %12.2f %12.4f %14d %12.2f' % (name, cpu, 100.0 * cpu / seconds, disk, disk * day / 1e6))
print('%-40s %12.2f %12.4f %14d %12.2f' % ('all recorders', tot_cpu, 100.0 * tot_cpu / seconds, tot_disk, tot_disk * day / 1e6))
print('%-40s %12.2f %12.4f %14s %12s' % ('context: systemd (pid 1, timers)', init_cpu, 100.0 * init_cpu / seconds, '-', '-'))
print('%-40s %12.2f %12.4f %14d %12.2f' % ('context: journald and the journal', journald_cpu, 100.0 * journald_cpu / seconds,
                                          grow('journal'), grow('journal') * day / 1e6))
print('journal lines from the recorders\' units in the interval: %s (%.0f a day extrapolated)' % (journal_lines, int(journal_lines) * day))
print('(acct records CPU in 10 ms ticks: a sadc run below one tick counts as 0)')
print('targets: at most 1%% of one core -> %s; at most 50 MB a day -> %s' % (
    'met' if 100.0 * tot_cpu / seconds <= 1.0 else 'NOT met', 'met' if tot_disk * day / 1e6 <= 50 else 'NOT met'))
print()
with_s, without_s = int(with_ns) / 1e9, int(without_ns) / 1e9
print('Connection log under a flood of %d new outbound connections in one minute (container cgroup CPU):' % flood)
print('%-40s %12s' % ('run', 'CPU s'))
print('%-40s %12.3f' % ('with inet quietnode_connlog', with_s))
print('%-40s %12.3f' % ('without the table', without_s))
print('%-40s %12.3f  (%.2f%% of one core over the minute; noise of one run each)' % ('overhead', with_s - without_s, 100.0 * (with_s - without_s) / 60.0))
print('connections counted %s, logged %s (rate 10/s, burst 50: at most %d in the minute)' % (total, logged, 50 + 10 * 62))
EOF
