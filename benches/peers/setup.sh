#!/usr/bin/env bash
# Creates (once) the project-local virtualenv .venv with boto3 for the peer
# scripts of the scenario benchmark (benches/scenarios.rs).
#
# Idempotent and safe to run from several processes at once: a lock serialises
# installers and a stamp file records which requirements were installed. The
# same .venv holds moto for the tests (tests/moto/setup.sh); the pins agree.
# Usage: bash benches/peers/setup.sh   (prints the path of the venv's python)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
req="$root/benches/peers/requirements.txt"
stamp="$venv/.peers-requirements"

mkdir -p "$venv"
exec 9>"$venv/.setup.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/python"
