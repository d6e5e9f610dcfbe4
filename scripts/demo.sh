#!/usr/bin/env bash
# Quick start: run the classifier node on the bundled model (or the BPU) and feed it the bundled
# photos as camera frames (mobilenetv1-ros demo). Extra arguments go to the demo, e.g.
#   bash scripts/demo.sh --rounds 5 --fps 10
#   bash scripts/demo.sh --backend bpu          # on the RDK X5 (docs/board.md)
#
# Two ways to run, chosen automatically:
# - on a ROS install (a ROS 2 setup.bash is sourced: ROS_DISTRO is set and python3 imports
#   rclpy), and always on aarch64 (the RDK X5): the package as colcon built it (source its
#   install/setup.bash first) with the system python3; scripts/setup.sh is NOT run. The demo
#   replays a bag, so it needs rosbags there: pip3 install rosbags 'numpy<2'.
# - elsewhere: the pip environment, built or refreshed by scripts/setup.sh (x86_64 only).
#
# DDS stays on loopback: discovery limited to localhost, a free ROS_DOMAIN_ID (1..100, the same
# lock files as scripts/test.sh) unless one is set, and a temporary ROS_HOME.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"

die() { printf '[demo] ERROR: %s\n' "$*" >&2; exit 1; }

ros_install() {
    [[ -n "${ROS_DISTRO:-}" ]] && python3 -c 'import rclpy' > /dev/null 2>&1
}

if ros_install || [[ "$(uname -m)" == aarch64 ]]; then
    python3 -c 'import rclpy' > /dev/null 2>&1 \
        || die 'rclpy does not import: source /opt/tros/humble/setup.bash (RDK X5) or' \
               '/opt/ros/<distro>/setup.bash first'
    python3 -c 'import mobilenetv1_ros' > /dev/null 2>&1 \
        || die 'mobilenetv1_ros does not import: build it with colcon and source the' \
               "workspace's install/setup.bash (docs/board.md)"
    python3 -c 'import rosbags' > /dev/null 2>&1 \
        || die "the demo replays a bag and needs rosbags: pip3 install rosbags 'numpy<2'"
    printf '[demo] ROS install (%s): python3 -m mobilenetv1_ros demo\n' \
        "${ROS_DISTRO:-unknown distro}" >&2
    RUN=(python3 -m mobilenetv1_ros demo)
else
    bash "$REPO/scripts/setup.sh"
    RUN=("$VENV/bin/mobilenetv1-ros" demo)
    export AMENT_PREFIX_PATH="$VENV"
fi

source "$REPO/scripts/ros_domain.sh"

# The lock (fd 8) is held by this shell until the demo ends.
[[ -n "${ROS_DOMAIN_ID:-}" ]] || { pick_domain_id && ROS_DOMAIN_ID="$DOMAIN_ID"; }
ROS_HOME="$(mktemp -d "${TMPDIR:-/tmp}/mobilenetv1_ros-demo-ros-home.XXXXXX")"
trap 'rm -rf "$ROS_HOME"' EXIT

export ROS_DOMAIN_ID ROS_HOME
export ROS_LOG_DIR="$ROS_HOME/log"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
# Humble's and Iron's Fast DDS 2.x read only the old variable name.
case "${ROS_DISTRO:-}" in
    humble|iron) export FASTRTPS_DEFAULT_PROFILES_FILE="$REPO/scripts/fastdds_loopback.xml" ;;
    *) export FASTDDS_DEFAULT_PROFILES_FILE="$REPO/scripts/fastdds_loopback.xml" ;;
esac
unset ROS_STATIC_PEERS

cd "$REPO"
"${RUN[@]}" "$@"
