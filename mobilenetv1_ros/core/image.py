"""Camera frames of any supported encoding to the model's NV12 input.

The model input is one NV12 image of the backend's size: the luma plane then interleaved UV at
half resolution, in the BT.601 limited ("video") range that OpenCV's BGR->I420 conversion
produces (Y 16..235, U/V 16..240, black is Y=16, U=V=128). That is the model zoo's
preprocessing for the board's NV12 model, and the ONNX models invert exactly this convention.

Every frame is cropped and resized before any colour conversion: NV12 and YUV 4:2:2 frames plane
by plane (luma and chroma separately, never through BGR), packed RGB/BGR/mono frames in their own
layout with the small result converted to NV12 last.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import cv2
import numpy as np

from mobilenetv1_ros.core.errors import (
    ConfigError,
    ImageDecodeError,
    ImageError,
    UnsupportedEncodingError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

__all__ = [
    'CROP_POLICIES',
    'ENCODINGS',
    'INTERPOLATIONS',
    'CompressedFrame',
    'Crop',
    'EncodingSpec',
    'Frame',
    'Preprocessor',
    'RawFrame',
    'bgr_to_nv12',
    'bgr_to_yuv422',
    'decode_compressed',
    'frame_to_bgr',
    'nv12_to_bgr',
]

Buffer = Union[bytes, bytearray, memoryview, 'npt.NDArray[np.uint8]']

CENTER_CROP_FRACTION = 0.875
"""Share of the shorter side kept by center_crop: resize-256 then crop-224, in one step."""

BLACK_Y = 16
NEUTRAL_UV = 128


class Crop(str, enum.Enum):
    """How the frame is framed into the model's input."""

    CENTER_CROP = 'center_crop'
    STRETCH = 'stretch'
    LETTERBOX = 'letterbox'


CROP_POLICIES = tuple(policy.value for policy in Crop)

INTERPOLATIONS: Mapping[str, int] = {
    'linear': cv2.INTER_LINEAR,
    'area': cv2.INTER_AREA,
    'nearest': cv2.INTER_NEAREST,
    'cubic': cv2.INTER_CUBIC,
}


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

COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')


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


def _spec(encoding: str) -> EncodingSpec:
    spec = ENCODINGS.get(encoding.lower())
    if spec is None:
        known = ', '.join(sorted(ENCODINGS))
        raise UnsupportedEncodingError(f'Encoding {encoding!r} is not supported (known: {known})')
    return spec


def _as_bytes(data: Buffer) -> npt.NDArray[np.uint8]:
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def _rows(frame: RawFrame, spec: EncodingSpec) -> npt.NDArray[np.uint8]:
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
    data = _as_bytes(frame.data)
    if data.size != rows * step:
        detail = f'{step} x {height} x 3/2' if spec.layout == 'nv12' else f'{step} x {height}'
        raise ImageError(
            f'Data length {data.size} does not match step x height = {detail} = {rows * step} '
            f'({frame.encoding} {width}x{height})')
    return data.reshape(rows, step)


@dataclass(frozen=True)
class _Rect:
    x: int
    y: int
    width: int
    height: int


