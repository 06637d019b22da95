#!/usr/bin/env bash
# Run Molecule scenarios and print a timing summary.
# Usage: tests/scripts/molecule.sh "SCENARIOS" "DISTROS"
#   DISTROS: debian12 debian13 (local images), or a CI image name such as rockylinux9.
#   A scenario whose molecule.yml does not use MOLECULE_DISTRO brings its own machine
#   (the qemu VM) and runs once.
# QN_MOLECULE_JOBS (default 1) workers take scenarios from one queue, in the order
# given (put the longest first); a scenario's distros run one after the other in
# the same worker, because they share the scenario's network names. With more than
# one worker each run's output goes to tests/output/molecule/*.log and the log of a
# failed run is printed at the end.
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
rm -f "$logdir"/summary.* "$logdir"/queue*

init_for() {
  case "$1" in
    debian*|ubuntu*) echo /lib/systemd/systemd ;;
    *) echo /usr/sbin/init ;;
  esac
}

# One scenario on each of its distros, in order; appends rows to this worker's summary.
run_scenario() {
  local scenario="$1" worker="$2" distro start result took
  local -a on=("${distros[@]}")
  grep -q MOLECULE_DISTRO "molecule/$scenario/molecule.yml" || on=(vm)
  for distro in "${on[@]}"; do
    export MOLECULE_DISTRO="$distro"
    if [ "$distro" != vm ]; then
      # Each worker keeps its own package cache: apt locks the archive directory.
      export MOLECULE_IMAGE="quietnode/$distro:latest" MOLECULE_INIT="$(init_for "$distro")"
      export QN_APT_CACHE="${QN_APT_CACHE_ROOT:-/var/cache/quietnode-apt}/w$worker"
      mkdir -p "$QN_APT_CACHE/$distro"
    fi
    local log="$logdir/$scenario-$distro.log"
    echo "=== molecule test -s $scenario ($distro)$( [ "$jobs" -gt 1 ] && echo " -> $log")"
    start=$(date +%s)
    if [ "$jobs" -gt 1 ]; then
      molecule test -s "$scenario" >"$log" 2>&1
    else
      molecule test -s "$scenario" 2>&1 | tee "$log"
    fi
    if [ "${PIPESTATUS[0]}" -eq 0 ]; then result=passed; else result=FAILED; fi
    took=$(( $(date +%s) - start ))
    printf '%-14s %-12s %-8s %5ss\n' "$scenario" "$distro" "$result" "$took" >>"$logdir/summary.$worker"
    echo "=== $scenario ($distro) $result in ${took}s"
  done
}

# The queue: one scenario per line; a worker takes the first line under a lock.
queue="$logdir/queue"
: >"$queue"
for scenario in "${scenarios[@]}"; do
  if [ -f "molecule/$scenario/molecule.yml" ]; then echo "$scenario" >>"$queue"
  else printf '%-14s %-12s %-8s %6s\n' "$scenario" '-' 'absent' '-' >>"$logdir/summary.0"; fi
done
take() {
  exec 9>"$queue.lock"
  flock 9
  local next
  next="$(head -n 1 "$queue")"
  [ -n "$next" ] && sed -i '1d' "$queue"
  flock -u 9
  printf '%s' "$next"
}

pids=()
for (( w=1; w<=jobs; w++ )); do
  (
    while next="$(take)" && [ -n "$next" ]; do run_scenario "$next" "$w"; done
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
