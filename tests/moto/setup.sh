#!/usr/bin/env bash
# Creates (once) the project-local virtualenv .venv holding moto_server, the
# third-party Cognito emulator the end-to-end tests run against (see
# tests/venv.sh). Usage: bash tests/moto/setup.sh   (prints moto_server's path)
set -euo pipefail
exec bash "$(dirname "$0")/../venv.sh" tests/moto/requirements.txt moto_server
