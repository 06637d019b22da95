#!/usr/bin/env bash
# make test: the static gates and unit tests (lint, sanity, unit) in one lane, the Molecule queue
# beside them. The gates need no container and keep about one core busy (150 s of wall time for
# 161 s of CPU here), so run first they left the other core idle; beside the queue they do not.
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
