"""The node's CPU meter on this very process: named threads burn known CPU time."""

from __future__ import annotations

import threading
import time

import pytest

from mobilenetv1_ros.procfs.procstat import TICKS_PER_S
from mobilenetv1_ros.procfs.thread_roles import INFERENCE_THREAD
from mobilenetv1_ros.ros.cpu_meter import CPU_KEYS, CpuMeter
from mobilenetv1_ros.ros.diagnostics import cpu_values

#: Clock ticks of rounding on each side plus scheduling slack, in seconds.
SLACK_S = 4.0 / TICKS_PER_S + 0.02


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _inference_thread(seconds: float, done: threading.Event, stop: threading.Event) -> None:
    with open(f'/proc/self/task/{threading.get_native_id()}/comm', 'w') as stream:
        stream.write(INFERENCE_THREAD[:15])
    _burn(seconds)
    done.set()
    stop.wait()  # alive at the reading: the time of a thread that ended is unattributed


def test_the_meter_splits_this_process_cpu_by_role_per_frame():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip('the executor role is the main thread; this test runs elsewhere')
    meter = CpuMeter()
    assert meter.update(100) is None, 'the first reading only starts a period'
    done, stop = threading.Event(), threading.Event()
    worker = threading.Thread(target=_inference_thread, args=(0.3, done, stop))
    worker.start()
    try:
        _burn(0.2)
        assert done.wait(30)
        time.sleep(2.0 / TICKS_PER_S)
        period = meter.update(110)
    finally:
        stop.set()
        worker.join()
    assert period is not None and period.frames == 10
    figures = period.ms_per_frame
    assert list(figures) == list(CPU_KEYS)
    # Per frame: the main thread burnt 0.2 s over 10 frames, the named one 0.3 s.
    assert figures['executor'] == pytest.approx(20.0, abs=SLACK_S * 100)
    assert figures['inference'] == pytest.approx(30.0, abs=SLACK_S * 100)
    assert figures['outside_inference'] == pytest.approx(
        figures['total'] - figures['inference'], abs=0.002)
    assert period.cpu_pct > 0
    values = dict(cpu_values(period))
    assert float(values['cpu_executor_ms_per_frame']) == pytest.approx(figures['executor'],
                                                                         abs=0.001)
    assert 'cpu_pct' in values


def test_a_period_without_frames_gives_the_share_but_no_per_frame_figures():
    meter = CpuMeter()
    meter.update(5)
    _burn(0.05)
    period = meter.update(5)
    assert period is not None and period.frames == 0
    assert all(value is None for value in period.ms_per_frame.values())
    assert [key for key, _ in cpu_values(period)] == ['cpu_pct']
    assert cpu_values(None) == []


def test_a_process_that_is_gone_reads_as_nothing(tmp_path):
    meter = CpuMeter(pid=2 ** 22 + 1)
    assert meter.update(0) is None
    assert meter.update(10) is None
