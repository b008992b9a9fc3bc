#!/usr/bin/env bash
# The main job: the reach demo (headless PyBullet bridge + reach controller over DDS, goals as RViz sends them).
# Extra arguments go to `ikrl demo` (see `ikrl demo --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$IKRL_ROOT"
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
exec ikrl demo "$@"
