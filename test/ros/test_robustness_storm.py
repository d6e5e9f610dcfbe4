"""A bad-input storm against the node in its own process: malformed frames among good ones.

1,000 malformed raw frames (perf.storm: unknown and empty encodings, short and long data, zero
and absurd sizes, short steps, odd NV12/YUYV sides, NV12 bytes labelled bgr8) interleaved with
100 real photos in several encodings, then 150 malformed compressed frames (garbage, truncated
and empty JPEG, garbage PNG, unknown formats) among 15 real JPEG/PNG frames. Every good frame
must come back with its photo's class, every bad one must be rejected and counted under its
reason in /diagnostics, the node's log must stay short (warnings throttled) and its RSS flat.

The node's image subscription queue is deepened with the standard qos_overrides parameter so
DDS itself delivers every frame of a burst: the counts below are then the node's own doing.
"""

from __future__ import annotations

import collections
import itertools
import signal
import time

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command
from mobilenetv1_ros.procfs.procstat import read_process
from mobilenetv1_ros.perf.storm import bad_frames, interleave

STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 10.0
#: Photo -> ImageNet class the model gives it (checked by test_node.py as well).
PHOTOS = {'bulbul.JPEG': 16, 'cat.bmp': 285, 'parrot.jpg': 88, 'hot_dog.jpg': 934}
RAW_ENCODINGS = ('bgr8', 'nv12', 'rgb8', 'yuyv', 'bgra8', 'uyvy')
RSS_LIMIT_MB = 30.0
LOG_LINE_LIMIT = 50


@pytest.fixture(scope='module')
def photos(images_dir):
    return {name: read_image(images_dir / name) for name in PHOTOS}


