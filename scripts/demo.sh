#!/usr/bin/env bash
# Quick start: build the pip environment (scripts/setup.sh), then run the classifier node on the
# bundled CPU model and feed it the bundled photos as camera frames (mobilenetv1-ros demo).
# Extra arguments go to the demo, e.g.  bash scripts/demo.sh --rounds 5 --fps 10
#
# DDS stays on loopback: discovery limited to localhost, a free ROS_DOMAIN_ID (1..100, the same
# lock files as scripts/test.sh) unless one is set, and a temporary ROS_HOME.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"

bash "$REPO/scripts/setup.sh"

pick_domain_id() {
    local start=$(($$ % 100)) i id
    for i in $(seq 0 99); do
        id=$(((start + i) % 100 + 1))
        exec 8> "${TMPDIR:-/tmp}/mobilenetv1_ros-ros-domain-$id.lock"
        if flock -n 8; then
            ROS_DOMAIN_ID="$id"
            return 0
        fi
        exec 8>&-
    done
    echo 'no free ROS_DOMAIN_ID in 1..100' >&2
    return 1
}

# The lock (fd 8) is held by this shell until the demo ends.
[[ -n "${ROS_DOMAIN_ID:-}" ]] || pick_domain_id
ROS_HOME="$(mktemp -d "${TMPDIR:-/tmp}/mobilenetv1_ros-demo-ros-home.XXXXXX")"
trap 'rm -rf "$ROS_HOME"' EXIT

export ROS_DOMAIN_ID ROS_HOME
export ROS_LOG_DIR="$ROS_HOME/log"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
export FASTDDS_DEFAULT_PROFILES_FILE="$REPO/scripts/fastdds_loopback.xml"
unset ROS_STATIC_PEERS
export AMENT_PREFIX_PATH="$VENV"

cd "$REPO"
"$VENV/bin/mobilenetv1-ros" demo "$@"
