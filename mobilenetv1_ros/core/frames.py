"""Camera frames as the core sees them: raw and compressed frames, encodings, image files.

Also the conversions between NV12 and BGR at a frame's own size.

NV12 here is the BT.601 limited ("video") range that OpenCV's BGR->I420 conversion produces
(Y 16..235, U/V 16..240, black is Y=16, U=V=128): the model zoo's preprocessing for the
board's NV12 model, which the ONNX models invert exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union, cast

import cv2
import numpy as np

from mobilenetv1_ros.core.compressed import COMPRESSED_FORMATS, DEFAULT_MAX_PIXELS, Buffer, decode
from mobilenetv1_ros.core.errors import ImageDecodeError, ImageError, UnsupportedEncodingError
from mobilenetv1_ros.core.opencv import cvt_color

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import numpy.typing as npt

__all__ = [
    'COMPRESSED_FORMATS',
    'ENCODINGS',
    'Buffer',
    'CompressedFrame',
    'EncodingSpec',
    'Frame',
    'RawFrame',
    'as_bytes',
    'bgr_frame',
    'bgr_to_nv12',
    'bgr_to_yuv422',
    'decode_compressed',
    'encoding_spec',
    'frame_rows',
    'frame_to_bgr',
    'i420_to_nv12',
    'nv12_to_bgr',
    'read_image',
]



@dataclass(frozen=True)
class EncodingSpec:
    """How one raw encoding lays out its pixels.

    Attributes:
        layout: 'packed' (interleaved channels), 'nv12' (Y plane + UV plane) or 'yuv422'.
        bytes_per_pixel: Bytes of one pixel in a row (luma row for nv12).
        to_i420: OpenCV conversion code to I420 for packed colour layouts, None otherwise.
        luma_first: For yuv422, whether a macro-pixel starts with luma (YUYV) or chroma (UYVY).
    """

    layout: str
    bytes_per_pixel: int
    to_i420: int | None = None
    luma_first: bool = True

    @property
    def channels(self) -> int:
        """Channels of a packed pixel."""
        return self.bytes_per_pixel


ENCODINGS: Mapping[str, EncodingSpec] = {
    'nv12': EncodingSpec('nv12', 1),
    'bgr8': EncodingSpec('packed', 3, cv2.COLOR_BGR2YUV_I420),
    'rgb8': EncodingSpec('packed', 3, cv2.COLOR_RGB2YUV_I420),
    'bgra8': EncodingSpec('packed', 4, cv2.COLOR_BGRA2YUV_I420),
    'rgba8': EncodingSpec('packed', 4, cv2.COLOR_RGBA2YUV_I420),
    'mono8': EncodingSpec('packed', 1, None),
    '8uc1': EncodingSpec('packed', 1, None),
    'yuv422_yuy2': EncodingSpec('yuv422', 2, luma_first=True),
    'yuyv': EncodingSpec('yuv422', 2, luma_first=True),
    'uyvy': EncodingSpec('yuv422', 2, luma_first=False),
    'yuv422': EncodingSpec('yuv422', 2, luma_first=False),
}



@dataclass(frozen=True)
class RawFrame:
    """An uncompressed image as a sensor_msgs/Image carries it.

    Attributes:
        encoding: One of ENCODINGS (case-insensitive).
        width: Pixels per row.
        height: Rows (luma rows for nv12).
        step: Bytes per row (luma row for nv12), at least width * bytes per pixel.
        data: The pixel bytes: exactly step * height (nv12: step * height * 3 / 2).
    """

    encoding: str
    width: int
    height: int
    step: int
    data: Buffer


@dataclass(frozen=True)
class CompressedFrame:
    """A compressed image as a sensor_msgs/CompressedImage carries it.

    Attributes:
        format: The message's format string, e.g. 'jpeg', 'png' or 'bgr8; jpeg compressed bgr8'.
        data: The encoded bytes.
    """

    format: str
    data: Buffer


Frame = Union[RawFrame, CompressedFrame]


def encoding_spec(encoding: str) -> EncodingSpec:
    """Return the table row of an encoding (case-insensitive), or raise naming it."""
    spec = ENCODINGS.get(encoding.lower())
    if spec is None:
        known = ', '.join(sorted(ENCODINGS))
        raise UnsupportedEncodingError(f'Encoding {encoding!r} is not supported (known: {known})')
    return spec


def as_bytes(data: Buffer) -> npt.NDArray[np.uint8]:
    """Return a frame's bytes as a flat uint8 array, without copying."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def frame_rows(frame: RawFrame, spec: EncodingSpec) -> npt.NDArray[np.uint8]:
    """Validate a raw frame and return its bytes as a (rows, step) array, without copying."""
    width, height, step = frame.width, frame.height, frame.step
    if width <= 0 or height <= 0:
        raise ImageError(f'Image size {width}x{height} is empty ({frame.encoding})')
    row_bytes = width * spec.bytes_per_pixel
    if step < row_bytes:
        raise ImageError(
            f'Row step {step} is smaller than width {width} x {spec.bytes_per_pixel} bytes per '
            f'pixel = {row_bytes} ({frame.encoding})')
    if spec.layout == 'nv12' and (width % 2 or height % 2):
        raise ImageError(f'NV12 image size {width}x{height} is odd; NV12 needs even sides')
    if spec.layout == 'yuv422' and width % 2:
        raise ImageError(f'YUV 4:2:2 image width {width} is odd; {frame.encoding} needs even')
    rows = height * 3 // 2 if spec.layout == 'nv12' else height
    data = as_bytes(frame.data)
    if data.size != rows * step:
        detail = f'{step} x {height} x 3/2' if spec.layout == 'nv12' else f'{step} x {height}'
        raise ImageError(
            f'Data length {data.size} does not match step x height = {detail} = {rows * step} '
            f'({frame.encoding} {width}x{height})')
    return data.reshape(rows, step)



