#!/usr/bin/env bash
# The test suite: real rclpy over Fast DDS between processes, real PyBullet, real torch. Extra arguments go to pytest;
# when one of them names tests (a path, or path::test), only those run, else the whole of test/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$IKRL_ROOT"
ruff check --quiet .   # lint first: ruff.toml (line length 120)
targets=(test)
for arg in "$@"; do
  if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
    targets=()
    break
  fi
done
exec python -m pytest "${targets[@]}" "$@"