def _crop_rect(width: int, height: int, out_w: int, out_h: int, policy: Crop) -> _Rect:
    """Return the source region that is framed into the output."""
    if policy is Crop.CENTER_CROP:
        scale = min(width / out_w, height / out_h) * CENTER_CROP_FRACTION
        crop_w = min(width, max(1, round(out_w * scale)))
        crop_h = min(height, max(1, round(out_h * scale)))
    else:
        crop_w, crop_h = width, height
    return _Rect((width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h)


def _chroma_span(luma: _Rect) -> _Rect:
    """Return the half-resolution chroma samples that cover a luma region."""
    x, y = luma.x // 2, luma.y // 2
    return _Rect(x, y, (luma.x + luma.width + 1) // 2 - x, (luma.y + luma.height + 1) // 2 - y)


def _letterbox_rect(src_w: int, src_h: int, out_w: int, out_h: int) -> _Rect:
    """Return where a letterboxed image of src size lands in the output (even-aligned)."""
    scale = min(out_w / src_w, out_h / src_h)
    new_w = max(2, min(out_w, round(src_w * scale)))
    new_h = max(2, min(out_h, round(src_h * scale)))
    new_w -= new_w % 2
    new_h -= new_h % 2
    x = (out_w - new_w) // 2
    y = (out_h - new_h) // 2
    return _Rect(x - x % 2, y - y % 2, new_w, new_h)


class Preprocessor:
    """Turns frames into the exact NV12 buffer a backend takes.

    Args:
        width: Model input width (from the backend, even).
        height: Model input height (from the backend, even).
        crop: 'center_crop' (central region, 0.875 of the shorter side for a square model),
            'stretch' (whole frame resized, aspect ignored) or 'letterbox' (whole frame, aspect
            kept, padded with black).
        interpolation: 'linear' (default), 'area', 'nearest' or 'cubic'.
    """

    def __init__(self, width: int, height: int, crop: str = 'center_crop',
                 interpolation: str = 'linear') -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ConfigError(f'Model input size {width}x{height} must be positive and even')
        try:
            self.crop = Crop(crop)
        except ValueError:
            raise ConfigError(
                f'Crop policy {crop!r} is not one of: {", ".join(CROP_POLICIES)}') from None
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f'Interpolation {interpolation!r} is not one of: '
                              f'{", ".join(INTERPOLATIONS)}')
        self.width = width
        self.height = height
        self.interpolation = interpolation
        self._flag = INTERPOLATIONS[interpolation]

    @property
    def nv12_size(self) -> int:
        """Bytes of one model input."""
        return self.width * self.height * 3 // 2

    def __call__(self, frame: Frame) -> npt.NDArray[np.uint8]:
        """Convert one frame; return a new contiguous uint8 array of exactly nv12_size bytes.

        Raises:
            UnsupportedEncodingError: Unknown encoding or compressed format.
            ImageDecodeError: Compressed bytes that do not decode.
            ImageError: Empty size, short step, wrong data length, odd NV12 sides.
        """
        if isinstance(frame, CompressedFrame):
            return self.from_bgr(decode_compressed(frame))
        spec = _spec(frame.encoding)
        rows = _rows(frame, spec)
        if spec.layout == 'nv12':
            return self._from_nv12(rows, frame.width, frame.height)
        if spec.layout == 'yuv422':
            return self._from_yuv422(rows, frame.width, frame.height, spec.luma_first)
        pixels = rows[:, :frame.width * spec.channels]
        image = pixels.reshape(frame.height, frame.width, spec.channels)
        return self._from_packed(image, spec.to_i420)

    def from_bgr(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Convert a BGR (H, W, 3) image, e.g. from cv2.imread."""
        return self._from_packed(image, cv2.COLOR_BGR2YUV_I420)

    def _resize_into(self, src: npt.NDArray[np.uint8], dst: npt.NDArray[np.uint8]) -> None:
        # OpenCV 4.5.4 (the board's) rejects 1x1 multi-channel arrays as src or dst
        # (opencv/opencv#21102), so those never reach cv2.resize. A single pixel resizes to
        # itself everywhere with every interpolation.
        if src.shape[:2] == dst.shape[:2] or src.shape[:2] == (1, 1):
            dst[...] = src
        elif dst.shape[:2] == (1, 1):
            dst[...] = cv2.resize(src, (1, 1), interpolation=self._flag).reshape(dst.shape)
        else:
            cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=self._flag)

    def _planes(self) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8],
                               npt.NDArray[np.uint8]]:
        out = np.empty(self.nv12_size, dtype=np.uint8)
        luma = out[:self.width * self.height].reshape(self.height, self.width)
        chroma = out[self.width * self.height:].reshape(self.height // 2, self.width // 2, 2)
        return out, luma, chroma

    def _targets(self, out_luma: npt.NDArray[np.uint8], out_chroma: npt.NDArray[np.uint8],
                 src_w: int, src_h: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Return the luma and chroma regions the resized image fills (all unless letterbox)."""
        if self.crop is not Crop.LETTERBOX:
            return out_luma, out_chroma
        box = _letterbox_rect(src_w, src_h, self.width, self.height)
        out_luma.fill(BLACK_Y)
        out_chroma.fill(NEUTRAL_UV)
        luma = out_luma[box.y:box.y + box.height, box.x:box.x + box.width]
        chroma = out_chroma[box.y // 2:(box.y + box.height) // 2,
                            box.x // 2:(box.x + box.width) // 2]
        return luma, chroma

    def _from_nv12(self, rows: npt.NDArray[np.uint8], width: int,
                   height: int) -> npt.NDArray[np.uint8]:
        rect = _crop_rect(width, height, self.width, self.height, self.crop)
        luma_src = rows[rect.y:rect.y + rect.height, rect.x:rect.x + rect.width]
        chroma = _chroma_span(rect)
        uv_rows = rows[height + chroma.y:height + chroma.y + chroma.height]
        chroma_src = uv_rows[:, 2 * chroma.x:2 * (chroma.x + chroma.width)].reshape(
            chroma.height, chroma.width, 2)
        return self._assemble(luma_src, chroma_src)

    def _from_yuv422(self, rows: npt.NDArray[np.uint8], width: int, height: int,
                     luma_first: bool) -> npt.NDArray[np.uint8]:
        rect = _crop_rect(width, height, self.width, self.height, self.crop)
        pairs = _chroma_span(rect)
        packed = rows[rect.y:rect.y + rect.height, 4 * pairs.x:4 * (pairs.x + pairs.width)]
        samples = packed.reshape(rect.height, 2 * pairs.width, 2)
        luma_channel, chroma_channel = (0, 1) if luma_first else (1, 0)
        first = rect.x - 2 * pairs.x
        luma_src = cv2.extractChannel(samples, luma_channel)[:, first:first + rect.width]
        chroma_422 = cv2.extractChannel(samples, chroma_channel).reshape(
            rect.height, pairs.width, 2)
        return self._assemble(luma_src, chroma_422)

    def _assemble(self, luma_src: npt.NDArray[np.uint8],
                  chroma_src: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Resize a luma region and its chroma region into a new model-sized NV12 buffer."""
        out, out_luma, out_chroma = self._planes()
        luma, chroma = self._targets(out_luma, out_chroma, luma_src.shape[1], luma_src.shape[0])
        self._resize_into(luma_src, luma)
        self._resize_into(chroma_src, chroma)
        return out

    def _from_packed(self, image: npt.NDArray[np.uint8],
                     to_i420: int | None) -> npt.NDArray[np.uint8]:
        height, width = image.shape[:2]
        rect = _crop_rect(width, height, self.width, self.height, self.crop)
        region = image[rect.y:rect.y + rect.height, rect.x:rect.x + rect.width]
        if self.crop is Crop.LETTERBOX:
            box = _letterbox_rect(rect.width, rect.height, self.width, self.height)
            canvas = np.zeros((self.height, self.width, *image.shape[2:]), dtype=np.uint8)
            self._resize_into(region, canvas[box.y:box.y + box.height, box.x:box.x + box.width])
            small = canvas
        else:
            small = np.empty((self.height, self.width, *image.shape[2:]), dtype=np.uint8)
            self._resize_into(region, small)
        if to_i420 is None:
            small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
            to_i420 = cv2.COLOR_BGR2YUV_I420
        return _i420_to_nv12(cv2.cvtColor(small, to_i420), self.width, self.height)


def _i420_to_nv12(i420: npt.NDArray[np.uint8], width: int,
                  height: int) -> npt.NDArray[np.uint8]:
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
    return _i420_to_nv12(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), width, height)


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
    return cv2.cvtColor(nv12.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_NV12)


def decode_compressed(frame: CompressedFrame) -> npt.NDArray[np.uint8]:
    """Decode JPEG or PNG bytes to a BGR image.

    Raises:
        UnsupportedEncodingError: The format names neither JPEG nor PNG.
        ImageDecodeError: The bytes do not decode.
    """
    fmt = frame.format.lower()
    if fmt and not any(name in fmt for name in COMPRESSED_FORMATS):
        raise UnsupportedEncodingError(
            f'Compressed format {frame.format!r} is not supported (jpeg or png)')
    data = _as_bytes(frame.data)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageDecodeError(
            f'Compressed image ({frame.format or "no format"}, {data.size} bytes) could not '
            'be decoded')
    return image


def frame_to_bgr(frame: Frame) -> npt.NDArray[np.uint8]:
    """Return the whole frame as a BGR image (for overlays and saved pictures)."""
    if isinstance(frame, CompressedFrame):
        return decode_compressed(frame)
    spec = _spec(frame.encoding)
    rows = _rows(frame, spec)
    width, height = frame.width, frame.height
    if spec.layout == 'nv12':
        packed = np.ascontiguousarray(rows[:, :width])
        return cv2.cvtColor(packed, cv2.COLOR_YUV2BGR_NV12)
    if spec.layout == 'yuv422':
        packed = np.ascontiguousarray(rows[:, :2 * width]).reshape(height, width, 2)
        code = cv2.COLOR_YUV2BGR_YUYV if spec.luma_first else cv2.COLOR_YUV2BGR_UYVY
        return cv2.cvtColor(packed, code)
    image = rows[:, :width * spec.channels].reshape(height, width, spec.channels)
    conversions = {
        'rgb8': cv2.COLOR_RGB2BGR, 'bgra8': cv2.COLOR_BGRA2BGR, 'rgba8': cv2.COLOR_RGBA2BGR,
        'mono8': cv2.COLOR_GRAY2BGR, '8uc1': cv2.COLOR_GRAY2BGR,
    }
    code = conversions.get(frame.encoding.lower())
    if code is None:
        return np.ascontiguousarray(image)
    if (width, height) == (1, 1):
        # OpenCV 4.5.4 rejects a 1x1 multi-channel array (opencv/opencv#21102): convert 1x2.
        return cv2.cvtColor(np.repeat(image, 2, axis=1), code)[:, :1].copy()
    return cv2.cvtColor(image, code)
