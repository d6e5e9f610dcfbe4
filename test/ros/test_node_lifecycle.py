"""The node's lifecycle: a failed configure, and the transitions driven by a manager."""

from __future__ import annotations

import signal
import time

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command
from mobilenetv1_ros.ros.params import NODE_NAME

TOPIC = '/lifecycle/image'
STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 10.0


@pytest.mark.parametrize(('parameters', 'named'), [
    ({'backend': 'onnx', 'model_path': '/nonexistent/mobilenet.onnx'},
     '/nonexistent/mobilenet.onnx'),
    ({'labels_path': '/nonexistent/labels.json'}, '/nonexistent/labels.json'),
    ({'crop': 'zoom'}, "'zoom'"),
], ids=['model', 'labels', 'crop'])
def test_a_failed_configure_names_the_cause_and_exits_non_zero(node_env, tmp_path, parameters,
                                                               named):
    process = NodeProcess(node_command(parameters), tmp_path / 'node.log', node_env, cwd=REPO_ROOT)
    code = process.wait(STARTUP_TIMEOUT)
    log = process.log()
    process.stop()
    assert code is not None and code != 0, log
    assert 'Configuring failed' in log and named in log, log
    assert 'Traceback' not in log


def test_a_parameter_of_the_wrong_type_exits_non_zero(node_env, tmp_path):
    process = NodeProcess(node_command({'top_k': 'three'}), tmp_path / 'node.log', node_env,
                          cwd=REPO_ROOT)
    code = process.wait(STARTUP_TIMEOUT)
    log = process.log()
    process.stop()
    assert code == 2, log
    assert 'top_k' in log and 'Traceback' not in log


def test_transitions_driven_by_a_lifecycle_manager(node_env, tmp_path, images_dir):
    frame = photo_frame(read_image(images_dir / 'bulbul.JPEG'), 'nv12')
    with ClassifierPeer(TOPIC) as peer:
        process = NodeProcess(node_command({'autostart': False}, {'image': TOPIC}),
                              tmp_path / 'node.log', node_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for(lambda: _answers(peer), STARTUP_TIMEOUT), process.log()
            assert peer.lifecycle_state(NODE_NAME) == 'unconfigured'
            assert peer.publisher.get_subscription_count() == 0

            assert peer.change_state(NODE_NAME, 'configure')
            assert peer.lifecycle_state(NODE_NAME) == 'inactive'
            assert peer.publisher.get_subscription_count() == 0

            assert peer.change_state(NODE_NAME, 'activate')
            assert peer.lifecycle_state(NODE_NAME) == 'active'
            assert peer.wait_for_node(10.0)
            assert _classified(peer, frame)

            assert peer.change_state(NODE_NAME, 'deactivate')
            assert peer.lifecycle_state(NODE_NAME) == 'inactive'
            assert peer.wait_for(lambda: peer.publisher.get_subscription_count() == 0, 10.0)
            stamp = peer.publish(frame)
            assert peer.wait_result(stamp, 1.0) is None

            assert peer.change_state(NODE_NAME, 'cleanup')
            assert peer.lifecycle_state(NODE_NAME) == 'unconfigured'
            assert peer.change_state(NODE_NAME, 'configure')
            assert peer.change_state(NODE_NAME, 'activate')
            assert peer.wait_for_node(10.0)
            assert _classified(peer, frame)

            assert peer.change_state(NODE_NAME, 'shutdown')
            assert peer.lifecycle_state(NODE_NAME) == 'finalized'
            assert peer.wait_for(lambda: peer.publisher.get_subscription_count() == 0, 10.0)
        finally:
            code = process.stop(signal.SIGINT)
        log = process.log()
        assert code == 0, log
        assert 'Traceback' not in log
        assert log.count('Loaded onnx') == 2  # configure loads, cleanup releases


def _answers(peer):
    try:
        return peer.lifecycle_state(NODE_NAME) is not None
    except TimeoutError:
        return False


def _classified(peer, frame):
    time.sleep(0.2)
    stamp = peer.publish(frame)
    result = peer.wait_result(stamp, RESULT_TIMEOUT)
    return result is not None and result.results[0].class_id == '16'
