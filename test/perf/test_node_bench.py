"""The node benchmark's result bookkeeping (perf/node_bench.py)."""

from __future__ import annotations

import pytest

from mobilenetv1_ros.perf.node_bench import RunResult


def test_node_bench_finds_results_computed_from_superseded_frames():
    def run(result_offered, waits):
        count = len(result_offered)
        return RunResult(label='t', fps=10.0, sent=4, received=4, classified=count, dropped=0,
                         rejected=0, failed=0, results_seen=count, stages={'wait': waits},
                         stamp_to_result_ms=[], offered=[0.0, 0.1, 0.2, 0.3],
                         result_offered=result_offered)

    late, gaps = run([0.0, 0.2], [5.0, 5.0]).superseded()
    assert late == 0 and gaps == pytest.approx([100.0, 100.0])
    late, _ = run([0.0], [150.0]).superseded()  # started after the frame of 0.1 s was waiting
    assert late == 1
