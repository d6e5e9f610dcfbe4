"""Synthetic camera frames for the tools and tests: a photo encoded as a camera would send it."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import cv2
import numpy as np

from mobilenetv1_ros.core.assets import photos_dir
from mobilenetv1_ros.core.errors import ConfigError, ImageDecodeError
from mobilenetv1_ros.core.frames import (
    CompressedFrame,
    RawFrame,
    bgr_to_nv12,
    bgr_to_yuv422,
    read_image,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from mobilenetv1_ros.core.frames import Frame

__all__ = ['CONVERSION_ENCODINGS', 'FRAME_ENCODINGS', 'default_image', 'make_frame',
           'photo_frame']

#: Encodings photo_frame makes: every raw encoding the core reads, plus compressed JPEG/PNG.
FRAME_ENCODINGS = ('nv12', 'bgr8', 'rgb8', 'bgra8', 'rgba8', 'mono8', '8uc1', 'yuyv',
                   'yuv422_yuy2', 'uyvy', 'yuv422', 'jpeg', 'png')
_ALIASES = {'8uc1': 'mono8', 'yuv422_yuy2': 'yuyv', 'yuv422': 'uyvy'}
#: Encodings the conversion benchmark covers by default ('jpeg' is a CompressedFrame).
CONVERSION_ENCODINGS = ('bgr8', 'rgb8', 'bgra8', 'mono8', 'nv12', 'yuyv', 'uyvy', 'jpeg')


def default_image() -> tuple[npt.NDArray[np.uint8], str]:
    """Return the photo frames are made from and its name.

    The bundled 1080p photo; where it is missing, a deterministic smooth pattern (conversion
    cost does not depend on content; accuracy is measured by evaluate).
    """
    path = photos_dir() / 'cat_1080p.jpg'
    if path.is_file():
        return read_image(path), str(path)
    rows, cols = np.mgrid[0:1080, 0:1920].astype(np.float32)
    pattern = np.stack([rows / 1080 * 255, cols / 1920 * 255,
                        127.5 + 127.5 * np.sin((rows + cols) / 40)], axis=-1)
    return pattern.astype(np.uint8), 'synthetic gradient 1920x1080'


def make_frame(image: npt.NDArray[np.uint8], encoding: str, width: int, height: int) -> Frame:
    """Resize a BGR photo to width x height and encode it the way a camera driver would.

    Raises:
        ConfigError: The encoding is not one of CONVERSION_ENCODINGS.
    """
    bgr = cast('npt.NDArray[np.uint8]',
               cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    if encoding == 'jpeg':
        ok, data = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ConfigError(f'JPEG encoding of a {width}x{height} frame failed')
        return CompressedFrame('jpeg', data.tobytes())
    if encoding == 'nv12':
        return RawFrame('nv12', width, height, width, bgr_to_nv12(bgr).tobytes())
    if encoding in ('yuyv', 'uyvy'):
        packed = bgr_to_yuv422(bgr, luma_first=encoding == 'yuyv')
        return RawFrame(encoding, width, height, width * 2, packed.tobytes())
    codes = {'bgr8': None, 'rgb8': cv2.COLOR_BGR2RGB, 'bgra8': cv2.COLOR_BGR2BGRA,
             'rgba8': cv2.COLOR_BGR2RGBA, 'mono8': cv2.COLOR_BGR2GRAY}
    if encoding not in codes:
        raise ConfigError(f'Encoding {encoding!r} is not one of: '
                          f'{", ".join(CONVERSION_ENCODINGS)}')
    code = codes[encoding]
    pixels = bgr if code is None else cv2.cvtColor(bgr, code)
    pixels = np.ascontiguousarray(pixels)
    step = pixels.strides[0]
    return RawFrame(encoding, width, height, step, pixels.tobytes())


def photo_frame(bgr: npt.NDArray[np.uint8], encoding: str, width: int | None = None,
                height: int | None = None) -> Frame:
    """Encode a BGR photo as a camera would send it, at its size (cut to even) or the given one.

    Args:
        bgr: (H, W, 3) uint8 image.
        encoding: One of FRAME_ENCODINGS.
        width: Frame width, default the photo's (made even).
        height: Frame height, default the photo's (made even).
    """
    width = width or bgr.shape[1] - bgr.shape[1] % 2
    height = height or bgr.shape[0] - bgr.shape[0] % 2
    if encoding == 'png':
        pixels = make_frame(bgr, 'bgr8', width, height).data
        image = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
        ok, data = cv2.imencode('.png', image)
        if not ok:
            raise ImageDecodeError(f'PNG encoding of a {width}x{height} frame failed')
        return CompressedFrame('png', data.tobytes())
    frame = make_frame(bgr, _ALIASES.get(encoding, encoding), width, height)
    if encoding in _ALIASES:
        assert isinstance(frame, RawFrame)  # every alias names a raw encoding
        frame = RawFrame(encoding, frame.width, frame.height, frame.step, frame.data)
    return frame


