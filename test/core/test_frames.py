"""Synthetic camera frames (what `load`, the benchmark and the tests publish) on any OpenCV.

YUYV/UYVY are packed by core.frames.bgr_to_yuv422 because the board's OpenCV 4.5.4 has no BGR ->
YUV 4:2:2 conversion; where OpenCV has one (>= 4.7) the bytes must be the same.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import (
    CompressedFrame,
    RawFrame,
    bgr_to_yuv422,
    frame_to_bgr,
    read_image,
)
from mobilenetv1_ros.core.pipeline import Classifier
from mobilenetv1_ros.core.preprocess import Preprocessor
from mobilenetv1_ros.harness.frames import FRAME_ENCODINGS, photo_frame
from mobilenetv1_ros.loading import load_classifier
from mobilenetv1_ros.options import ClassifierOptions

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / 'images'
DOUBLES = ROOT / 'test' / 'doubles'


@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    return read_image(IMAGES / 'cat_720p.jpg')


def _test_images(photo: np.ndarray) -> list[np.ndarray]:
    noise = np.random.default_rng(7).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    # Every pair of the eight corners of the RGB cube: the chroma extremes (16 and 240).
    corners = np.array([[b, g, r] for b in (0, 255) for g in (0, 255) for r in (0, 255)],
                       dtype=np.uint8)
    pairs = np.array([[first, second] for first in corners for second in corners])
    return [photo, noise, pairs.reshape(8, 16, 3)]


@pytest.mark.skipif(not hasattr(cv2, 'COLOR_BGR2YUV_YUY2'),
                    reason=f'OpenCV {cv2.__version__} has no BGR -> YUV 4:2:2 conversion')
def test_yuv422_packing_is_opencvs_byte_for_byte(photo: np.ndarray) -> None:
    for image in _test_images(photo):
        height = image.shape[0]
        for code, luma_first in ((cv2.COLOR_BGR2YUV_YUY2, True),
                                 (cv2.COLOR_BGR2YUV_UYVY, False)):
            expected = cv2.cvtColor(image, code).reshape(height, -1)
            assert np.array_equal(bgr_to_yuv422(image, luma_first), expected), image.shape


@pytest.mark.board
def test_yuv422_packing_reads_back_with_opencvs_decoder(photo: np.ndarray) -> None:
    yuyv = bgr_to_yuv422(photo, luma_first=True)
    uyvy = bgr_to_yuv422(photo, luma_first=False)
    height, width = photo.shape[:2]
    pairs = yuyv.reshape(height, width // 2, 4)
    assert np.array_equal(uyvy.reshape(height, width // 2, 4), pairs[..., [1, 0, 3, 2]])
    assert 16 <= pairs[..., 0::2].min() and pairs[..., 0::2].max() <= 235
    for packed, code in ((yuyv, cv2.COLOR_YUV2BGR_YUYV), (uyvy, cv2.COLOR_YUV2BGR_UYVY)):
        back = cv2.cvtColor(packed.reshape(height, width, 2), code)
        # Only the halved chroma resolution and 8-bit rounding separate it from the photo.
        assert np.abs(back.astype(int) - photo.astype(int)).mean() < 3.0


@pytest.mark.board
def test_yuv422_packing_needs_an_even_width(photo: np.ndarray) -> None:
    with pytest.raises(ImageError, match='width 5 is odd'):
        bgr_to_yuv422(photo[:4, :5])


@pytest.mark.board
@pytest.mark.parametrize('encoding', FRAME_ENCODINGS)
def test_every_photo_frame_encoding_shows_the_photo(encoding: str, photo: np.ndarray) -> None:
    """What `load` publishes: every encoding gives the same picture to the node."""
    frame = photo_frame(photo, encoding, 320, 240)
    reference = photo_frame(photo, 'bgr8', 320, 240)
    if encoding in ('jpeg', 'png'):
        assert isinstance(frame, CompressedFrame) and frame.format == encoding
    else:
        assert isinstance(frame, RawFrame)
        assert (frame.encoding, frame.width, frame.height) == (encoding, 320, 240)
    shown = frame_to_bgr(frame)
    expected = frame_to_bgr(reference)
    if encoding in ('mono8', '8uc1'):
        shown, expected = shown[..., 0], cv2.cvtColor(expected, cv2.COLOR_BGR2GRAY)
    if encoding in ('nv12', 'yuyv', 'yuv422_yuy2', 'uyvy', 'yuv422', 'jpeg'):
        # Subsampled chroma, 8-bit YUV and JPEG's loss: close, not equal.
        assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 3.0
    else:
        assert np.array_equal(shown, expected)


@pytest.fixture
def bpu_classifier(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The classifier on the hobot_dnn double (the real network run by LiteRT)."""
    def forget() -> None:
        for name in list(sys.modules):
            if name.split('.')[0] in ('hobot_dnn', 'hobot_dnn_rdkx5', 'hobot_dnn_double'):
                del sys.modules[name]

    forget()
    monkeypatch.syspath_prepend(str(DOUBLES))
    double = importlib.import_module('hobot_dnn_double')
    model = double.write_model_file(tmp_path / 'mobilenetv1_224x224_nv12.bin')
    classifier = load_classifier(ClassifierOptions(backend='bpu', model_path=str(model)))
    yield classifier
    classifier.close()
    forget()


@pytest.mark.board
def test_every_photo_frame_encoding_classifies_on_the_bpu(bpu_classifier: Classifier) -> None:
    bulbul = read_image(IMAGES / 'bulbul.JPEG')
    for encoding in FRAME_ENCODINGS:
        result = bpu_classifier.classify(photo_frame(bulbul, encoding, 640, 480))
        assert result.predictions[0].class_id == 16, encoding  # bulbul, even in grey


@pytest.mark.board
def test_photo_frame_sizes_default_to_the_photo_cut_to_even(photo: np.ndarray) -> None:
    odd = photo[:101, :203]
    frame = photo_frame(odd, 'yuyv')
    assert (frame.width, frame.height, frame.step) == (202, 100, 404)
    assert Preprocessor(224, 224)(frame).size == 224 * 224 * 3 // 2
