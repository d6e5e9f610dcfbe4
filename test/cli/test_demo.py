"""The README's demo: the node on the bundled model, the sample bag replayed into it, exit 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from shared import REPO_ROOT

pytest.importorskip('rclpy', reason='rclpy is not installed (pip environment: scripts/setup.sh)')

RESULT_LINE = re.compile(r'^\s*(\d+)\s+(\d+\.\d{3})\s+(/\S+)\s+(\S+)\s+(.+?)\s+(ok|EXPECTED .*)$')


def test_demo_replays_the_sample_bag_from_a_fresh_cache(ros_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    env = {**ros_env, 'MOBILENETV1_ROS_CACHE': str(tmp_path / 'cache')}
    completed = subprocess.run(
        [sys.executable, '-m', 'mobilenetv1_ros', 'demo', '--backend', 'onnx'],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    assert 'Traceback' not in completed.stderr
    assert list((tmp_path / 'cache').glob('sample_bag_sqlite3_*/metadata.yaml'))
    lines = [m for m in map(RESULT_LINE.match, output.splitlines()) if m]
    summary = re.search(r'frames in (\d+), results out (\d+), dropped by the node \(latest '
                        r'frame wins\) (\d+), rejected (\d+)', output)
    assert summary, output
    frames_in, results_out, dropped, rejected = map(int, summary.groups())
    assert frames_in == 90 and results_out == len(lines) and rejected == 0
    assert results_out + dropped == frames_in
    assert all(m.group(6) == 'ok' and m.group(3) == '/image_raw' for m in lines), output
    top3 = [m.group(5).split(' | ') for m in lines]
    assert all(len(entry) == 3 for entry in top3)
    assert re.search(r'latency, frame published -> result received: p50 [\d.]+ ms, '
                     r'p95 [\d.]+ ms', output)
    assert f"top-1 is the photo's class in {results_out} of {results_out} results" in output
