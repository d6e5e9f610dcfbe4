"""Input hbmem: real hbm_img_msgs/HbmMsg1080P messages over DDS into the node.

The node runs in its own process with input:=hbmem on /hbmem_img, as with the board's
mipi_cam in its default shared_mem mode; this process publishes best effort, as mipi_cam
does. A HbmMsg1080P is 6 MB on the wire whatever the frame, so the camera
(harness.hbm_camera) serializes the message once and patches its fixed-offset fields in the
bytes (building one from Python takes milliseconds per message). Results must carry time_stamp
as their stamp and the hbmem_frame_id parameter as their frame_id; every malformed message must
be rejected and counted with its reason.
"""

from __future__ import annotations

import signal
import time

import cv2
import numpy as np
import pytest
from rclpy.qos import ReliabilityPolicy
from shared import REPO_ROOT

from mobilenetv1_ros.core.frames import bgr_to_nv12
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command

hbm_msgs = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')
from mobilenetv1_ros.harness.hbm_camera import HbmCamera  # noqa: E402

TOPIC = '/hbmem_img'
FRAME_ID = 'mipi_cam_optical'
STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 20.0
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def nv12(photo, width: int, height: int, step: int | None = None) -> np.ndarray:
    """A photo resized to width x height as NV12 rows, padded to `step` bytes per row."""
    planes = bgr_to_nv12(cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA))
    rows = planes.reshape(height * 3 // 2, width)
    if step is None or step == width:
        return rows
    padded = np.full((rows.shape[0], step), 77, dtype=np.uint8)
    padded[:, :width] = rows
    return padded


@pytest.fixture(scope='module')
def cat(images_dir):
    photo = cv2.imread(str(images_dir / 'cat_1080p.jpg'), cv2.IMREAD_COLOR)
    assert photo is not None
    return photo


@pytest.fixture(scope='module')
def peer():
    with ClassifierPeer(TOPIC, image_type=hbm_msgs.HbmMsg1080P, reliability='best_effort',
                        name='hbmem_camera') as camera:
        yield camera


@pytest.fixture(scope='module')
def camera(peer):
    return HbmCamera(peer)


@pytest.fixture(scope='module')
def node(peer, camera, node_env, tmp_path_factory):
    log = tmp_path_factory.mktemp('node') / 'node.log'
    process = NodeProcess(node_command({'input': 'hbmem', 'hbmem_frame_id': FRAME_ID,
                                        'backend': 'onnx', 'publish_overlay': False},
                                       remappings={'image': TOPIC}),
                          log, node_env, cwd=REPO_ROOT)
    try:
        assert peer.wait_for_node(STARTUP_TIMEOUT), f'node did not subscribe:\n{process.log()}'
        # The node matches the best-effort camera: one best-effort subscription is left.
        assert peer.wait_for(lambda: [
            info.qos_profile.reliability for info in
            peer.node.get_subscriptions_info_by_topic(TOPIC)] == [
                ReliabilityPolicy.BEST_EFFORT], 20.0), process.log()
        yield process
    finally:
        process.stop(signal.SIGINT)


def classify(peer, camera, frame, width, height, **kwargs):
    """Publish until the frame is classified (best effort may lose one); return the result."""
    for _ in range(3):
        stamp = camera.publish(frame, width, height, **kwargs)
        if peer.wait_for(lambda sent=stamp: sent in peer.results, RESULT_TIMEOUT):
            return stamp, peer.results[stamp].msg
    raise AssertionError(f'no result for {width}x{height} after 3 frames')


@pytest.mark.parametrize(('width', 'height', 'step'), [
    (960, 544, None), (1920, 1080, None), (960, 544, 1024)],
    ids=['960x544', '1920x1080', '960x544_step1024'])
def test_nv12_frame_is_classified_with_time_stamp_and_frame_id(
        node, peer, camera, cat, width, height, step):
    frame = nv12(cat, width, height, step)
    assert frame.size < hbm_msgs.HbmMsg1080P.MAX_SIZE
    stamp, result = classify(peer, camera, frame, width, height, step=step,
                             stamp=1_700_000_000_123_456_789 + width + (step or 0))
    assert stamp == 1_700_000_000_123_456_789 + width + (step or 0)
    assert (result.header.stamp.sec, result.header.stamp.nanosec) == divmod(stamp, 10**9)
    assert result.header.frame_id == FRAME_ID
    assert int(result.results[0].class_id) in CAT_CLASSES, result.results


BAD_MESSAGES = {
    # name: (publish keyword arguments, rejection reason)
    'unknown_encoding': ({'encoding': b'nv21'}, 'unsupported_encoding'),
    'empty_encoding': ({'encoding': b''}, 'unsupported_encoding'),
    'bytes_after_nul': ({'encoding': b'nv12\0junk'}, 'unsupported_encoding'),
    'not_ascii': ({'encoding': b'nv\xff2'}, 'unsupported_encoding'),
    'data_size_over_array': ({'data_size': hbm_msgs.HbmMsg1080P.MAX_SIZE + 1}, 'bad_frame'),
    'data_size_short': ({'data_size': 960 * 544}, 'bad_frame'),
}


def _rejected(values, reason):
    return int(values.get(f'rejected.{reason}', 0))


def reject(node, peer, camera, cat, name):
    """Publish the bad message `name` until the node counts its rejection; check the rest."""
    kwargs, reason = BAD_MESSAGES[name]
    frame = nv12(cat, 960, 544)
    classify(peer, camera, frame, 960, 544)  # the node takes frames now
    before = peer.wait_diagnostics(lambda values: 'frames_received' in values, 10.0)
    assert before is not None
    after = None
    for _ in range(3):  # best effort may lose a message: send it again
        stamp = camera.publish(frame, 960, 544, **kwargs)
        after = peer.wait_diagnostics(
            lambda values: _rejected(values, reason) > _rejected(before, reason), 10.0)
        if after is not None:
            break
    assert after is not None, (peer.latest_diagnostics(), node.tail())
    assert int(after['frames_rejected']) > int(before['frames_rejected'])
    good = classify(peer, camera, frame, 960, 544)[0]  # a good frame after it still works
    assert stamp not in peer.results and good in peer.results
    assert f'rejected ({reason})' in node.log()


@pytest.mark.parametrize('name', list(BAD_MESSAGES))
def test_malformed_message_is_rejected_and_counted_with_its_reason(
        node, peer, camera, cat, name):
    reject(node, peer, camera, cat, name)


@pytest.mark.parametrize(('name', 'text'), [
    ('unknown_encoding', "Encoding 'nv21' is not supported"),
    ('data_size_over_array', f'data_size {hbm_msgs.HbmMsg1080P.MAX_SIZE + 1} exceeds the '
                             f'{hbm_msgs.HbmMsg1080P.MAX_SIZE}-byte data array of HbmMsg1080P'),
])
def test_rejection_names_the_bad_value(node, peer, camera, cat, name, text):
    time.sleep(1.5)  # rejection lines are throttled to one per reason and second
    reject(node, peer, camera, cat, name)
    assert text in node.log(), node.tail()
