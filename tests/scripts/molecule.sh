#!/usr/bin/env bash
# Run Molecule scenarios and print a timing summary.
# Usage: tests/scripts/molecule.sh "SCENARIOS" "DISTROS"
#   DISTROS: debian12 debian13 (local images), or a CI image name such as rockylinux9.
#   A scenario whose molecule.yml does not use MOLECULE_DISTRO brings its own machine
#   (the qemu VM) and runs once.
# QN_MOLECULE_JOBS (default 1) workers take runs from one queue, in the order given
# (put the longest first). A scenario with a fixed subnet runs its distros one after
# the other in one worker (Docker refuses two networks on one subnet); any other
# scenario queues each distro on its own, with its own Molecule state directory, so
# short runs fill the workers' tails. With more than one worker each run's output
# goes to tests/output/molecule/*.log and the log of a failed run is printed at the end.
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

# One scenario on the distros given (default: all of them, or the VM), in order; appends
# rows to this worker's summary.
run_scenario() {
  local scenario="$1" worker="$2" distro start result took
  local -a on=("${distros[@]}")
  [ -n "${3:-}" ] && on=("$3")
  grep -q MOLECULE_DISTRO "molecule/$scenario/molecule.yml" || on=(vm)
  for distro in "${on[@]}"; do
    export MOLECULE_DISTRO="$distro"
    # Per scenario and distro, so one scenario's distros can run side by side.
    export MOLECULE_EPHEMERAL_DIRECTORY="${HOME}/.ansible/tmp/molecule.qn.$(basename "$PWD").$scenario.$distro"
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
split=()
for scenario in "${scenarios[@]}"; do
  file="molecule/$scenario/molecule.yml"
  if [ ! -f "$file" ]; then printf '%-14s %-12s %-8s %6s\n' "$scenario" '-' 'absent' '-' >>"$logdir/summary.0"
  elif [ "$jobs" -gt 1 ] && grep -q MOLECULE_DISTRO "$file" && ! grep -q 'subnet:' "$file"; then split+=("$scenario")
  else echo "$scenario" >>"$queue"; fi
done
# The split scenarios after the whole ones: the shortest runs come last.
for scenario in "${split[@]}"; do
  for distro in "${distros[@]}"; do echo "$scenario $distro" >>"$queue"; done
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
    while next="$(take)" && [ -n "$next" ]; do
      read -r name one <<<"$next"
      run_scenario "$name" "$w" "${one:-}"
    done
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
