#!/usr/bin/env bash
# The test suite: real rclpy over Fast DDS between processes, real PyBullet, real torch. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$IKRL_ROOT"
ruff check --quiet .   # lint first: ruff.toml (line length 120)
exec python -m pytest test "$@"
