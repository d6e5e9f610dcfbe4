#!/usr/bin/env bash
# The project's test command: build/refresh .venv (scripts/setup.sh), then run pytest over test/
# with a private, loopback-only ROS 2 environment, then the board-like lane
# (scripts/board_lane.sh: the `board` tests on Python 3.10, numpy 1.23, OpenCV 4.5.4, without the
# CPU-backend packages; skipped with a loud line where no Python 3.10 exists). Both decide the
# exit code. Extra arguments go to both pytest runs, e.g.
#   bash scripts/test.sh -k smoke -x
#   bash scripts/test.sh test/core
# BOARD_LANE=0 leaves the board lane out (it says so).
#
# Isolation: own ROS_DOMAIN_ID (1..100, held by a lock file for the whole run so concurrent runs
# never share one), ROS_HOME in a temp dir, discovery limited to localhost. At exit it kills
# processes of this run that are still alive and removes the Fast DDS shared-memory segments
# this run left behind.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"

bash "$REPO/scripts/setup.sh"

log() { printf '[test] %s\n' "$*" >&2; }

# Fast DDS shared-memory files that are not mapped or open by any process.
shm_segments() {
    find /dev/shm -maxdepth 1 \( -name 'fastdds_*' -o -name 'sem.fastdds_*' \) -printf '%f\n' \
        2> /dev/null | LC_ALL=C sort
}
shm_in_use() {
    {
        cat /proc/[0-9]*/maps 2> /dev/null | grep -o '/dev/shm/[^ ]*' || true
        find /proc/[0-9]*/fd -maxdepth 1 -lname '/dev/shm/*' -printf '%l\n' 2> /dev/null || true
    } | sed 's|^/dev/shm/||; s| (deleted)$||' | LC_ALL=C sort -u
}

# Processes carrying this run's marker in their environment: every descendant of this run, even
# one that left the process group. (This shell exported the marker after it started, so its own
# /proc environ does not carry it.)
run_processes() {
    local pid
    for pid in $(grep -lzx "MOBILENETV1_ROS_TEST_RUN=$RUN_TOKEN" /proc/[0-9]*/environ 2> /dev/null \
                 | cut -d/ -f3); do
        [[ "$pid" != "$$" ]] && echo "$pid"
    done
    return 0
}

cleanup() {
    local rc=$? pids i
    trap - EXIT INT TERM
    # The helpers below must not carry the marker themselves.
    unset MOBILENETV1_ROS_TEST_RUN
    pids="$(run_processes)"
    # Helpers that end with their parent (multiprocessing's resource tracker) get a moment.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        [[ -z "$pids" ]] && break
        sleep 0.3
        pids="$(run_processes)"
    done
    if [[ -n "$pids" ]]; then
        log "killing leftover processes of this run: $(echo $pids) ($(ps -o comm= -p "${pids//$'\n'/,}" 2> /dev/null | tr '\n' ' '))"
        # shellcheck disable=SC2086
        kill -TERM $pids 2> /dev/null || true
        for i in 1 2 3 4 5 6 7 8 9 10; do
            pids="$(run_processes)"
            [[ -z "$pids" ]] && break
            sleep 0.3
        done
        # shellcheck disable=SC2086
        [[ -n "$pids" ]] && kill -KILL $pids 2> /dev/null || true
    fi
    # Segments that appeared during this run and that no process uses any more. (A concurrent
    # run's live segments are mapped by its processes, so they are never touched.)
    local new in_use removed=0 seg
    new="$(comm -13 <(printf '%s\n' "$SHM_BEFORE") <(shm_segments))"
    if [[ -n "$new" ]]; then
        in_use="$(shm_in_use)"
        while read -r seg; do
            [[ -n "$seg" ]] || continue
            if ! grep -qxF "$seg" <<< "$in_use"; then
                rm -f "/dev/shm/$seg" && removed=$((removed + 1))
            fi
        done <<< "$new"
        ((removed)) && log "removed $removed Fast DDS shared-memory segment(s) left by this run"
    fi
    rm -rf "$ROS_HOME"
    exit "$rc"
}

# A free domain id (DOMAIN_ID), its lock held on fd 8 for the whole run.
source "$REPO/scripts/ros_domain.sh"
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

SHM_BEFORE="$(shm_segments)"
RUN_TOKEN="$$-$(date +%s%N)"
ROS_HOME="$(mktemp -d "${TMPDIR:-/tmp}/mobilenetv1_ros-test-ros-home.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pick_domain_id

export MOBILENETV1_ROS_TEST_RUN="$RUN_TOKEN"
export ROS_HOME
export ROS_LOG_DIR="$ROS_HOME/log"
export ROS_DOMAIN_ID="$DOMAIN_ID"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
export FASTDDS_DEFAULT_PROFILES_FILE="$REPO/scripts/fastdds_loopback.xml"
unset ROS_STATIC_PEERS
export AMENT_PREFIX_PATH="$VENV"
export PYTHONDONTWRITEBYTECODE=1

pytest_paths "$@"

cd "$REPO"
log "ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_HOME=$ROS_HOME"
rc=0
# In the background so that INT/TERM reach the trap (and the cleanup) at once.
"$VENV/bin/python" -m pytest -ra "${PYTEST_PATHS[@]}" "$@" &
wait $! || rc=$?
if ((rc == 5)); then
    log 'pytest collected no tests: treated as a failure'
fi

board_rc=0
if [[ "${BOARD_LANE:-1}" == 0 ]]; then
    log 'BOARD LANE SKIPPED: BOARD_LANE=0'
else
    bash "$REPO/scripts/board_lane.sh" "$@" &
    wait $! || board_rc=$?
fi
log "main run: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)"); board lane:" \
    "$( ((board_rc == 0)) && echo 'passed or skipped' || echo "FAILED (exit $board_rc)")"
((rc == 0)) && rc="$board_rc"
exit "$rc"
