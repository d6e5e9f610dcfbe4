"""Frame to NV12 conversion: every encoding, stride and crop policy, on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR

from mobilenetv1_ros.core.errors import (
    ConfigError,
    ImageDecodeError,
    ImageError,
    UnsupportedEncodingError,
)
from mobilenetv1_ros.core.frames import (
    ENCODINGS,
    CompressedFrame,
    RawFrame,
    bgr_to_nv12,
    bgr_to_yuv422,
    frame_to_bgr,
    nv12_to_bgr,
)
from mobilenetv1_ros.core.preprocess import Preprocessor

#: Core code the node runs on the board (see the `board` marker in test/conftest.py).
pytestmark = pytest.mark.board


@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    """A real 1280x720 photo, BGR."""
    image = cv2.imread(str(IMAGES_DIR / 'cat_720p.jpg'))
    assert image is not None
    return image


def encode(image: np.ndarray, encoding: str, pad: int = 0) -> RawFrame:
    """Build a raw frame of `encoding` from a BGR image, with `pad` extra bytes per row."""
    height, width = image.shape[:2]
    if encoding == 'nv12':
        planes = bgr_to_nv12(image).reshape(height * 3 // 2, width)
    elif encoding in ('yuyv', 'yuv422_yuy2', 'uyvy', 'yuv422'):
        planes = bgr_to_yuv422(image, luma_first=encoding in ('yuyv', 'yuv422_yuy2'))
    else:
        codes = {'bgr8': None, 'rgb8': cv2.COLOR_BGR2RGB, 'bgra8': cv2.COLOR_BGR2BGRA,
                 'rgba8': cv2.COLOR_BGR2RGBA, 'mono8': cv2.COLOR_BGR2GRAY,
                 '8uc1': cv2.COLOR_BGR2GRAY}
        code = codes[encoding]
        converted = image if code is None else cv2.cvtColor(image, code)
        planes = converted.reshape(height, -1)
    rows = np.zeros((planes.shape[0], planes.shape[1] + pad), dtype=np.uint8)
    rows[:, :planes.shape[1]] = planes
    rows[:, planes.shape[1]:] = 77
    return RawFrame(encoding, width, height, rows.shape[1], rows.tobytes())


def luma(nv12: np.ndarray, size: int = 224) -> np.ndarray:
    """The Y plane of a model-sized NV12 buffer, as int."""
    return nv12[:size * size].astype(int)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('crop', ['center_crop', 'stretch', 'letterbox'])
def test_every_encoding_matches_the_bgr_path(photo: np.ndarray, encoding: str,
                                             crop: str) -> None:
    preprocessor = Preprocessor(224, 224, crop)
    reference = preprocessor(encode(photo, 'bgr8'))
    result = preprocessor(encode(photo, encoding))
    assert result.shape == (224 * 224 * 3 // 2,) and result.dtype == np.uint8
    assert result.flags['C_CONTIGUOUS']
    assert np.abs(luma(result) - luma(reference)).mean() < 3.0
    if encoding not in ('mono8', '8uc1'):
        chroma_error = np.abs(result[224 * 224:].astype(int) - reference[224 * 224:]).mean()
        assert chroma_error < 3.0
    else:
        assert np.all(result[224 * 224:] == 128)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_row_padding_does_not_change_the_result(photo: np.ndarray, encoding: str) -> None:
    preprocessor = Preprocessor(224, 224)
    tight = preprocessor(encode(photo, encoding))
    padded = preprocessor(encode(photo, encoding, pad=64))
    np.testing.assert_array_equal(tight, padded)


def test_bgr_center_crop_is_the_reference_preprocessing(photo: np.ndarray) -> None:
    height, width = photo.shape[:2]
    side = round(0.875 * min(height, width))
    y, x = (height - side) // 2, (width - side) // 2
    small = cv2.resize(photo[y:y + side, x:x + side], (224, 224), interpolation=cv2.INTER_LINEAR)
    i420 = cv2.cvtColor(small, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    expected = np.concatenate([i420[:224 * 224], np.stack(
        [i420[224 * 224:224 * 224 + 112 * 112], i420[224 * 224 + 112 * 112:]], axis=1).ravel()])
    np.testing.assert_array_equal(Preprocessor(224, 224)(encode(photo, 'bgr8')), expected)


def test_stretch_keeps_the_whole_frame_and_letterbox_pads_black(photo: np.ndarray) -> None:
    frame = encode(photo, 'nv12')
    stretched = Preprocessor(224, 224, 'stretch')(frame)
    boxed = Preprocessor(224, 224, 'letterbox')(frame)
    expected_rows = round(720 * 224 / 1280)
    pad = (224 - expected_rows) // 2
    y_plane = boxed[:224 * 224].reshape(224, 224)
    assert np.all(y_plane[:pad - 1] == 16) and np.all(y_plane[-(pad - 1):] == 16)
    assert np.all(boxed[224 * 224:].reshape(112, 224)[:pad // 2 - 1] == 128)
    assert y_plane[112].std() > 5
    assert not np.array_equal(stretched, boxed)
    back = nv12_to_bgr(stretched, 224, 224)
    expected = cv2.resize(photo, (224, 224), interpolation=cv2.INTER_LINEAR)
    assert np.abs(back.astype(int) - expected).mean() < 6


def test_model_size_comes_from_the_caller_not_a_constant(photo: np.ndarray) -> None:
    for width, height in [(160, 128), (320, 320), (96, 224)]:
        result = Preprocessor(width, height)(encode(photo, 'nv12'))
        assert result.size == width * height * 3 // 2


def test_frames_smaller_than_the_model_are_upscaled() -> None:
    tiny = cv2.resize(cv2.imread(str(IMAGES_DIR / 'parrot.jpg')), (40, 30))
    for encoding in ('bgr8', 'nv12', 'yuyv'):
        assert Preprocessor(224, 224)(encode(tiny, encoding)).size == 75264


def test_odd_sized_packed_frames_convert() -> None:
    odd = cv2.resize(cv2.imread(str(IMAGES_DIR / 'parrot.jpg')), (333, 251))
    for encoding in ('bgr8', 'rgb8', 'mono8', 'rgba8'):
        for crop in ('center_crop', 'stretch', 'letterbox'):
            assert Preprocessor(224, 224, crop)(encode(odd, encoding)).size == 75264


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('crop', ['center_crop', 'stretch', 'letterbox'])
def test_one_pixel_regions_convert_like_a_uniform_frame(encoding: str, crop: str) -> None:
    """A frame (or chroma plane) of one pixel works and equals a larger frame of its colour.

    OpenCV 4.5.4, the board's, refuses 1x1 multi-channel arrays in resize and cvtColor.
    """
    spec = ENCODINGS[encoding]
    width = 1 if spec.layout == 'packed' else 2
    height = 2 if spec.layout == 'nv12' else 1
    pixel = np.array([[[40, 200, 90]]], dtype=np.uint8)
    uniform = encode(np.repeat(np.repeat(pixel, 4 * height, 0), 4 * width, 1), encoding)
    # The smallest frame of the encoding, cut from the uniform one (rows of each plane).
    rows = np.frombuffer(uniform.data, np.uint8).reshape(-1, uniform.step)
    row_bytes = width * spec.bytes_per_pixel
    planes = [rows[:height, :row_bytes]]
    if spec.layout == 'nv12':
        planes.append(rows[uniform.height:uniform.height + height // 2, :row_bytes])
    small = RawFrame(encoding, width, height, row_bytes, np.concatenate(planes).tobytes())
    for model in ((224, 224), (2, 2)):
        preprocessor = Preprocessor(*model, crop=crop)
        np.testing.assert_array_equal(preprocessor(small), preprocessor(uniform))
    assert np.array_equal(frame_to_bgr(small)[0, 0], frame_to_bgr(uniform)[0, 0])


def test_a_one_pixel_model_chroma_is_the_resized_chroma(photo: np.ndarray) -> None:
    """A 2x2 model has a 1x1x2 chroma plane: resized like each channel on its own."""
    frame = encode(photo, 'nv12')
    nv12 = Preprocessor(2, 2, crop='stretch')(frame)
    height, width = photo.shape[:2]
    planes = np.frombuffer(frame.data, np.uint8).reshape(height * 3 // 2, width)
    chroma = planes[height:].reshape(height // 2, width // 2, 2)
    expected = [cv2.resize(np.ascontiguousarray(chroma[..., c]), (1, 1))[0, 0] for c in (0, 1)]
    assert list(nv12[4:]) == expected


@pytest.mark.parametrize('name', ['bulbul.JPEG', 'parrot.jpg', 'cat.bmp'])
def test_compressed_frames_decode_like_the_file(name: str) -> None:
    data = (IMAGES_DIR / name).read_bytes()
    fmt = 'bmp' if name.endswith('.bmp') else 'jpeg'
    if fmt == 'bmp':
        ok, png = cv2.imencode('.png', cv2.imread(str(IMAGES_DIR / name)))
        assert ok
        data, fmt = png.tobytes(), 'png'
    image = cv2.imread(str(IMAGES_DIR / name))
    preprocessor = Preprocessor(224, 224)
    # Same picture; a JPEG decoder other than OpenCV's (libjpeg-turbo through simplejpeg, see
    # core/compressed.py) may round the inverse DCT differently by a level or two.
    difference = (preprocessor(CompressedFrame(fmt, data)).astype(int)
                  - preprocessor.from_bgr(image))
    assert np.abs(difference).max() <= 3 and np.abs(difference).mean() < 0.5
    assert CompressedFrame('bgr8; jpeg compressed bgr8', data).format


def test_frame_to_bgr_round_trips(photo: np.ndarray) -> None:
    for encoding in sorted(ENCODINGS):
        bgr = frame_to_bgr(encode(photo, encoding, pad=8))
        assert bgr.shape == photo.shape
        error = np.abs(bgr.astype(int) - photo).mean()
        assert error < (40 if encoding in ('mono8', '8uc1') else 6), encoding


BAD_FRAMES = [
    (RawFrame('bayer_rggb8', 4, 4, 4, bytes(16)), UnsupportedEncodingError, "'bayer_rggb8'"),
    (RawFrame('bgr8', 4, 4, 12, bytes(47)), ImageError, 'Data length 47'),
    (RawFrame('bgr8', 4, 4, 12, bytes(49)), ImageError, 'Data length 49'),
    (RawFrame('bgr8', 4, 4, 11, bytes(44)), ImageError, 'Row step 11'),
    (RawFrame('bgr8', 0, 4, 12, b''), ImageError, 'size 0x4'),
    (RawFrame('mono8', 5, 0, 5, b''), ImageError, 'size 5x0'),
    (RawFrame('nv12', 5, 4, 5, bytes(30)), ImageError, 'NV12 image size 5x4 is odd'),
    (RawFrame('nv12', 4, 3, 4, bytes(18)), ImageError, 'NV12 image size 4x3 is odd'),
    (RawFrame('nv12', 4, 4, 4, bytes(16)), ImageError, r'Data length 16 .* 3/2 = 24'),
    (RawFrame('yuyv', 3, 2, 6, bytes(12)), ImageError, 'width 3 is odd'),
    (CompressedFrame('jpeg', b'\xff\xd8\xff\xe0 not really a jpeg'), ImageDecodeError,
     r'0xffe0 at offset 2 declares 8302 bytes, 18 remain'),
    (CompressedFrame('jpeg', b''), ImageDecodeError, r'empty \(0 bytes\)'),
    (CompressedFrame('theora', b'abc'), UnsupportedEncodingError, "'theora'"),
]


@pytest.mark.parametrize(('frame', 'error', 'match'), BAD_FRAMES)
def test_bad_frames_raise_typed_errors_naming_the_value(frame, error, match) -> None:
    with pytest.raises(error, match=match):
        Preprocessor(224, 224)(frame)


def test_truncated_jpeg_is_rejected() -> None:
    data = (IMAGES_DIR / 'bulbul.JPEG').read_bytes()
    with pytest.raises(ImageDecodeError):
        Preprocessor(224, 224)(CompressedFrame('jpeg', data[:200]))


@pytest.mark.parametrize(('args', 'match'), [
    ((223, 224), 'Model input size 223x224'),
    ((0, 224), 'Model input size 0x224'),
    ((224, 224, 'zoom'), "Crop policy 'zoom'"),
    ((224, 224, 'center_crop', 'lanczos9'), "Interpolation 'lanczos9'"),
])
def test_bad_settings_raise_config_errors(args, match) -> None:
    with pytest.raises(ConfigError, match=match):
        Preprocessor(*args)
