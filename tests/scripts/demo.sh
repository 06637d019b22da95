#!/usr/bin/env bash
# make demo: converge a local "fresh VPS" container with playbooks/site.yml over a
# real SSH connection, starting from a root password login as on a new Linode.
set -euo pipefail
cd "$(dirname "$0")/../.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"

name=quietnode-demo
port="${QN_DEMO_PORT:-2222}"
state="$PWD/.demo"
admin="${QN_DEMO_ADMIN:-qnadmin}"

echo "== starting a fresh Debian 12 'VPS' container on 127.0.0.1:${port}"
bash tests/scripts/vps.sh start "$name" "$port" "$state"

bash tests/scripts/vps.sh inventory "$name" "$port" "$state" "$admin"

echo "== applying playbooks/site.yml over SSH (first login: root with a password)"
start=$(date +%s)
ansible-playbook -i "$state/inventory.yml" playbooks/site.yml | tee "$state/site.log"
took=$(( $(date +%s) - start ))

echo
echo "== what was applied (${took}s)"
grep -E '^demo +:' "$state/site.log" || true
echo "roles: $(grep -oE 'TASK \[quietnode\.baseline\.[a-z_0-9]+' "$state/site.log" | sed 's/.*\.//' | awk '!seen[$0]++' | paste -sd' ')"
echo
echo "== collecting evidence from the demo host and writing its report (the admin's key login, chosen by itself)"
ansible-playbook -i "$state/inventory.yml" playbooks/collect_evidence.yml -e since=-2h -e local_dir="$state/evidence" \
  | tee "$state/evidence.log" | sed -n '/Print one line per finding/,$p' | grep -v '^$' || true
report="$(ls -t "$state"/evidence/*/*/report.html 2>/dev/null | head -1)"
[ -n "$report" ] || { echo "no report was written: see $state/evidence.log" >&2; exit 1; }
echo "== the report: open file://$PWD/${report#"$PWD"/} in a browser"

echo
echo "== log in as the admin (root and password logins are now refused):"
echo "   ssh -i .demo/id_ed25519 -o UserKnownHostsFile=.demo/known_hosts -p ${port} ${admin}@127.0.0.1"
echo "== re-apply to the converged host:  ansible-playbook -i .demo/inventory.yml playbooks/site.yml"
echo "== remove the demo container:      make demo-clean"
