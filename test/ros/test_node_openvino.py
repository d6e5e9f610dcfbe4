"""The node on the opt-in openvino backend, over real DDS on loopback.

One node process (`-p backend:=openvino`, the bundled int8 CPU model, the same cached file the
onnx backend runs); this process plays the camera. Needs OpenVINO, which scripts/setup.sh
installs into .venv (scripts/requirements-peers.txt).
"""

from __future__ import annotations

import signal

from shared import PHOTO_CLASSES, REPO_ROOT

from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command

TOPIC = '/image_raw'
STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 10.0


def test_the_node_classifies_on_openvino(node_env, images_dir, tmp_path):
    log = tmp_path / 'node.log'
    command = node_command({'backend': 'openvino', 'num_threads': 1}, {'image': TOPIC})
    with ClassifierPeer(TOPIC) as peer:
        process = NodeProcess(command, log, node_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), f'node did not subscribe:\n{process.log()}'
            # The node listens best effort until it has discovered this reliable camera.
            assert peer.wait_for(lambda: peer.node_reliability() == ['reliable'], 10.0)
            peer.subscribe_info()
            for name, expected in PHOTO_CLASSES.items():
                for encoding in ('nv12', 'bgr8'):
                    frame = photo_frame(read_image(images_dir / name), encoding)
                    stamp = peer.publish(frame, frame_id='camera')
                    result = peer.wait_result(stamp, RESULT_TIMEOUT)
                    assert result is not None, f'no result for {name} ({encoding}):\n' \
                                               f'{process.log()}'
                    assert int(result.results[0].class_id) == expected, (name, encoding)
            assert peer.wait_for(lambda: peer.vision_info, RESULT_TIMEOUT)
            method = peer.vision_info[-1].msg.method
            assert 'openvino' in method and '1 threads' in method, method
        finally:
            process.stop(signal.SIGINT)
    assert process.returncode == 0, process.log()
    assert 'backend openvino requested' in process.log()
    assert 'Traceback' not in process.log()
