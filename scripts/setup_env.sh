#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv from the pinned requirements.
# Sourced by scripts/demo.sh and scripts/test.sh; needs nothing but python3 (3.11) on the machine.
set -euo pipefail
IKRL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IKRL_VENV="${IKRL_VENV:-$IKRL_ROOT/.venv}"
stamp="$IKRL_VENV/.ikrl-requirements"
wanted="$(cat "$IKRL_ROOT/requirements.txt" "$IKRL_ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$IKRL_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "[ikrl] creating the virtual environment in $IKRL_VENV (first run: a few minutes)"
  python3 -m venv "$IKRL_VENV"
  # torch first and pinned: an unpinned torch would pull gigabytes of CUDA packages.
  "$IKRL_VENV/bin/pip" install --quiet --disable-pip-version-check torch==2.13.0
  "$IKRL_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$IKRL_ROOT/requirements.txt"
  "$IKRL_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$IKRL_ROOT"
  echo "$wanted" > "$stamp"
fi
export PATH="$IKRL_VENV/bin:$PATH"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
