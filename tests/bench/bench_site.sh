#!/usr/bin/env bash
# Time playbooks/site.yml over SSH on a local "fresh VPS" container: the first
# converge (root with a password) and a re-apply to the converged host. The
# re-apply must stay under 30 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
name=quietnode-bench
port="${QN_BENCH_PORT:-2223}"
state="$PWD/bench-results/site-state"
limit="${QN_REAPPLY_LIMIT:-30}"
rm -rf "$state"
trap 'bash tests/scripts/vps.sh stop "$name"' EXIT
bash tests/scripts/vps.sh start "$name" "$port" "$state"
bash tests/scripts/vps.sh inventory "$name" "$port" "$state"

declare -A seconds
run() {
  local label="$1" start recap
  start=$(date +%s%N)
  ansible-playbook -i "$state/inventory.yml" playbooks/site.yml >"$state/$label.log" 2>&1 \
    || { tail -40 "$state/$label.log"; echo "$label: site.yml failed"; exit 1; }
  seconds[$label]=$(( ($(date +%s%N) - start) / 1000000 ))
  recap=$(grep -E '^demo +:' "$state/$label.log")
  printf '%-16s %9.1f %6s %8s %8s\n' "$label" "$(awk -v ms="${seconds[$label]}" 'BEGIN{printf "%.1f", ms/1000}')" \
    "$(sed -E 's/.*ok=([0-9]+).*/\1/' <<<"$recap")" \
    "$(sed -E 's/.*changed=([0-9]+).*/\1/' <<<"$recap")" \
    "$(sed -E 's/.*skipped=([0-9]+).*/\1/' <<<"$recap")"
}

echo "playbooks/site.yml over SSH to a Debian 12 container ($(nproc) cores)"
printf '%-16s %9s %6s %8s %8s\n' run seconds tasks changed skipped
run first-converge
run re-apply
echo "ratio first/re-apply: $(awk -v a="${seconds[first-converge]}" -v b="${seconds[re-apply]}" 'BEGIN{printf "%.1f", a/b}')"
if (( seconds[re-apply] > limit * 1000 )); then
  echo "re-apply took longer than ${limit}s"; exit 1
fi
