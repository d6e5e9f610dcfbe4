"""benchmark: statistics, parameter count, subjects and peers, throughput, the end-to-end run.

No timing assertions: the machine is shared. The smoke runs check structure and that every
stage really ran (counts of frames and samples).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR, MODELS_DIR, PHOTO_CLASSES

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.options import ClassifierOptions
from mobilenetv1_ros.perf.benchmark import conversion_costs, parse_size, throughput
from mobilenetv1_ros.perf.machine import (
    describe_machine,
    latency_stats,
    load_warning,
    pinned_to_one_core,
)
from mobilenetv1_ros.perf.params import count_parameters
from mobilenetv1_ros.perf.report import end_to_end_markdown, markdown_table
from mobilenetv1_ros.perf.subjects import LiteRTPeer, create_subject, parse_spec

EXTRACTOR = MODELS_DIR / 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'
HEAD = MODELS_DIR / 'mobilenet_quant_v1_224_head_layers.tflite'


@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    return cv2.imread(str(IMAGES_DIR / 'cat_720p.jpg'), cv2.IMREAD_COLOR)


@pytest.mark.board
def test_parse_size() -> None:
    assert parse_size('1920x1080') == (1920, 1080)
    assert parse_size('640X480') == (640, 480)
    for bad in ('1920', 'axb', '0x10', '-2x4'):
        with pytest.raises(ConfigError, match='Frame size'):
            parse_size(bad)


def test_latency_stats_and_load_warning() -> None:
    stats = latency_stats([float(v) for v in range(1, 101)])
    assert (stats['count'], stats['p50'], stats['min'], stats['max']) == (100, 50.5, 1.0, 100.0)
    assert stats['p95'] == pytest.approx(95.05) and stats['p99'] == pytest.approx(99.01)
    assert latency_stats([]) == {'count': 0}
    assert load_warning([1.6, 0.1, 0.1]) and 'load average 1.60 > 1.5' in load_warning([1.6])
    assert load_warning([1.5, 3.0, 3.0]) is None and load_warning(None) is None


def test_machine_description_and_pinning() -> None:
    machine = describe_machine()
    assert machine['usable_cpus'] >= 1 and machine['python']
    assert 'numpy' in machine['packages'] and 'onnxruntime' in machine['packages']
    before = os.sched_getaffinity(0)
    with pinned_to_one_core() as core:
        assert os.sched_getaffinity(0) == {core} and cv2.getNumThreads() == 1
    assert os.sched_getaffinity(0) == before


def test_parameter_count_matches_the_tflite_tensors() -> None:
    """Cross-check the flatbuffer count with LiteRT's view of every weighted layer."""
    from ai_edge_litert.interpreter import Interpreter

    expected = 0
    for path in (EXTRACTOR, HEAD):
        interpreter = Interpreter(model_path=str(path))
        shapes = {t['index']: t['shape'] for t in interpreter.get_tensor_details()}
        for op in interpreter._get_ops_details():  # noqa: SLF001 - the only per-op listing
            if op['op_name'] in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
                expected += sum(int(np.prod(shapes[i])) for i in op['inputs'][1:])
    count = count_parameters(EXTRACTOR, HEAD)
    assert count.total == expected and count.layers == 28
    assert count.total - count.without_background == 1024 + 1  # one head row and its bias
    assert 4.0 < count.millions < 4.3  # MobileNetV1 1.0/224 is 4.2 M, not 1.33 M


