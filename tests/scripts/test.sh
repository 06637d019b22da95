#!/usr/bin/env bash
# make test: the static gates and unit tests (lint, sanity, unit) in one lane, the Molecule queue
# beside them. The gates need no container, and Molecule's first minutes wait on container starts
# and package downloads, so the gates no longer add their minutes before the queue starts.
# Non-zero if either lane failed; both always run to the end.
set -uo pipefail
cd "$(dirname "$0")/../.."

make --no-print-directory lint sanity unit &
gates=$!
make --no-print-directory molecule-all
molecule=$?
wait "$gates"
gates_rc=$?

echo
printf 'gates (lint, sanity, unit): %s\n' "$([ "$gates_rc" -eq 0 ] && echo passed || echo "FAILED (exit $gates_rc)")"
printf 'Molecule:                   %s\n' "$([ "$molecule" -eq 0 ] && echo passed || echo "FAILED (exit $molecule)")"
[ "$gates_rc" -eq 0 ] && [ "$molecule" -eq 0 ]