def _storm(peer, process, good, bad, spacing_s=0.0005):
    """Publish each good frame, the bad ones after it, and wait for the good one's result.

    Returns:
        (good stamps with their expected class, bad stamps with their reason).
    """
    good_stamps, bad_stamps = [], []
    pending = None
    for frame, item in interleave([frame for frame, _ in good], bad, len(bad) // len(good) + 1):
        if item is None:
            if pending is not None:
                assert peer.wait_result(pending, RESULT_TIMEOUT) is not None, \
                    f'good frame {pending} was not classified\n{process.log()[-3000:]}'
            pending = peer.publish(frame, frame_id='storm_good')
            good_stamps.append((pending, good[len(good_stamps)][1]))
        else:
            bad_stamps.append((peer.publish(frame, frame_id=f'storm_{item.kind}'), item.reason))
            time.sleep(spacing_s)
    assert peer.wait_result(pending, RESULT_TIMEOUT) is not None
    return good_stamps, bad_stamps


def _run_storm(peer, process, good, bad, warmup_frame):
    for _ in range(3):
        assert peer.wait_result(peer.publish(warmup_frame), RESULT_TIMEOUT) is not None, \
            process.log()
    seen = len(peer.diagnostics)
    assert peer.wait_for(lambda: len(peer.diagnostics) > seen, 5.0)
    before = peer.latest_diagnostics()
    rss_before = read_process(process.process.pid).rss_mb

    good_stamps, bad_stamps = _storm(peer, process, good, bad)

    received = int(before['frames_received']) + len(good_stamps) + len(bad_stamps)
    after = peer.wait_diagnostics(lambda v: int(v['frames_received']) >= received,
                                  RESULT_TIMEOUT)
    assert after is not None, (received, peer.latest_diagnostics())
    rss_after = read_process(process.process.pid).rss_mb
    wrong = [(stamp, expected, peer.results[stamp].msg.results[0].class_id)
             for stamp, expected in good_stamps
             if peer.results[stamp].msg.results[0].class_id != str(expected)]
    assert not wrong, wrong
    assert not {stamp for stamp, _ in bad_stamps} & set(peer.results)
    delta = {key: int(after.get(key, 0)) - int(before.get(key, 0))
             for key in set(after) | set(before) if key.startswith(('frames_', 'rejected.'))}
    expected = collections.Counter(reason for _, reason in bad_stamps)
    assert delta['frames_received'] == len(good_stamps) + len(bad_stamps), delta
    assert delta['frames_classified'] == len(good_stamps), delta
    assert delta['frames_rejected'] == len(bad_stamps), delta
    assert delta['frames_dropped'] == 0 and delta['frames_failed'] == 0, delta
    assert {key[len('rejected.'):]: value for key, value in delta.items()
            if key.startswith('rejected.') and value} == dict(expected), delta
    assert rss_after - rss_before <= RSS_LIMIT_MB, (rss_before, rss_after)
    assert process.process.poll() is None
    return before, after


def _log_lines(log):
    return [line for line in log.splitlines() if line.strip()]


def test_a_storm_of_bad_raw_frames_loses_no_good_frame(node_env, photos, tmp_path):
    namespace, topic = '/storm', '/storm/image'
    good = [(photo_frame(photos[name], encoding), PHOTOS[name]) for name, encoding in
            itertools.islice(zip(itertools.cycle(PHOTOS), itertools.cycle(RAW_ENCODINGS)), 100)]
    bad = bad_frames(1000, seed=7)
    assert len({item.kind for item in bad}) >= 15
    parameters = {'reliability': 'reliable', f'qos_overrides.{topic}.subscription.depth': 100}
    with ClassifierPeer(topic, node_namespace=namespace, depth=100) as peer:
        process = NodeProcess(node_command(parameters, {'image': 'image'}, namespace=namespace),
                              tmp_path / 'node.log', node_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), process.log()
            start = time.monotonic()
            _, after = _run_storm(peer, process, good, bad, good[0][0])
            seconds = time.monotonic() - start
        finally:
            code = process.stop(signal.SIGINT)
    log = process.log()
    assert code == 0, log
    assert 'Traceback' not in log
    warnings = [line for line in _log_lines(log) if 'rejected' in line]
    # Throttled: about one warning per reason per second of storm.
    assert 1 <= len(warnings) <= min(LOG_LINE_LIMIT, 3 * (seconds + 2)), warnings
    assert len(_log_lines(log)) < LOG_LINE_LIMIT, log
    assert int(after['rejected.unsupported_encoding']) > 0 and int(after['rejected.bad_frame'])


def test_a_storm_of_bad_compressed_frames_loses_no_good_frame(node_env, photos, tmp_path):
    namespace, base = '/storm_c', '/storm_c/image'
    encodings = itertools.cycle(('jpeg', 'png', 'jpeg'))
    good = [(photo_frame(photos[name], next(encodings)), PHOTOS[name])
            for name in itertools.islice(itertools.cycle(PHOTOS), 15)]
    bad = bad_frames(150, compressed=True, width=320, height=240, seed=11)
    parameters = {'input': 'compressed', 'reliability': 'reliable',
                  f'qos_overrides.{base}/compressed.subscription.depth': 100}
    # Whatever OpenCV logs by default reaches the node's console unless the node quiets it.
    quiet_free_env = {key: value for key, value in node_env.items() if key != 'OPENCV_LOG_LEVEL'}
    with ClassifierPeer(base, node_namespace=namespace, compressed=True, depth=100) as peer:
        process = NodeProcess(node_command(parameters, {'image': 'image'}, namespace=namespace),
                              tmp_path / 'node.log', quiet_free_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), process.log()
            _, after = _run_storm(peer, process, good, bad, good[0][0])
        finally:
            code = process.stop(signal.SIGTERM)
    log = process.log()
    assert code == 0, log
    assert 'Traceback' not in log
    assert int(after['rejected.undecodable']) > 0
    # Decoder complaints (libpng, libjpeg) must not reach the console frame by frame either.
    assert len(_log_lines(log)) < LOG_LINE_LIMIT, log


def test_the_storm_generator_covers_every_kind_with_the_node_s_reasons():
    from mobilenetv1_ros.core.errors import (
        ImageDecodeError,
        ImageError,
        UnsupportedEncodingError,
    )
    from mobilenetv1_ros.core.preprocess import Preprocessor

    reasons = {UnsupportedEncodingError: 'unsupported_encoding',
               ImageDecodeError: 'undecodable'}
    preprocess = Preprocessor(224, 224)
    for compressed in (False, True):
        frames = bad_frames(200, compressed=compressed, seed=3)
        for item in frames:
            with pytest.raises(ImageError) as caught:
                preprocess(item.frame)
            assert reasons.get(type(caught.value), 'bad_frame') == item.reason, item.kind
