"""Property-based tests: any frame gives a buffer of the exact size or a typed error."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import ENCODINGS, CompressedFrame, RawFrame
from mobilenetv1_ros.core.preprocess import CROP_POLICIES, INTERPOLATIONS, Preprocessor

#: Core code the node runs on the board (see the `board` marker in test/conftest.py).
pytestmark = pytest.mark.board

model_sides = st.integers(min_value=1, max_value=40).map(lambda n: 2 * n)


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[RawFrame, bool]:
    """A raw frame of any encoding and size; the flag says whether it is well formed."""
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    spec = ENCODINGS[encoding]
    width = draw(st.integers(min_value=0, max_value=70))
    height = draw(st.integers(min_value=0, max_value=70))
    row_bytes = width * spec.bytes_per_pixel
    step = row_bytes + draw(st.integers(min_value=-3, max_value=9))
    rows = height * 3 // 2 if spec.layout == 'nv12' else height
    expected = rows * max(step, 0)
    length = max(0, expected + draw(st.sampled_from([0, 0, 0, -1, 1, -step, step])))
    seed = draw(st.integers(min_value=0, max_value=2**16))
    data = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    well_formed = (width > 0 and height > 0 and step >= row_bytes and length == expected
                   and not (spec.layout == 'nv12' and (width % 2 or height % 2))
                   and not (spec.layout == 'yuv422' and width % 2))
    return RawFrame(encoding.upper() if draw(st.booleans()) else encoding,
                    width, height, step, data), well_formed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_frames(), model_sides, model_sides, st.sampled_from(CROP_POLICIES),
       st.sampled_from(sorted(INTERPOLATIONS)))
def test_raw_frames_give_exact_size_or_image_error(frame_and_validity, width, height, crop,
                                                  interpolation) -> None:
    frame, well_formed = frame_and_validity
    preprocessor = Preprocessor(width, height, crop, interpolation)
    try:
        result = preprocessor(frame)
    except ImageError as error:
        assert not well_formed, f'{frame.encoding} {frame.width}x{frame.height} ' \
                                f'step {frame.step}: {error}'
        return
    assert well_formed
    assert result.dtype == np.uint8
    assert result.shape == (width * height * 3 // 2,)
    assert result.flags['C_CONTIGUOUS']


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(['jpeg', 'png', '', 'bgr8; jpeg compressed']))
def test_garbage_compressed_bytes_give_image_error(data: bytes, fmt: str) -> None:
    try:
        result = Preprocessor(224, 224)(CompressedFrame(fmt, data))
    except ImageError:
        return
    assert result.shape == (75264,)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=60),
       st.sampled_from(['.png', '.jpg']), st.integers(min_value=0, max_value=2**16))
def test_any_encoded_image_converts(width: int, height: int, suffix: str, seed: int) -> None:
    import cv2

    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(suffix, image)
    assert ok
    truncated = encoded.tobytes()[:len(encoded) // 2]
    assert Preprocessor(64, 48)(CompressedFrame(suffix[1:], encoded.tobytes())).size == 4608
    try:
        Preprocessor(64, 48)(CompressedFrame(suffix[1:], truncated))
    except ImageError:
        pass
