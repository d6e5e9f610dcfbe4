"""The quick start's demo: the node on the bundled model, fed real photos, exits 0."""

from __future__ import annotations

from pathlib import Path
import re
import subprocess
import sys

import pytest

try:
    import rclpy  # noqa: F401
except ImportError as exc:
    print(f'test_node_demo skipped: rclpy is not importable ({exc})', file=sys.stderr)
    pytest.skip(f'rclpy is not importable ({exc})', allow_module_level=True)

from mobilenetv1_ros.cli.demo import DEMO_FRAMES

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {'cat_1080p.jpg': 'Egyptian cat', 'bulbul.JPEG': 'bulbul', 'parrot.jpg': 'macaw',
            'cat_720p.jpg': 'Egyptian cat', 'hot_dog.jpg': 'hotdog', 'bird.bmp': 'chickadee',
            'cat.bmp': 'Egyptian cat'}


def test_demo_classifies_every_photo_and_exits_0(ros_env, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / 'model-cache'
    cache.mkdir(exist_ok=True)
    completed = subprocess.run(
        [sys.executable, '-m', 'mobilenetv1_ros', 'demo', '--rounds', '1', '--fps', '8'],
        env={**ros_env, 'MOBILENETV1_ROS_CACHE': str(cache)}, cwd=REPO, capture_output=True,
        text=True, timeout=120)
    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    lines = [line for line in output.splitlines() if re.match(r'\s*\d+\s+\d+\.\d{3}\s', line)]
    assert len(lines) == len(DEMO_FRAMES)
    for (photo, encoding, _), line in zip(DEMO_FRAMES, lines):
        assert f'{photo} {encoding}' in line
        top = line.split(photo, 1)[1].split(None, 2)[2]
        assert top.startswith(EXPECTED[photo]), line
    summary = f'frames sent {len(DEMO_FRAMES)}, results {len(DEMO_FRAMES)}'
    assert summary in output
    assert f'classified {len(DEMO_FRAMES)}, dropped 0, rejected 0' in output
