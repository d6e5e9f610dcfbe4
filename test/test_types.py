"""Type checking with mypy (settings in mypy.ini): core and export strict, the package plain.

Fails on any error; the message counts the errors per directory and lists them.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.core.assets import cache_dir

#: Name -> mypy arguments (paths relative to the repository root).
RUNS = {
    'strict core and export': ['--strict', 'mobilenetv1_ros/core', 'mobilenetv1_ros/export'],
    'package': [],  # the `files` of mypy.ini: all of mobilenetv1_ros
}
ERROR_LINE = re.compile(r'^(?P<path>[^:\s]+\.py):\d+: error: ', re.MULTILINE)


def error_counts(output: str) -> dict[str, int]:
    """Errors per directory of the files mypy names."""
    return dict(sorted(collections.Counter(
        match['path'].rsplit('/', 1)[0] for match in ERROR_LINE.finditer(output)).items()))


@pytest.mark.parametrize('run', RUNS)
def test_mypy_reports_no_error(run: str) -> None:
    pytest.importorskip('mypy', reason='mypy is not installed (pip install mypy)')
    cache = cache_dir() / 'mypy' / run.replace(' ', '_')
    result = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file', str(REPO_ROOT / 'mypy.ini'),
         '--cache-dir', str(cache), *RUNS[run]],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        counts = ', '.join(f'{directory}: {count}'
                           for directory, count in error_counts(result.stdout).items())
        pytest.fail(f'mypy ({run}) found errors ({counts}):\n{result.stdout}{result.stderr}',
                    pytrace=False)


def test_error_counts_group_by_directory() -> None:
    output = ('mobilenetv1_ros/core/frames.py:3: error: x  [arg-type]\n'
              'mobilenetv1_ros/core/frames.py:4: note: y\n'
              'mobilenetv1_ros/core/backends/onnx.py:9: error: z  [misc]\n'
              'mobilenetv1_ros/core/labels.py:1: error: w  [misc]\n'
              'Found 3 errors in 3 files (checked 9 source files)\n')
    assert error_counts(output) == {'mobilenetv1_ros/core': 2,
                                    'mobilenetv1_ros/core/backends': 1}
