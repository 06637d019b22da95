#!/usr/bin/env bash
# Run Molecule scenarios on each distro and print a timing summary.
# Usage: tests/scripts/molecule.sh "SCENARIOS" "DISTROS"
#   DISTROS: debian12 debian13 (local images), or a CI image name such as rockylinux9;
#   "vm" runs scenarios that bring their own machine, once.
set -uo pipefail
cd "$(dirname "$0")/../.."

scenarios=($1)
distros=($2)
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export PY_COLORS="${PY_COLORS:-0}"

# distro -> image and init; EL/Ubuntu images are built in CI by tests/images/build-ci.sh.
image_for() {
  case "$1" in
    debian12|debian13) echo "quietnode/$1:latest" ;;
    *) echo "quietnode/$1:latest" ;;
  esac
}
init_for() {
  case "$1" in
    debian*|ubuntu*) echo /lib/systemd/systemd ;;
    *) echo /usr/sbin/init ;;
  esac
}

declare -a rows
status=0
for scenario in "${scenarios[@]}"; do
  if [ ! -f "molecule/$scenario/molecule.yml" ]; then
    rows+=("$(printf '%-14s %-12s %-8s %6s' "$scenario" '-' 'absent' '-')")
    continue
  fi
  for distro in "${distros[@]}"; do
    export MOLECULE_DISTRO="$distro"
    if [ "$distro" != vm ]; then
      export MOLECULE_IMAGE="$(image_for "$distro")" MOLECULE_INIT="$(init_for "$distro")"
      mkdir -p "${QN_APT_CACHE:-/var/cache/quietnode-apt}/$distro"
    fi
    echo "=== molecule test -s $scenario ($distro) ==="
    start=$(date +%s)
    if molecule test -s "$scenario"; then result=passed; else result=FAILED; status=1; fi
    took=$(( $(date +%s) - start ))
    rows+=("$(printf '%-14s %-12s %-8s %5ss' "$scenario" "$distro" "$result" "$took")")
  done
done

echo
echo "Molecule summary"
printf '%-14s %-12s %-8s %6s\n' scenario distro result time
printf '%s\n' "${rows[@]}"
exit $status
