#!/usr/bin/env bash
# Run Molecule scenarios on each distro and print a timing summary.
# Usage: tests/scripts/molecule.sh "SCENARIOS" "DISTROS"
#   DISTROS: debian12 debian13 (local images), or a CI image name such as rockylinux9;
#   "vm" runs scenarios that bring their own machine, once.
# QN_MOLECULE_JOBS (default 1) runs that many scenarios side by side: a scenario's
# distros always run one after the other, because they share its network names.
# With more than one job each run's output goes to tests/output/molecule/*.log and
# the log of a failed run is printed at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."

scenarios=($1)
distros=($2)
jobs="${QN_MOLECULE_JOBS:-1}"
logdir="$PWD/tests/output/molecule"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export PY_COLORS="${PY_COLORS:-0}"
mkdir -p "$logdir"

init_for() {
  case "$1" in
    debian*|ubuntu*) echo /lib/systemd/systemd ;;
    *) echo /usr/sbin/init ;;
  esac
}

# One scenario on each distro, in order; appends "scenario distro result seconds" rows.
run_scenario() {
  local scenario="$1" worker="$2" distro start result
  for distro in "${distros[@]}"; do
    export MOLECULE_DISTRO="$distro"
    if [ "$distro" != vm ]; then
      # Each worker keeps its own package cache: apt locks the archive directory.
      export MOLECULE_IMAGE="quietnode/$distro:latest" MOLECULE_INIT="$(init_for "$distro")"
      export QN_APT_CACHE="${QN_APT_CACHE_ROOT:-/var/cache/quietnode-apt}/w$worker"
      mkdir -p "$QN_APT_CACHE/$distro"
    fi
    local log="$logdir/$scenario-$distro.log"
    echo "=== molecule test -s $scenario ($distro) $( [ "$jobs" -gt 1 ] && echo "-> $log")"
    start=$(date +%s)
    if [ "$jobs" -gt 1 ]; then
      molecule test -s "$scenario" >"$log" 2>&1
    else
      molecule test -s "$scenario" 2>&1 | tee "$log"
    fi
    if [ "${PIPESTATUS[0]}" -eq 0 ]; then result=passed; else result=FAILED; fi
    printf '%-14s %-12s %-8s %5ss\n' "$scenario" "$distro" "$result" "$(( $(date +%s) - start ))" >>"$logdir/summary.$worker"
    echo "=== $scenario ($distro) $result in $(( $(date +%s) - start ))s"
  done
}

rm -f "$logdir"/summary.*
present=()
for scenario in "${scenarios[@]}"; do
  if [ -f "molecule/$scenario/molecule.yml" ]; then present+=("$scenario")
  else printf '%-14s %-12s %-8s %6s\n' "$scenario" '-' 'absent' '-' >>"$logdir/summary.0"; fi
done

# Deal scenarios to workers round-robin; each worker runs its share in order.
pids=()
for (( w=1; w<=jobs; w++ )); do
  (
    for (( i=w-1; i<${#present[@]}; i+=jobs )); do run_scenario "${present[$i]}" "$w"; done
  ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

status=0
if grep -qh FAILED "$logdir"/summary.* 2>/dev/null; then
  status=1
  if [ "$jobs" -gt 1 ]; then
    for row in $(grep -h FAILED "$logdir"/summary.* | awk '{print $1"-"$2}'); do
      echo; echo "===== $row.log (last 300 lines)"; tail -n 300 "$logdir/$row.log"
    done
  fi
fi
echo
echo "Molecule summary"
printf '%-14s %-12s %-8s %6s\n' scenario distro result time
cat "$logdir"/summary.* 2>/dev/null
exit $status
