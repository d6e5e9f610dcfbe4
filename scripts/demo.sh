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

source "$REPO/scripts/ros_domain.sh"

# The lock (fd 8) is held by this shell until the demo ends.
[[ -n "${ROS_DOMAIN_ID:-}" ]] || { pick_domain_id && ROS_DOMAIN_ID="$DOMAIN_ID"; }
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
