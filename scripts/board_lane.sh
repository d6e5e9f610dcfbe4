#!/usr/bin/env bash
# The board-like test lane: the tests marked `board` (test/conftest.py) on the RDK X5's Python
# stack: Python 3.10, numpy 1.23.5, OpenCV 4.5.4 (opencv-python-headless 4.5.4.60), setuptools
# 59.6.0, without onnx, onnxruntime, tflite and rosbags; the BPU through the hobot_dnn test
# double (test/doubles, run by ai-edge-litert). The environment is <repo>/.venv-board
# (scripts/requirements-board-lane.txt); the package is installed into it with setuptools 59.6.0.
# scripts/test.sh runs this after the main run. Extra arguments go to pytest, e.g.
#   bash scripts/board_lane.sh -x
#   bash scripts/board_lane.sh test/core/test_preprocess.py
#
# Where no Python 3.10 is found it prints `BOARD LANE SKIPPED: <why>` and exits 0.
# Idempotent: every step records a stamp keyed by a hash of its inputs in .venv-board/.stamps.
#
# Environment: BOARD_PYTHON (a Python 3.10 interpreter; default: python3.10 on PATH, else the
#              newest pyenv 3.10.x), BOARD_LANE_FORCE=1 (ignore stamps and redo every step),
#              BOARD_NUMPY=1.21.5 (the board's exact numpy instead of the pinned 1.23.5, which
#              is the oldest ai-edge-litert declares; switching rebuilds .venv-board).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv-board"
REQUIREMENTS="$REPO/scripts/requirements-board-lane.txt"
STAMPS="$VENV/.stamps"

log() { printf '[board] %s\n' "$*" >&2; }
die() { printf '[board] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"
STEPS_FORCE="${BOARD_LANE_FORCE:-0}"

skip_lane() {
    printf '\n%s\n' '=========================================================================' >&2
    printf 'BOARD LANE SKIPPED: %s\n' "$*" >&2
    printf '%s\n\n' '=========================================================================' >&2
    exit 0
}

# A Python 3.10 that can create venvs: $BOARD_PYTHON, python3.10 on PATH, or pyenv's newest 3.10.
is_python310() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 10))' \
        > /dev/null 2>&1
}

find_python310() {
    local candidate version pyenv root
    if [[ -n "${BOARD_PYTHON:-}" ]]; then
        is_python310 "$BOARD_PYTHON" && printf '%s\n' "$BOARD_PYTHON"
        return  # the status of the check: an interpreter named explicitly is the only one tried
    fi
    candidate="$(command -v python3.10 || true)"
    if [[ -n "$candidate" ]] && is_python310 "$candidate"; then
        printf '%s\n' "$candidate"
        return 0
    fi
    # pyenv's 3.10.x, newest first, also when pyenv is not on the PATH (e.g. a CI shell).
    root="${PYENV_ROOT:-$HOME/.pyenv}"
    pyenv="$(command -v pyenv || echo "$root/bin/pyenv")"
    for version in $( { [[ -x "$pyenv" ]] && "$pyenv" versions --bare 2> /dev/null
                        ls "$root/versions" 2> /dev/null; } \
                      | grep -E '^3\.10(\.[0-9]+)?$' | sort -u -t. -k3,3nr); do
        for candidate in "$root/versions/$version/bin/python3.10" \
                "$( [[ -x "$pyenv" ]] && PYENV_VERSION="$version" "$pyenv" which python3.10 \
                    2> /dev/null)"; do
            if [[ -n "$candidate" ]] && is_python310 "$candidate"; then
                printf '%s\n' "$candidate"
                return 0
            fi
        done
    done
    return 1
}

pip_quiet() {
    "$VENV/bin/python" -m pip "$@" 2> >(grep -v '^WARNING: Location' >&2)
}

step_venv() {
    # Recreated from scratch whenever the interpreter or the requirements change, so that no
    # package dropped from the list (or pulled in by hand) survives.
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    if [[ -z "${BOARD_NUMPY:-}" ]]; then
        pip_quiet install -q -r "$REQUIREMENTS"
        return
    fi
    # ai-edge-litert declares numpy>=1.23.2 but runs on older ones (the double's tests pass on
    # the board's 1.21.5): it is installed without that check, its other dependencies by name.
    local requirements="$VENV/requirements-board-numpy.txt"
    sed -e '/^ai-edge-litert/d' -e "s/^numpy==.*/numpy==$BOARD_NUMPY/" "$REQUIREMENTS" \
        > "$requirements"
    pip_quiet install -q -r "$requirements" backports.strenum flatbuffers ml_dtypes protobuf \
        typing-extensions
    pip_quiet install -q --no-deps "$(grep -E '^ai-edge-litert' "$REQUIREMENTS")"
}

