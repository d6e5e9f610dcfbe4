"""The node's allocator setting: frame-sized buffers reused, not mapped and faulted in anew."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.ros import allocator
from mobilenetv1_ros.ros.allocator import keep_frames_in_heap

#: Three 6 MiB buffers made and freed per cycle, as rmw, rclpy and the node do per HbmMsg frame;
#: prints the page faults per cycle.
CYCLES = textwrap.dedent("""
    import resource, sys
    from mobilenetv1_ros.ros.allocator import keep_frames_in_heap
    if sys.argv[1] == 'tuned':
        keep_frames_in_heap({})
    size = 6 * 1024 * 1024
    def cycle():
        first, second, third = b'\\1' * size, b'\\2' * size, b'\\3' * size
        del first, second, third
    for _ in range(3):
        cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        cycle()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
""")


def _faults_per_cycle(mode: str) -> float:
    done = subprocess.run([sys.executable, '-c', CYCLES, mode], cwd=REPO_ROOT, check=True,
                          capture_output=True, text=True, timeout=60,
                          env={'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(REPO_ROOT)})
    return float(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='a glibc setting')
def test_frame_sized_buffers_are_reused_once_the_thresholds_are_fixed():
    tuned = _faults_per_cycle('tuned')
    # 18 MiB touched per cycle is 4608 pages: reused heap memory faults (almost) none of them.
    assert tuned < 50, tuned
    assert tuned < _faults_per_cycle('default') or tuned == 0


def test_the_users_own_malloc_variables_win_and_other_libcs_are_left_alone(monkeypatch):
    said = keep_frames_in_heap({'MALLOC_TRIM_THRESHOLD_': '1000'})
    assert said == 'allocator: left to MALLOC_TRIM_THRESHOLD_ from the environment'
    monkeypatch.setattr(allocator.platform, 'libc_ver', lambda: ('musl', '1.2'))
    assert keep_frames_in_heap({}) == 'allocator: not glibc (musl), left as it is'


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='a glibc setting')
def test_on_glibc_the_thresholds_are_set_and_said():
    said = keep_frames_in_heap({})
    assert said.startswith('allocator: blocks up to 32 MiB from the heap, up to 128 MiB')
