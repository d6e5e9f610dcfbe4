"""`mobilenetv1-ros benchmark`: a quick run of the whole report, and bad arguments.

No timing assertions: the machine is shared. The smoke run checks structure and that every
stage really ran (counts of frames and samples).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared import IMAGES_DIR

from mobilenetv1_ros.cli import main
from mobilenetv1_ros.perf.benchmark import BUDGETS
from mobilenetv1_ros.perf.report import ZOO_COLUMNS


def test_benchmark_smoke_json_and_markdown(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    saved, markdown = tmp_path / 'bench.json', tmp_path / 'bench.md'
    dataset = tmp_path / 'val.txt'
    dataset.write_text(f'{IMAGES_DIR / "bulbul.JPEG"} 16\n{IMAGES_DIR / "parrot.jpg"} 88\n')
    code = main(['benchmark', '--quick', '--models', 'onnx:int8', '--peers', 'litert',
                 '--image', str(IMAGES_DIR / 'cat_1080p.jpg'), '--sizes', '1920x1080',
                 '--encodings', 'bgr8', 'nv12', '--latency-threads', '1', '2',
                 '--parallel', 'threads', '--workers', '1', '--iterations', '5',
                 '--duration', '0.2', '--dataset', str(dataset),
                 '--save', str(saved), '--markdown', str(markdown)])
    out = capsys.readouterr().out
    report = json.loads(saved.read_text())
    assert code in (0, 1)  # 1 = a budget missed on a loaded machine; the table says which
    assert out == markdown.read_text()
    assert '| ' + ' | '.join(ZOO_COLUMNS) + ' |' in out
    assert 'RDK X5 BPU, model zoo (cited, not measured here)' in out and '| 65.36 |' in out
    assert '| onnx:int8 (ours, default CPU model) |' in out
    assert '| litert (peer: LiteRT/XNNPACK, uint8 TFLite) |' in out
    for heading in ('### Core budgets', '### Backend latency', '### Throughput',
                    '### Peer ratio', '### Conversion to the NV12 model input'):
        assert heading in out
    assert len(report['machine']['loadavg']) == 3 and 'warning' in report['load']
    assert report['params']['without_background'] == report['params']['total'] - 1025
    models = {m['name']: m for m in report['models']}
    assert list(models) == ['onnx:int8', 'litert']
    ours, peer = models['onnx:int8'], models['litert']
    assert ours['default_cpu'] and not ours['peer'] and peer['peer']
    for model in models.values():
        assert set(model['latency']) == {'1', '2'}
        assert all(stats['count'] == 5 for stats in model['latency'].values())
        assert model['throughput'][0]['frames'] > 0
        assert model['accuracy'] == {'top1': 100.0, 'top5': 100.0, 'top1_ties': 0,
                                     'top1_ties_split': 100.0, 'images': 2, 'failed': 0,
                                     'seconds': model['accuracy']['seconds']}
    assert [r['measure'] for r in report['ratios']][:2] == ['p50 latency, 1 thread(s)',
                                                            'p50 latency, 2 thread(s)']
    (accuracy,) = [r for r in report['ratios'] if r['measure'].startswith('top-1')]
    assert accuracy['paired'] == {'baseline': 'litert', 'images': 2, 'gained': 0, 'lost': 0,
                                  'p_value': 1.0}
    assert 'ours +0 / -0 images, McNemar p = 1.00' in out
    ratio = report['ratios'][0]
    assert ratio['ratio'] == pytest.approx(ratio['peer_value'] / ratio['ours_value'], rel=1e-2)
    budgets = {b['name']: b for b in report['budgets']}
    assert len(budgets) == len(BUDGETS)
    assert all(b['measured_ms'] is not None for b in budgets.values())
    assert [(r['encoding'], r['width']) for r in report['conversion']] == [
        ('bgr8', 1920), ('nv12', 1920)]
    assert report['end_to_end'] == {'skipped': 'not requested (pass --end-to-end)'}


def test_benchmark_rejects_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['benchmark', '--iterations', '0']) == 2
    assert '--iterations 0 is too small' in capsys.readouterr().err
