#!/usr/bin/env bash
# Creates (once) the project-local virtualenv .venv with REQUIREMENTS
# installed, and prints the path of PROGRAM in it. The tests (moto) and the
# scenario benchmark's peers (boto3) share the one .venv; their pins agree.
#
# Idempotent and safe to run from several processes at once: a lock serialises
# installers, and a stamp file per requirements file records what was
# installed.
# Usage: bash tests/venv.sh REQUIREMENTS PROGRAM
#   REQUIREMENTS  a requirements file, relative to the project root
#   PROGRAM       the program of the venv to print, e.g. moto_server, python
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/$1"
program="$2"
venv="$root/.venv"
stamp="$venv/.$(basename "$(dirname "$req")")-requirements"

mkdir -p "$venv"
exec 9>"$venv/.setup.lock"
flock 9
if [ ! -x "$venv/bin/$program" ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/$program"
