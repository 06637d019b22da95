#!/usr/bin/env bash
# make bench: run every tests/bench/bench_* and keep their tables in bench-results/.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
mkdir -p bench-results
status=0
for bench in tests/bench/bench_*; do
  [ -x "$bench" ] || continue
  name="$(basename "${bench%.*}")"
  echo "=== $name"
  if ! "$bench" 2>&1 | tee "bench-results/$name.txt"; then
    echo "$name FAILED"; status=1
  fi
done
exit $status