step_project() {
    # Installed the way colcon's ament_python build does it on the board: setup.py run by the
    # board's setuptools, no build isolation. The tests import the source tree; this step
    # proves that setup.py and its data files install there.
    local build
    build="$(mktemp -d "${TMPDIR:-/tmp}/mobilenetv1_ros-board-build.XXXXXX")"
    (cd "$REPO" && tar --exclude='./.*' \
        --exclude=./build --exclude=./install --exclude=./log --exclude=./pip_env \
        --exclude=./test --exclude='*.egg-info' --exclude='__pycache__' -cf - .) \
        | tar -C "$build" -xf -
    local rc=0
    # Without the wheel package pip runs the legacy `setup.py install`, as colcon does, so
    # setup.cfg puts the executables into lib/mobilenetv1_ros, where ros2 run/launch look.
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation --force-reinstall \
        "$build" 2> >(grep -v -e '^WARNING: Location' -e 'DEPRECATION: .*legacy' >&2) || rc=$?
    rm -rf "$build"
    ((rc == 0)) || die "installing the package with setuptools 59.6.0 failed (exit $rc)"
    local lib="$VENV/lib/mobilenetv1_ros"
    [[ -f "$VENV/share/mobilenetv1_ros/package.xml" && -x "$lib/classifier" ]] \
        || die "the installed package lacks share/mobilenetv1_ros/package.xml or $lib/classifier"
    # The installed copy (not the source tree) starts under Python 3.10.
    (cd "${TMPDIR:-/tmp}" && "$lib/mobilenetv1-ros" --help > /dev/null) \
        || die "the installed $lib/mobilenetv1-ros does not start"
}

# Print the stack the lane runs on; fail unless it is the pinned one without the left-out
# packages (their list is test/conftest.py's BOARD_ABSENT).
check_stack() {
    (cd "${TMPDIR:-/tmp}" && "$VENV/bin/python" - "$REQUIREMENTS" "$REPO/test/conftest.py") <<'EOF'
import ast
import importlib.util
import os
import platform
import re
import sys
from importlib import metadata

requirements, conftest = sys.argv[1:]
pins = dict(re.findall(r'^([A-Za-z0-9_.-]+)==(\S+)', open(requirements).read(), re.M))
pins['numpy'] = os.environ.get('BOARD_NUMPY') or pins['numpy']
tree = ast.parse(open(conftest).read())
absent = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
              and getattr(node.targets[0], 'id', '') == 'BOARD_ABSENT')
import cv2
import numpy

shown = {name: metadata.version(name) for name in pins}
print(f'[board] Python {platform.python_version()}, numpy {numpy.__version__}, '
      f'cv2 {cv2.__version__}, ' + ', '.join(f'{k} {v}' for k, v in shown.items()
                                              if k not in ('numpy', 'opencv-python-headless')),
      file=sys.stderr)
present = [name for name in absent if importlib.util.find_spec(name) is not None]
print(f'[board] left out (must not import): {", ".join(absent)}; rclpy '
      f'{"present" if importlib.util.find_spec("rclpy") else "absent"}', file=sys.stderr)
wrong = {name: (version, shown[name]) for name, version in pins.items() if shown[name] != version}
problems = []
if sys.version_info[:2] != (3, 10):
    problems.append(f'Python {platform.python_version()} is not 3.10')
if wrong:
    problems.append(f'versions differ from the pins (wanted, found): {wrong}')
if not cv2.__version__.startswith('4.5.4'):
    problems.append(f'cv2 {cv2.__version__} is not 4.5.4')
if present:
    problems.append(f'packages the board lacks are installed: {present}')
if problems:
    sys.exit('[board] ERROR: ' + '; '.join(problems))
EOF
}

main() {
    local t0
    t0="$(now)"
    PYTHON="$(find_python310)" || skip_lane "no Python 3.10 with venv/ensurepip found" \
        "(BOARD_PYTHON=${BOARD_PYTHON:-unset}, python3.10 on PATH, pyenv 3.10.x); the board-like" \
        'tests (Python 3.10, numpy 1.23, OpenCV 4.5.4, no CPU-backend packages) did NOT run'
    log "Python 3.10: $PYTHON"

    local lock
    lock="$(printf '%s' "$VENV" | sha256sum | cut -c1-12)"
    lock="${TMPDIR:-/tmp}/mobilenetv1_ros-board-lane-$lock.lock"
    exec 9> "$lock"
    flock 9

    local key_venv key_proj
    key_venv="$(hash_inputs "$("$PYTHON" -c 'import sys; print(sys.version, sys.executable)')" \
        "numpy ${BOARD_NUMPY:-pinned}" "$REQUIREMENTS")"
    [[ -x "$VENV/bin/python" ]] || rm -f "$STAMPS/venv"
    run_step venv "$key_venv" step_venv

    mapfile -t proj_files < <(
        printf '%s\n' "$REPO/setup.py" "$REPO/setup.cfg" "$REPO/package.xml"
        files_under "$REPO/resource" "$REPO/mobilenetv1_ros" "$REPO/launch" "$REPO/config" \
            "$REPO/models" "$REPO/images"
    )
    key_proj="$(hash_inputs "$key_venv" "${proj_files[@]}")"
    run_step project "$key_proj" step_project
    check_stack
    flock -u 9

    pytest_paths "$@"

    cd "$REPO"
    local rc=0
    MOBILENETV1_ROS_BOARD_LANE=1 PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest \
        -m board --strict-markers -p no:cacheprovider -ra "${PYTEST_PATHS[@]}" "$@" &
    wait $! || rc=$?
    if ((rc == 5)); then
        if (($#)); then
            log 'no board test among the selected tests: nothing to run on the board stack'
            rc=0
        else
            log 'pytest selected no board test: treated as a failure'
        fi
    fi
    log "$(printf 'lane %s in %ss' "$( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)")" \
        "$(elapsed "$t0")")"
    return "$rc"
}

main "$@"
