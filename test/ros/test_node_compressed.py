"""The node on compressed input, configured by the shipped params file, in a namespace.

The node runs with `--params-file config/classifier.yaml`, `input:=compressed`, namespace
/robot1 and `image:=/cam/image`: it must subscribe to /cam/image/compressed (the way
image_transport names it) and publish under /robot1. A best-effort and a reliable camera each
stream 1280x720 JPEG at 2 fps; SIGTERM ends the node cleanly.
"""

from __future__ import annotations

import signal
import time

import pytest
from shared import CONFIG_DIR, REPO_ROOT

from mobilenetv1_ros.core.frames import CompressedFrame, read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer, publish_every
from mobilenetv1_ros.harness.process import NodeProcess, node_command
from mobilenetv1_ros.ros.params import NODE_NAME

NAMESPACE = '/robot1'
BASE_TOPIC = '/cam/image'
STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 10.0
CAT_CLASSES = range(281, 286)


@pytest.fixture(scope='module')
def photos(images_dir):
    return {name: read_image(images_dir / name)
            for name in ('bulbul.JPEG', 'parrot.jpg', 'cat_720p.jpg')}


@pytest.fixture(scope='module')
def peer():
    with ClassifierPeer(BASE_TOPIC, compressed=True, node_namespace=NAMESPACE) as camera:
        yield camera


@pytest.fixture(scope='module')
def node(peer, node_env, tmp_path_factory):
    command = node_command({'input': 'compressed'}, {'image': BASE_TOPIC},
                           namespace=NAMESPACE, params_file=CONFIG_DIR / 'classifier.yaml')
    process = NodeProcess(command, tmp_path_factory.mktemp('node') / 'node.log',
                          node_env, cwd=REPO_ROOT)
    try:
        assert peer.wait_for_node(STARTUP_TIMEOUT), f'node did not subscribe:\n{process.log()}'
        # The node listens best effort until it has discovered this reliable camera.
        assert peer.wait_for(lambda: peer.node_reliability() == ['reliable'], 10.0)
        assert peer.wait_for_node(10.0)
        yield process
    finally:
        process.stop(signal.SIGTERM)


def top(result):
    return int(result.results[0].class_id)


def test_subscribes_next_to_the_remapped_image_topic_and_publishes_in_its_namespace(node, peer):
    assert peer.image_topic == '/cam/image/compressed'
    assert peer.node_reliability() == ['reliable']
    assert peer.node.get_publishers_info_by_topic(f'{NAMESPACE}/classification')
    assert peer.node.get_publishers_info_by_topic(f'{NAMESPACE}/label_info')
    assert peer.node.get_publishers_info_by_topic(f'{NAMESPACE}/overlay')
    assert peer.get_parameters(f'{NAMESPACE}/{NODE_NAME}', ['input']) == ['compressed']
    assert 'Subscribed to /cam/image/compressed (CompressedImage, reliable' in node.log()


@pytest.mark.parametrize('fmt', ['jpeg', 'png'])
def test_jpeg_and_png_photos_give_the_expected_class(node, peer, photos, fmt):
    for name, expected in (('bulbul.JPEG', 16), ('parrot.jpg', 88)):
        stamp = peer.publish(photo_frame(photos[name], fmt))
        result = peer.wait_result(stamp, RESULT_TIMEOUT)
        assert result is not None and top(result) == expected, (name, fmt)


def test_a_reliable_camera_delivers_every_frame_of_a_2fps_720p_jpeg_stream(node, peer, photos):
    frame = photo_frame(photos['cat_720p.jpg'], 'jpeg')
    stamps = publish_every(peer, [frame] * 6, 0.5)
    assert peer.wait_for(lambda: all(s in peer.results for s in stamps), RESULT_TIMEOUT), \
        f'{sum(s in peer.results for s in stamps)} of 6 classified'
    assert all(top(peer.results[s].msg) in CAT_CLASSES for s in stamps)


def test_a_best_effort_camera_delivers_every_frame_of_a_2fps_720p_jpeg_stream(node, peer,
                                                                               photos):
    frame = photo_frame(photos['cat_720p.jpg'], 'jpeg')
    assert len(frame.data) < 500_000  # best effort: samples of ~0.5 MB and more are lost
    try:
        peer.replace_camera('best_effort')
        assert peer.wait_for(lambda: peer.node_reliability() == ['best_effort'], 10.0)
        assert peer.wait_for_node(10.0)
        time.sleep(0.3)
        stamps = publish_every(peer, [frame] * 6, 0.5)
        assert peer.wait_for(lambda: all(s in peer.results for s in stamps), RESULT_TIMEOUT), \
            f'{sum(s in peer.results for s in stamps)} of 6 classified'
        assert all(top(peer.results[s].msg) in CAT_CLASSES for s in stamps)
    finally:
        peer.replace_camera('reliable')


def test_undecodable_and_unsupported_images_are_rejected(node, peer, photos):
    good = photo_frame(photos['bulbul.JPEG'], 'jpeg')
    assert peer.wait_for(lambda: peer.node_reliability() == ['reliable'], 10.0)
    assert peer.wait_for_node(10.0)
    time.sleep(0.3)
    corrupt = CompressedFrame('jpeg', bytes(good.data)[:200])
    tiff = CompressedFrame('tiff', bytes(good.data))
    stamps = []
    for frame in (corrupt, good, tiff, good):
        stamps.append(peer.publish(frame))
        time.sleep(0.2)
    for stamp in stamps[1::2]:
        result = peer.wait_result(stamp, RESULT_TIMEOUT)
        assert result is not None and top(result) == 16
    assert stamps[0] not in peer.results and stamps[2] not in peer.results
    values = peer.wait_diagnostics(lambda v: int(v.get('frames_rejected', 0)) >= 2)
    assert values is not None
    assert values['rejected.undecodable'] == '1'
    assert values['rejected.unsupported_encoding'] == '1'
    assert "'tiff'" in node.log()


def test_sigterm_ends_the_node_cleanly(node):
    assert node.stop(signal.SIGTERM) == 0
    assert 'Traceback' not in node.log()