def i420_to_nv12(i420: npt.NDArray[np.uint8], width: int,
                  height: int) -> npt.NDArray[np.uint8]:
    """Interleave an I420 buffer's U and V planes into NV12 (a new array)."""
    planar = i420.reshape(-1)
    luma_size = width * height
    quarter = luma_size // 4
    out = np.empty(luma_size * 3 // 2, dtype=np.uint8)
    out[:luma_size] = planar[:luma_size]
    chroma = out[luma_size:].reshape(quarter, 2)
    chroma[:, 0] = planar[luma_size:luma_size + quarter]
    chroma[:, 1] = planar[luma_size + quarter:]
    return out


def bgr_to_nv12(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Convert a BGR image with even sides to NV12 at its own size (no crop, no resize)."""
    height, width = image.shape[:2]
    if width % 2 or height % 2:
        raise ImageError(f'Image size {width}x{height} is odd; NV12 needs even sides')
    return i420_to_nv12(cvt_color(image, cv2.COLOR_BGR2YUV_I420), width, height)


#: BT.601 limited-range coefficients of OpenCV's RGB->YUV 4:2:2 conversion (OpenCV >= 4.7,
#: imgproc color_yuv.simd.hpp, RGB8toYUV422Invoker), 14-bit fixed point, in B, G, R order.
#: Chroma is taken from the sum of the two pixels of a macro-pixel, so its weights are halved.
_YUV422_SHIFT = 14
_YUV422_LUMA = np.array([1606, 8258, 4211], dtype=np.int32)
_YUV422_CHROMA = np.array([[3596, -582], [-2384, -3015], [-1212, 3596]], dtype=np.int32)


def bgr_to_yuv422(image: npt.NDArray[np.uint8], luma_first: bool = True) -> npt.NDArray[np.uint8]:
    """Pack a BGR image with an even width as YUYV (luma_first) or UYVY, (H, W * 2) uint8.

    Byte for byte what cv2.COLOR_BGR2YUV_YUY2 / COLOR_BGR2YUV_UYVY give on OpenCV >= 4.7, in
    numpy, because the board's OpenCV 4.5.4 has no BGR -> YUV 4:2:2 conversion. Every result
    is within Y 16..235 and U/V 16..240, so nothing needs clipping.

    Raises:
        ImageError: The width is odd.
    """
    height, width = image.shape[:2]
    if width % 2:
        raise ImageError(f'Image width {width} is odd; YUV 4:2:2 needs an even width')
    half = 1 << (_YUV422_SHIFT - 1)
    luma = (image.astype(np.int32) @ _YUV422_LUMA + ((16 << _YUV422_SHIFT) + half)
            ) >> _YUV422_SHIFT
    pairs = image[:, 0::2].astype(np.int32) + image[:, 1::2]
    chroma = (pairs @ _YUV422_CHROMA + ((128 << _YUV422_SHIFT) + half)) >> _YUV422_SHIFT
    packed = np.empty((height, width // 2, 4), dtype=np.uint8)
    luma_at, chroma_at = (0, 1) if luma_first else (1, 0)
    packed[..., luma_at::2] = luma.reshape(height, width // 2, 2)
    packed[..., chroma_at::2] = chroma
    return packed.reshape(height, width * 2)


def nv12_to_bgr(nv12: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """Convert a packed NV12 buffer of the given size to a BGR image."""
    expected = width * height * 3 // 2
    if nv12.size != expected:
        raise ImageError(f'NV12 buffer of {nv12.size} bytes is not {width}x{height} '
                         f'({expected} bytes)')
    return cvt_color(nv12.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_NV12)


def decode_compressed(frame: CompressedFrame, *,
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Decode a JPEG or PNG frame to a full-size BGR image (strictly, after the size check).

    Raises:
        UnsupportedEncodingError: The format names neither JPEG nor PNG.
        ImageTooLargeError: The declared size is over max_pixels (nothing is decoded).
        ImageDecodeError: The bytes are damaged, truncated or not JPEG/PNG.
    """
    return decode(frame.data, frame.format, max_pixels=max_pixels).image


def frame_to_bgr(frame: Frame, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Return the whole frame as a BGR image (for overlays and saved pictures)."""
    if isinstance(frame, CompressedFrame):
        return decode_compressed(frame, max_pixels=max_pixels)
    spec = encoding_spec(frame.encoding)
    rows = frame_rows(frame, spec)
    width, height = frame.width, frame.height
    if spec.layout == 'nv12':
        packed = np.ascontiguousarray(rows[:, :width])
        return cvt_color(packed, cv2.COLOR_YUV2BGR_NV12)
    if spec.layout == 'yuv422':
        packed = np.ascontiguousarray(rows[:, :2 * width]).reshape(height, width, 2)
        return cvt_color(packed, cv2.COLOR_YUV2BGR_YUYV if spec.luma_first
                         else cv2.COLOR_YUV2BGR_UYVY)
    image = rows[:, :width * spec.channels].reshape(height, width, spec.channels)
    conversions: dict[str, int] = {
        'rgb8': cv2.COLOR_RGB2BGR, 'bgra8': cv2.COLOR_BGRA2BGR, 'rgba8': cv2.COLOR_RGBA2BGR,
        'mono8': cv2.COLOR_GRAY2BGR, '8uc1': cv2.COLOR_GRAY2BGR,
    }
    conversion = conversions.get(frame.encoding.lower())
    if conversion is None:
        bgr: npt.NDArray[np.uint8] = np.ascontiguousarray(image)
        return bgr
    if (width, height) == (1, 1):
        # OpenCV 4.5.4 rejects a 1x1 multi-channel array (opencv/opencv#21102): convert 1x2.
        pair = cvt_color(np.repeat(image, 2, axis=1), conversion)
        first: npt.NDArray[np.uint8] = pair[:, :1].copy()
        return first
    return cvt_color(image, conversion)


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Read an image file as BGR, or raise ImageDecodeError naming the file."""
    if not path.is_file():
        raise ImageDecodeError(f'Image file {path} does not exist')
    image = cast('npt.NDArray[np.uint8] | None', cv2.imread(str(path), cv2.IMREAD_COLOR))
    if image is None:
        raise ImageDecodeError(f'Image file {path} could not be decoded')
    return image


def bgr_frame(image: npt.NDArray[np.uint8]) -> RawFrame:
    """Wrap a BGR array as a bgr8 frame without copying."""
    height, width = image.shape[:2]
    return RawFrame('bgr8', width, height, width * 3, image)
