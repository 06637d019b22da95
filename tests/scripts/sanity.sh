#!/usr/bin/env bash
# ansible-test sanity (on plugins/ unless paths are given) on a temporary ansible_collections/quietnode/baseline copy of
# this checkout (ansible-test requires that path layout and refuses symlinks).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="${QN_SANITY_DIR:-$root/tests/output/sanity-tree}"
dest="$work/ansible_collections/quietnode/baseline"
rm -rf "$work"
mkdir -p "$dest"
# Tracked files plus new ones not ignored, so a local run sees uncommitted work too.
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -P {} "$dest/" 2>/dev/null || true
cd "$dest"
git init -q && git add -A >/dev/null 2>&1
# --venv builds the sanity tools' own pinned virtualenvs from PyPI (cached between runs).
"$root/.venv/bin/ansible-test" sanity --venv --python "${QN_SANITY_PYTHON:-3.11}" --color no \
  ${QN_SANITY_ARGS:-} "${@:-plugins/}"
