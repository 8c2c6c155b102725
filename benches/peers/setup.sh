#!/usr/bin/env bash
# Creates (once) the project-local virtualenv .venv with boto3 for the peer
# scripts of the scenario benchmark (benches/scenarios.rs; see
# tests/venv.sh). Usage: bash benches/peers/setup.sh   (prints its python)
set -euo pipefail
exec bash "$(dirname "$0")/../../tests/venv.sh" benches/peers/requirements.txt python
