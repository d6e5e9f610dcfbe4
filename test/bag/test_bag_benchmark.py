"""The bag benchmark's verdict: quiet pairs when there are enough, else all pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilenetv1_ros.bag.benchmark import QUIET_CORES, BagBenchmark, _machine_busy_seconds


def _result(foreign: tuple[float | None, ...]) -> BagBenchmark:
    backend = (200.0, 200.0, 200.0, 200.0, 200.0)
    offline = (190.0, 100.0, 186.0, 120.0, 184.0)
    return BagBenchmark(Path('bag'), 180, backend, offline, 'onnx', (5.0,) * 5, (5.5,) * 5,
                        (2.5, 2.7), foreign, foreign)


def test_verdict_is_the_median_of_the_quiet_pairs() -> None:
    busy = QUIET_CORES * 4
    result = _result((0.0, busy, 0.05, busy, 0.1))
    assert result.quiet_ratios == pytest.approx((0.95, 0.93, 0.92))
    assert result.verdict == pytest.approx(0.93)
    assert result.ratio == pytest.approx(0.92)
    assert result.spread == pytest.approx((0.5, 0.95))
    text = result.format()
    assert 'quiet pairs (other processes < 0.15 core): 3 of 5, median ratio 0.930' in text
    assert 'verdict: 0.930 (median ratio of the quiet pairs)' in text
    assert '(+0.50 ms outside inference)' in text


def test_too_few_quiet_pairs_fall_back_to_all_pairs() -> None:
    result = _result((0.0, 1.0, None, 1.0, 0.1))
    assert result.quiet_ratios == pytest.approx((0.95, 0.92))
    assert result.verdict == result.ratio == pytest.approx(0.92)
    assert 'verdict: 0.920 (median ratio of all pairs: fewer than 3 quiet ones)' in \
        result.format()


def test_machine_busy_time_grows() -> None:
    first = _machine_busy_seconds()
    if first is None:
        pytest.skip('no /proc/stat here')
    sum(range(3_000_000))
    second = _machine_busy_seconds()
    assert second is not None and second >= first
