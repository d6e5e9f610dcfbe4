"""Frames of any supported encoding to the model's NV12 input: crop, resize, convert.

Every frame is cropped and resized before any colour conversion: NV12 and YUV 4:2:2 frames plane
by plane (luma and chroma separately, never through BGR), packed RGB/BGR/mono frames in their own
layout with the small result converted to NV12 last.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from mobilenetv1_ros.core.compressed import DEFAULT_MAX_PIXELS, decode
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.opencv import cvt_color, extract_channel
from mobilenetv1_ros.core.frames import (
    CompressedFrame,
    encoding_spec,
    frame_rows,
    i420_to_nv12,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from mobilenetv1_ros.core.frames import Frame

__all__ = [
    'CENTER_CROP_FRACTION',
    'CROP_POLICIES',
    'INTERPOLATIONS',
    'Crop',
    'Preprocessor',
    'Rect',
    'crop_rect',
]

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
class Rect:
    """A region of an image: top-left corner and size in pixels."""

    x: int
    y: int
    width: int
    height: int


def crop_rect(width: int, height: int, out_w: int, out_h: int, policy: Crop) -> Rect:
    """Return the source region that is framed into the output."""
    if policy is Crop.CENTER_CROP:
        scale = min(width / out_w, height / out_h) * CENTER_CROP_FRACTION
        crop_w = min(width, max(1, round(out_w * scale)))
        crop_h = min(height, max(1, round(out_h * scale)))
    else:
        crop_w, crop_h = width, height
    return Rect((width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h)


def _chroma_span(luma: Rect) -> Rect:
    """Return the half-resolution chroma samples that cover a luma region."""
    x, y = luma.x // 2, luma.y // 2
    return Rect(x, y, (luma.x + luma.width + 1) // 2 - x, (luma.y + luma.height + 1) // 2 - y)


def _letterbox_rect(src_w: int, src_h: int, out_w: int, out_h: int) -> Rect:
    """Return where a letterboxed image of src size lands in the output (even-aligned)."""
    scale = min(out_w / src_w, out_h / src_h)
    new_w = max(2, min(out_w, round(src_w * scale)))
    new_h = max(2, min(out_h, round(src_h * scale)))
    new_w -= new_w % 2
    new_h -= new_h % 2
    x = (out_w - new_w) // 2
    y = (out_h - new_h) // 2
    return Rect(x - x % 2, y - y % 2, new_w, new_h)


class Preprocessor:
    """Turns frames into the exact NV12 buffer a backend takes.

    Args:
        width: Model input width (from the backend, even).
        height: Model input height (from the backend, even).
        crop: 'center_crop' (central region, 0.875 of the shorter side for a square model),
            'stretch' (whole frame resized, aspect ignored) or 'letterbox' (whole frame, aspect
            kept, padded with black).
        interpolation: 'linear' (default), 'area', 'nearest' or 'cubic'.
        max_pixels: Largest declared width x height of a compressed frame that is decoded.
    """

    def __init__(self, width: int, height: int, crop: str = 'center_crop',
                 interpolation: str = 'linear', *,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
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
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
            raise ConfigError(f'Compressed pixel cap {max_pixels!r} is not a positive integer')
        self.width = width
        self.height = height
        self.interpolation = interpolation
        self.max_pixels = max_pixels
        self._flag = INTERPOLATIONS[interpolation]

    @property
    def nv12_size(self) -> int:
        """Bytes of one model input."""
        return self.width * self.height * 3 // 2

    @property
    def min_decode_size(self) -> tuple[int, int]:
        """The smallest (width, height) a compressed frame may be decoded at for this framing.

        center_crop keeps CENTER_CROP_FRACTION of the shorter side, so the picture needs
        size / CENTER_CROP_FRACTION pixels for the crop to cover the model input.
        """
        if self.crop is Crop.CENTER_CROP:
            return (math.ceil(self.width / CENTER_CROP_FRACTION),
                    math.ceil(self.height / CENTER_CROP_FRACTION))
        return self.width, self.height

    def decode(self, frame: CompressedFrame) -> npt.NDArray[np.uint8]:
        """Decode a compressed frame to BGR, at the smallest DCT scale that keeps the framing.

        Raises:
            UnsupportedEncodingError: The format names neither JPEG nor PNG.
            ImageTooLargeError: The declared size is over max_pixels (nothing is decoded).
            ImageDecodeError: The bytes are damaged, truncated or not JPEG/PNG.
        """
        return decode(frame.data, frame.format, min_size=self.min_decode_size,
                      max_pixels=self.max_pixels).image

    def __call__(self, frame: Frame) -> npt.NDArray[np.uint8]:
        """Convert one frame; return a new contiguous uint8 array of exactly nv12_size bytes.

        Raises:
            UnsupportedEncodingError: Unknown encoding or compressed format.
            ImageTooLargeError: A compressed frame declares more than max_pixels.
            ImageDecodeError: Compressed bytes that do not decode.
            ImageError: Empty size, short step, wrong data length, odd NV12 sides.
        """
        if isinstance(frame, CompressedFrame):
            return self.from_bgr(self.decode(frame))
        spec = encoding_spec(frame.encoding)
        rows = frame_rows(frame, spec)
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
        rect = crop_rect(width, height, self.width, self.height, self.crop)
        luma_src = rows[rect.y:rect.y + rect.height, rect.x:rect.x + rect.width]
        chroma = _chroma_span(rect)
        uv_rows = rows[height + chroma.y:height + chroma.y + chroma.height]
        chroma_src = uv_rows[:, 2 * chroma.x:2 * (chroma.x + chroma.width)].reshape(
            chroma.height, chroma.width, 2)
        return self._assemble(luma_src, chroma_src)

    def _from_yuv422(self, rows: npt.NDArray[np.uint8], width: int, height: int,
                     luma_first: bool) -> npt.NDArray[np.uint8]:
        rect = crop_rect(width, height, self.width, self.height, self.crop)
        pairs = _chroma_span(rect)
        packed = rows[rect.y:rect.y + rect.height, 4 * pairs.x:4 * (pairs.x + pairs.width)]
        samples = packed.reshape(rect.height, 2 * pairs.width, 2)
        luma_channel, chroma_channel = (0, 1) if luma_first else (1, 0)
        first = rect.x - 2 * pairs.x
        luma_src = extract_channel(samples, luma_channel)[:, first:first + rect.width]
        chroma_422 = extract_channel(samples, chroma_channel).reshape(
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
        rect = crop_rect(width, height, self.width, self.height, self.crop)
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
            small = cvt_color(small, cv2.COLOR_GRAY2BGR)
            to_i420 = cv2.COLOR_BGR2YUV_I420
        return i420_to_nv12(cvt_color(small, to_i420), self.width, self.height)