def test_peer_and_pipeline_agree_on_the_photos() -> None:
    peer = LiteRTPeer(num_threads=1)
    ours = create_subject('onnx:int8', ClassifierOptions(), 1)
    try:
        assert peer.num_classes == ours.num_classes == 1000
        for name, expected in PHOTO_CLASSES.items():
            image = cv2.imread(str(IMAGES_DIR / name), cv2.IMREAD_COLOR)
            prepared = peer.prepare(image)
            assert prepared.shape == (1, 224, 224, 3) and prepared.dtype == np.uint8
            for subject, tensor in ((peer, prepared), (ours, ours.prepare(image))):
                probabilities = subject.probabilities(subject.infer(tensor))
                assert probabilities.shape == (1000,)
                assert int(probabilities.argmax()) == expected, (subject.name, name)
                assert probabilities.sum() == pytest.approx(1.0, abs=0.05)
    finally:
        ours.close()
        peer.close()


@pytest.mark.board
def test_specs() -> None:
    assert parse_spec('onnx:int8') == ('onnx', 'int8')
    assert parse_spec('LITERT') == ('litert', '')
    assert parse_spec('onnx:/a/b:c.onnx') == ('onnx', '/a/b:c.onnx')
    with pytest.raises(ConfigError, match="'tflite' is not one of"):
        parse_spec('tflite')
    with pytest.raises(ConfigError, match='litert takes'):
        create_subject('litert:only_one.tflite', ClassifierOptions())


@pytest.mark.board
def test_conversion_costs_structure(photo: np.ndarray) -> None:
    records = conversion_costs(photo, ['bgr8', 'nv12'], [(320, 240), (640, 480)],
                               iterations=5, warmup=1)
    assert [(r['encoding'], r['width']) for r in records] == [
        ('bgr8', 320), ('bgr8', 640), ('nv12', 320), ('nv12', 640)]
    for record in records:
        assert record['ms']['count'] == 5 and 0 < record['ms']['p50'] <= record['ms']['max']


@pytest.mark.parametrize('mode', ['threads', 'processes'])
def test_throughput_runs_every_worker(mode: str, photo: np.ndarray) -> None:
    run = throughput('onnx:int8', ClassifierOptions(), photo, 2, mode, duration=0.3)
    assert (run['mode'], run['workers']) == (mode, 2)
    assert run['frames'] >= 2 and run['latency_ms']['count'] == run['frames']
    assert run['fps'] == pytest.approx(run['frames'] / 0.3, rel=1e-3)


def test_throughput_reports_a_worker_that_cannot_start(photo: np.ndarray) -> None:
    with pytest.raises(ConfigError, match='does not exist'):
        throughput('onnx:/no/such/model.onnx', ClassifierOptions(), photo, 1, 'processes', 0.1)
    with pytest.raises(ConfigError, match="Parallel mode 'fibers'"):
        throughput('onnx:int8', ClassifierOptions(), photo, 1, 'fibers', 0.1)


@pytest.mark.board
def test_markdown_table() -> None:
    table = markdown_table(('a', 'b'), [(1, 'x')], 'lr')
    assert table.splitlines() == ['| a | b |', '| :--- | ---: |', '| 1 | x |']


def test_node_end_to_end_over_dds(photo: np.ndarray) -> None:
    """The node really runs: every timed frame comes back classified (loopback DDS)."""
    pytest.importorskip('rclpy')
    from mobilenetv1_ros.perf.endtoend import measure_node

    assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    result = measure_node('onnx:int8', ClassifierOptions(num_threads=1), photo,
                          [(320, 240), (640, 480)], ['bgr8', 'nv12'], 3)
    assert 'skipped' not in result, result.get('skipped')
    assert [(r['encoding'], r['width']) for r in result['runs']] == [
        ('bgr8', 320), ('bgr8', 640), ('nv12', 320), ('nv12', 640)]
    for run in result['runs']:
        assert run['sent'] == run['received'] == run['ms']['count'] == 3
        cpu = run['thread_cpu']  # the node's CPU over the timed frames, by thread role
        assert cpu['frames'] == 3 and cpu['threads']['executor'] == 1
        assert cpu['threads']['inference'] >= 1 and cpu['threads']['middleware'] >= 1
        assert cpu['ms_per_frame']['total'] > 0
    assert result['parameters']['precision'] == 'int8'
    table = end_to_end_markdown(result)
    assert '| CPU/frame ms | executor | inference | DDS | other | outside inference |' in table


