#!/usr/bin/env bash
# Collect evidence from a Debian 12 container holding QN_BENCH_LOG_MB of logs (default 1024)
# and QN_BENCH_PROCS sleepers (default 300), through playbooks/collect_evidence.yml over the
# docker connection. Reports wall time against gzip alone, the module's peak RSS, the target's
# peak memory over collect plus fetch (both sampled from the host's /proc, so the sampler starts
# nothing in the container), the processes started during the run (counted from the container's
# process accounting), bundle size and throughput.
# Targets (issues 7 and 10): at most 200 processes, the target's peak memory during collect and
# fetch at most 100 MB, time dominated by compression.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
name="${QN_BENCH_NAME:-evidence-bench}"
log_mb="${QN_BENCH_LOG_MB:-1024}"
procs="${QN_BENCH_PROCS:-300}"
image="${QN_BENCH_IMAGE:-quietnode/debian12:latest}"
out="$PWD/bench-results/evidence"
max_procs=200
max_rss_mb=100
rm -rf "$out"
mkdir -p "$out"
sampler=
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  docker rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# systemd boots fully (it cleans /tmp on the way) before apt runs.
bash tests/scripts/vps.sh boot "$name" "$image" \
  --volume "${QN_APT_CACHE:-/var/cache/quietnode-apt}/debian12-evidence:/var/cache/apt/archives:rw"
in_ct() { docker exec -i "$name" "$@"; }

echo "preparing: acct, ${log_mb} MiB of logs, ${procs} sleepers" >&2
in_ct bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends acct >/dev/null'
in_ct bash -c 'systemctl start acct && test -s /var/log/account/pacct -o -f /var/log/account/pacct'
# Logs of realistic shape, split over four files below the default 256 MiB per-file cap
# so every byte is collected.
in_ct python3 - "$log_mb" /var/log <tests/bench/make_logs.py
in_ct bash -c "for i in \$(seq 1 $procs); do setsid -f sleep 1800 </dev/null >/dev/null 2>&1; done"
in_ct sync

cat >"$out/inventory.yml" <<EOF
all:
  hosts:
    $name:
      ansible_connection: community.docker.docker
      ansible_python_interpreter: /usr/bin/python3
EOF

# Memory, sampled every 0.1 s from the host's /proc (the sampler starts nothing in the container).
# Every process in the container's pid namespace that was not there before the run counts: the
# module, the fetch's helpers (slurp, or dd/sftp-server when the bundle streams), Ansible's shells.
# "run peak" is the largest sum of their VmHWM (each process's own peak so far) over the processes
# alive at one sample: an upper bound of the memory the run held at once, since shared pages count
# once per process. Page cache is not counted: the kernel reclaims it under pressure.
init_pid=$(docker inspect -f '{{.State.Pid}}' "$name")
python3 - "$out/rss.txt" "$init_pid" <<'PY' &
import os, sys, time
out, init = sys.argv[1], sys.argv[2]
ns = os.readlink('/proc/%s/ns/pid' % init)


def procs():
    """(pid, starttime) -> (comm, cmdline, VmHWM kB) for the container's processes."""
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            if os.readlink('/proc/%s/ns/pid' % pid) != ns:
                continue
            with open('/proc/%s/stat' % pid) as handle:
                stat = handle.read()
            start = stat.rsplit(')', 1)[1].split()[19]
            hwm = 0
            with open('/proc/%s/status' % pid) as handle:
                for line in handle:
                    if line.startswith('VmHWM:'):
                        hwm = int(line.split()[1])
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                cmd = handle.read()
            found[(pid, start)] = (stat.split('(', 1)[1].rsplit(')', 1)[0], cmd, hwm)
        except (OSError, IndexError, ValueError):
            pass
    return found


before = set(procs())
with open(out, 'w') as handle:
    handle.write('0 0 0 - 0\n')
module_kb = run_kb = top_kb = 0
top = '-'
seen = set()
deadline = time.time() + 1800
while time.time() < deadline and not os.path.exists(out + '.stop'):
    now = {k: v for k, v in procs().items() if k not in before}
    seen.update(now)
    run_kb = max(run_kb, sum(v[2] for v in now.values()))
    for comm, cmd, hwm in now.values():
        if b'AnsiballZ_evidence_bundle' in cmd:
            module_kb = max(module_kb, hwm)
        if hwm > top_kb:
            top_kb, top = hwm, 'slurp' if b'AnsiballZ_slurp' in cmd else comm.replace(' ', '_')
    with open(out, 'w') as handle:
        handle.write('%d %d %d %s %d\n' % (module_kb, run_kb, top_kb, top, len(seen)))
    time.sleep(0.1)
PY
sampler=$!
for _ in $(seq 1 100); do [ -s "$out/rss.txt" ] && break; sleep 0.1; done

acct_before=$(in_ct stat -c %s /var/log/account/pacct)
start=$(date +%s%N)
ansible-playbook -i "$out/inventory.yml" playbooks/collect_evidence.yml \
  -e "local_dir=$out/bundles" -e since=-48h >"$out/playbook.log" 2>&1 \
  || { tail -40 "$out/playbook.log"; echo "collect_evidence.yml failed"; exit 1; }
wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# the kernel writes a record when a process exits; give the last ones a moment
sleep 1
acct_after=$(in_ct stat -c %s /var/log/account/pacct)
touch "$out/rss.txt.stop"
wait "$sampler" || true
read -r rss_kb run_kb top_kb top_comm seen_procs <"$out/rss.txt"

started=$(( (acct_after - acct_before) / 64 ))
bundle=$(ls "$out"/bundles/"$name"/*/*.tar.gz)
bundle_bytes=$(stat -c %s "$bundle")
read -r module_s stored_bytes < <(python3 - "$bundle" <<'PY'
import json, sys, tarfile, datetime
first = last = None
stored = 0
with tarfile.open(sys.argv[1], 'r:gz') as tar:
    for m in tar:
        if m.name.endswith('/collection.log'):
            lines = tar.extractfile(m).read().decode().splitlines()
            ts = [datetime.datetime.strptime(l.split()[0], '%Y-%m-%dT%H:%M:%S.%fZ') for l in lines if l[:4].isdigit()]
            first, last = ts[0], ts[-1]
        elif m.name.endswith('/manifest.jsonl'):
            for line in tar.extractfile(m).read().splitlines():
                stored += json.loads(line).get('stored') or 0
print('%.1f %d' % ((last - first).total_seconds(), stored))
PY
)
# Reference: gzip -6 alone over the same logs, after the count (these processes are not counted).
gzip_ms=$( { /usr/bin/time -f %e docker exec "$name" sh -c 'cat /var/log/auth.log /var/log/auth.log.1 /var/log/syslog /var/log/syslog.1 | gzip -6 >/dev/null' ; } 2>&1 | tail -1 | awk '{printf "%d", $1*1000}')

{
echo "evidence_bundle on a Debian 12 container: ${log_mb} MiB of logs, ${procs} sleepers, $(nproc) host cores"
printf '%-34s %s\n' "playbook wall time" "$(awk -v ms="$wall_ms" 'BEGIN{printf "%.1f s", ms/1000}')"
printf '%-34s %s\n' "module time (collection.log)" "${module_s} s"
printf '%-34s %s\n' "gzip -6 alone over the same logs" "$(awk -v ms="$gzip_ms" 'BEGIN{printf "%.1f s", ms/1000}')"
printf '%-34s %s\n' "module peak RSS (VmHWM)" "$(awk -v kb="$rss_kb" 'BEGIN{printf "%.1f MB", kb/1024}')"
printf '%-34s %s\n' "target peak, collect + fetch" "$(awk -v kb="$run_kb" 'BEGIN{printf "%.1f MB", kb/1024}') (sum of VmHWM of the ${seen_procs} run processes seen alive together; target <= ${max_rss_mb} MB)"
printf '%-34s %s\n' "largest single process" "$(awk -v kb="$top_kb" 'BEGIN{printf "%.1f MB", kb/1024}') (${top_comm})"
printf '%-34s %s\n' "processes started during the run" "${started} (pacct +$((acct_after - acct_before)) bytes; target <= ${max_procs})"
printf '%-34s %s\n' "bundle on the controller" "mode $(stat -c %a "$bundle"), directories $(stat -c %a "$(dirname "$bundle")") $(stat -c %a "$(dirname "$(dirname "$bundle")")")"
printf '%-34s %s\n' "bundle size (compressed)" "$(awk -v b="$bundle_bytes" 'BEGIN{printf "%.1f MB", b/1048576}')"
printf '%-34s %s\n' "content stored (uncompressed)" "$(awk -v b="$stored_bytes" 'BEGIN{printf "%.1f MB", b/1048576}')"
printf '%-34s %s\n' "throughput (stored / module time)" "$(awk -v b="$stored_bytes" -v s="$module_s" 'BEGIN{printf "%.1f MB/s", b/1048576/s}')"
} | tee "$out/table.txt"
echo "time per artifact group (collection.log):"
tar -xzOf "$bundle" --wildcards '*/collection.log' | sed -n 's/.* group \([a-z]*\) done in \([0-9.]*s\).*/  \1 \2/p' | tr '\n' ' '
echo
echo "commands started by the module and by Ansible (dump-acct, this run):"
docker exec "$name" sh -c "tail -c +$((acct_before + 1)) /var/log/account/pacct | head -c $((acct_after - acct_before)) > /tmp/run.pacct && dump-acct /tmp/run.pacct" \
  | awk -F'|' '{gsub(/ /, "", $1); n[$1]++} END {for (c in n) printf "  %-16s %d\n", c, n[c]}' | sort -k2 -nr | head -15

fail=0
(( started <= max_procs )) || { echo "FAIL: ${started} processes started, target ${max_procs}"; fail=1; }
(( run_kb <= max_rss_mb * 1024 )) || { echo "FAIL: target peak during collect + fetch ${run_kb} kB, target ${max_rss_mb} MB"; fail=1; }
exit $fail
