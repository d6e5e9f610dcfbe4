"""Lint: `ruff check` over the repository with the rules in ruff.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest
from shared import REPO_ROOT


def test_ruff_check() -> None:
    pytest.importorskip('ruff', reason='ruff is not installed (pip install ruff)')
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--config',
         str(REPO_ROOT / 'ruff.toml'), '--output-format', 'concise', '.'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f'ruff check found problems:\n{result.stdout}{result.stderr}', pytrace=False)
