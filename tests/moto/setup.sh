#!/usr/bin/env bash
# Creates (once) the project-local virtualenv .venv holding moto_server, the
# third-party Cognito emulator the end-to-end tests run against.
#
# Idempotent and safe to run from several processes at once: a lock serialises
# installers and a stamp file records which requirements were installed.
# Usage: bash tests/moto/setup.sh   (prints the path of moto_server)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
req="$root/tests/moto/requirements.txt"
stamp="$venv/.moto-requirements"

mkdir -p "$venv"
exec 9>"$venv/.setup.lock"
flock 9
if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/moto_server"
