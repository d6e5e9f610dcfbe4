"""scripts/demo.sh on a ROS install: the colcon-built package and the system python3, no setup.sh.

A ROS install is emulated with this environment's interpreter as `python3` on PATH and
ROS_DISTRO set, as a sourced setup.bash leaves them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from shared import REPO_ROOT

pytest.importorskip('rclpy', reason='rclpy is not installed (pip environment: scripts/setup.sh)')
pytest.importorskip('rosbags', reason='rosbags is not installed (pip environment)')

DEMO = REPO_ROOT / 'scripts' / 'demo.sh'


@pytest.fixture
def ros_install(node_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """node_env as a sourced ROS install shows it: python3 on PATH, ROS_DISTRO set."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    # A wrapper, not a symlink: a venv's interpreter is only itself when called by its path.
    (bin_dir / 'python3').write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (bin_dir / 'python3').chmod(0o755)
    return {**node_env, 'PATH': os.pathsep.join([str(bin_dir), node_env['PATH']]),
            'ROS_DISTRO': node_env.get('ROS_DISTRO') or 'kilted',
            'MOBILENETV1_ROS_CACHE': str(tmp_path / 'cache')}


def test_on_a_ros_install_the_demo_runs_without_setup_sh(ros_install: dict[str, str]) -> None:
    done = subprocess.run(['bash', str(DEMO), '--backend', 'onnx'], env=ros_install,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '[demo] ROS install' in done.stderr
    assert '[setup]' not in done.stderr, 'setup.sh must not run on a ROS install'
    summary = re.search(r'frames in (\d+), results out (\d+)', done.stdout)
    assert summary and int(summary.group(1)) == 90, done.stdout


def test_without_rosbags_it_says_how_to_install_it(ros_install: dict[str, str],
                                                   tmp_path: Path) -> None:
    hidden = tmp_path / 'hide' / 'rosbags'
    hidden.mkdir(parents=True)
    (hidden / '__init__.py').write_text("raise ImportError('rosbags is not installed')\n")
    env = {**ros_install, 'PYTHONPATH': os.pathsep.join([str(hidden.parent),
                                                         ros_install['PYTHONPATH']])}
    done = subprocess.run(['bash', str(DEMO)], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "pip3 install rosbags 'numpy<2'" in done.stderr
    assert '[setup]' not in done.stderr