@pytest.mark.board
def test_node_end_to_end_refuses_a_peer(photo: np.ndarray) -> None:
    from mobilenetv1_ros.perf.endtoend import node_parameters

    with pytest.raises(ConfigError, match='peer runtime'):
        node_parameters('litert', ClassifierOptions())
    # The OpenVINO peer is a backend of ours too: the node runs it.
    assert node_parameters('openvino:float32', ClassifierOptions())['backend'] == 'openvino'
    assert node_parameters('openvino:float32', ClassifierOptions())['precision'] == 'float32'
    assert node_parameters('bpu:/x/model.bin', ClassifierOptions())['model_path'] == \
        '/x/model.bin'


def test_bpu_subject_through_the_double(make_bpu_model: Callable[..., Path], photo: np.ndarray,
                                        tmp_path: Path) -> None:
    """The BPU path: evaluation and process throughput (the API holds the GIL).

    Spawned benchmark workers inherit sys.path, so they import the hobot_dnn double too.
    """
    bpu_model = make_bpu_model()
    from mobilenetv1_ros.perf.dataset import load_dataset
    from mobilenetv1_ros.perf.evaluation import evaluate

    subject = create_subject(f'bpu:{bpu_model}', ClassifierOptions())
    try:
        assert subject.precision == 'int8' and not subject.peer
        listing = tmp_path / 'list.txt'
        listing.write_text(f'{IMAGES_DIR / "bulbul.JPEG"} 16\n{IMAGES_DIR / "cat.bmp"} 285\n')
        result = evaluate(subject, load_dataset(listing), progress=False)
        assert (result.images, result.top1_correct) == (2, 2)
    finally:
        subject.close()
    run = throughput(f'bpu:{bpu_model}', ClassifierOptions(), photo, 2, 'processes', 0.3)
    assert run['frames'] >= 2 and run['latency_ms']['count'] == run['frames']


def test_litert_via_nv12_sees_our_conversion(photo: np.ndarray) -> None:
    peer = create_subject('litert:nv12', ClassifierOptions(), 1)
    plain = create_subject('litert', ClassifierOptions(), 1)
    try:
        via, direct = peer.prepare(photo), plain.prepare(photo)
        assert via.shape == direct.shape == (1, 224, 224, 3)
        # Same crop and size; only the NV12 round trip (BT.601, 4:2:0) differs.
        assert 0 < np.abs(via.astype(int) - direct.astype(int)).mean() < 6
        assert 'NV12 input' in peer.describe() and 'RGB input' in plain.describe()
    finally:
        peer.close()
        plain.close()


def test_missing_peer_runtime_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch,
                                                   photo: np.ndarray, tmp_path: Path) -> None:
    import sys

    from mobilenetv1_ros.perf.report import benchmark_markdown
    from mobilenetv1_ros.perf.suite import BenchmarkSettings, run_benchmark

    monkeypatch.setitem(sys.modules, 'ai_edge_litert', None)
    monkeypatch.setitem(sys.modules, 'ai_edge_litert.interpreter', None)
    image = tmp_path / 'photo.png'
    cv2.imwrite(str(image), photo)
    settings = BenchmarkSettings(models=['onnx:int8'], peers=['litert'], threads=[1],
                                 workers=1, parallel=['threads'], iterations=3, warmup=1,
                                 duration=0.1, image=image, sizes=[(64, 48)],
                                 encodings=['nv12'])
    report = run_benchmark(settings, log=lambda message: None)
    assert [m['name'] for m in report['models']] == ['onnx:int8']
    assert report['skipped'][0]['name'] == 'litert'
    assert 'ai-edge-litert' in report['skipped'][0]['reason']
    assert report['ratios'] == []
    assert 'Not measured: litert: ' in benchmark_markdown(report)
