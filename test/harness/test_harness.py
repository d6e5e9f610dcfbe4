"""The harness: synthetic camera frames, the node's command line, loopback isolation."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.frames import ENCODINGS, CompressedFrame, RawFrame, nv12_to_bgr
from mobilenetv1_ros.core.preprocess import Preprocessor
from mobilenetv1_ros.harness.frames import (
    CONVERSION_ENCODINGS,
    FRAME_ENCODINGS,
    default_image,
    make_frame,
    photo_frame,
)
from mobilenetv1_ros.harness.loopback import isolate_ros
from mobilenetv1_ros.harness.process import node_command

#: Frame generation (`load`, the benchmark) runs on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board


@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    return cv2.imread(str(IMAGES_DIR / 'cat_720p.jpg'), cv2.IMREAD_COLOR)


@pytest.mark.parametrize('encoding', CONVERSION_ENCODINGS)
def test_every_benchmark_frame_converts_to_the_same_picture(encoding: str,
                                                            photo: np.ndarray) -> None:
    frame = make_frame(photo, encoding, 320, 240)
    if encoding == 'jpeg':
        assert isinstance(frame, CompressedFrame)
    else:
        assert isinstance(frame, RawFrame) and (frame.width, frame.height) == (320, 240)
    preprocessor = Preprocessor(224, 224)
    nv12 = preprocessor(frame)
    reference = preprocessor(make_frame(photo, 'bgr8', 320, 240))
    assert nv12.size == preprocessor.nv12_size
    luma = 224 * 224
    # Same scene in every encoding: luma agrees (mono loses only colour, jpeg a little detail).
    difference = np.abs(nv12[:luma].astype(int) - reference[:luma].astype(int)).mean()
    assert difference < 3.0, encoding
    if encoding != 'mono8':
        colour = np.abs(nv12_to_bgr(nv12, 224, 224).astype(int)
                        - nv12_to_bgr(reference, 224, 224).astype(int)).mean()
        assert colour < 6.0, encoding


def test_make_frame_rejects_unknown_encoding(photo: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="Encoding 'rgb16' is not one of"):
        make_frame(photo, 'rgb16', 64, 48)


def test_frame_encodings_cover_every_raw_encoding_and_compression() -> None:
    assert set(FRAME_ENCODINGS) == set(ENCODINGS) | {'jpeg', 'png'}
    assert set(CONVERSION_ENCODINGS) <= set(FRAME_ENCODINGS)


@pytest.mark.parametrize('encoding', FRAME_ENCODINGS)
def test_photo_frames_keep_the_picture_at_an_even_size(encoding: str) -> None:
    odd = cv2.resize(cv2.imread(str(IMAGES_DIR / 'parrot.jpg')), (333, 251))
    frame = photo_frame(odd, encoding)
    if isinstance(frame, CompressedFrame):
        assert frame.format == encoding
    else:
        assert (frame.encoding, frame.width, frame.height) == (encoding, 332, 250)
    preprocessor = Preprocessor(224, 224)
    reference = preprocessor(photo_frame(odd, 'bgr8'))
    luma = 224 * 224
    difference = np.abs(preprocessor(frame)[:luma].astype(int) - reference[:luma]).mean()
    assert difference < 3.0, encoding


def test_default_image_is_the_bundled_1080p_photo() -> None:
    image, name = default_image()
    assert image.shape == (1080, 1920, 3)
    assert name.endswith('cat_1080p.jpg')


def test_node_command_renders_ros_arguments(tmp_path) -> None:
    command = node_command({'top_k': 3, 'publish_overlay': False, 'labels_path': '',
                            'score_threshold': 0.5},
                           {'image': '/cam'}, namespace='/robot', params_file=tmp_path / 'p.yaml',
                           log_level='debug')
    assert command == [sys.executable, '-m', 'mobilenetv1_ros.node', '--ros-args',
                       '--params-file', str(tmp_path / 'p.yaml'),
                       '-p', 'top_k:=3', '-p', 'publish_overlay:=false', '-p', "labels_path:=''",
                       '-p', 'score_threshold:=0.5', '-r', 'image:=/cam', '-r', '__ns:=/robot',
                       '--log-level', 'debug']


def test_isolate_ros_keeps_dds_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ('ROS_DOMAIN_ID', 'ROS_HOME', 'ROS_LOG_DIR', 'ROS_LOCALHOST_ONLY',
                 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ROS_STATIC_PEERS', '192.0.2.1')
    created = isolate_ros('harness-test')
    try:
        assert created is not None and created.is_dir() and created.name.startswith('harness-test')
        assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
        assert os.environ['ROS_LOCALHOST_ONLY'] == '1'
        assert 'ROS_STATIC_PEERS' not in os.environ
        assert 1 <= int(os.environ['ROS_DOMAIN_ID']) <= 100
        assert os.environ['ROS_HOME'] == str(created)
        assert os.environ['ROS_LOG_DIR'] == str(created / 'log')
        assert isolate_ros('harness-test') is None, 'a second call keeps what is set'
    finally:
        if created is not None:
            created.rmdir()
