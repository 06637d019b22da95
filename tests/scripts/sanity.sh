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
# ansible-test bootstraps pip in its tool virtualenvs with a script it downloads from
# a host this machine cannot reach; give it one that uses ensurepip, then PyPI.
getpip="$HOME/.ansible/test/cache/get_pip_24_2.py"
if [ ! -s "$getpip" ]; then
  mkdir -p "$(dirname "$getpip")"
  cat >"$getpip" <<'PY'
import subprocess
import sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi
cd "$dest"
git init -q && git add -A >/dev/null 2>&1
# --venv builds the sanity tools' own pinned virtualenvs from PyPI (cached between runs).
"$root/.venv/bin/ansible-test" sanity --venv --python "${QN_SANITY_PYTHON:-3.11}" --color no \
  ${QN_SANITY_ARGS:-} "${@:-plugins/}"
