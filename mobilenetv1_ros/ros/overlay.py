"""The overlay topic: the classified frame with its top-k drawn, only while someone watches.

An overlay is never larger than MAX_OVERLAY_SIDE on its longest side and never decodes a frame:
a compressed frame is drawn from the picture the pipeline already decoded, and a large raw frame
is subsampled in its own layout before any colour conversion, so an oversized frame costs a
picture of at most MAX_OVERLAY_SIDE squared, not one of its own size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mobilenetv1_ros.core.frames import (
    CompressedFrame,
    RawFrame,
    encoding_spec,
    frame_rows,
    frame_to_bgr,
)
from mobilenetv1_ros.core.overlay import draw_predictions
from mobilenetv1_ros.ros.convert import image_msg

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from rclpy.lifecycle import LifecyclePublisher
    from std_msgs.msg import Header

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = ['MAX_OVERLAY_SIDE', 'OverlayPublisher', 'overlay_picture', 'subsample_raw']

MAX_OVERLAY_SIDE = 1920
"""Longest side of a published overlay (a 1080p frame keeps its size)."""


def _even(samples: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Drop the last sample of an odd count; keep the first two of a side too thin for one."""
    if samples.size < 2:
        return np.arange(2)  # the side is even (checked by frame_rows), so 0 and 1 exist
    return samples[:samples.size - samples.size % 2]


def subsample_raw(frame: RawFrame, factor: int) -> RawFrame:
    """Return every `factor`-th pixel of every `factor`-th row, in the frame's own encoding.

    Only the kept samples are read, so the cost is that of the small frame. NV12 keeps the
    chroma sample of each kept 2x2 block and YUV 4:2:2 that of each kept pixel pair; the sides
    of those layouts are trimmed to even.

    Raises:
        UnsupportedEncodingError, ImageError: As frame_rows does for a malformed frame.
    """
    spec = encoding_spec(frame.encoding)
    rows = frame_rows(frame, spec)
    if factor <= 1:
        return frame
    ys = np.arange(0, frame.height, factor)
    xs = np.arange(0, frame.width, factor)
    if spec.layout == 'packed':
        channels = spec.channels
        columns = (xs[:, None] * channels + np.arange(channels)).ravel()
        data = np.ascontiguousarray(rows[ys[:, None], columns[None, :]])
        return RawFrame(frame.encoding, xs.size, ys.size, xs.size * channels, data)
    # Both YUV layouts share chroma between pixel pairs: keep an even number of samples.
    ys = _even(ys) if spec.layout == 'nv12' else ys
    xs = _even(xs)
    width, height = xs.size, ys.size
    if spec.layout == 'nv12':
        out = np.empty((height * 3 // 2, width), dtype=np.uint8)
        out[:height] = rows[ys[:, None], xs[None, :]]
        chroma_rows = frame.height + ys[::2] // 2
        chroma_columns = (2 * (xs[::2] // 2))[:, None] + np.arange(2)
        out[height:] = rows[chroma_rows[:, None], chroma_columns.ravel()[None, :]]
        return RawFrame(frame.encoding, width, height, width, out)
    luma, chroma = (0, 1) if spec.luma_first else (1, 0)
    out = np.empty((height, 2 * width), dtype=np.uint8)
    out[:, luma::2] = rows[ys[:, None], (2 * xs + luma)[None, :]]
    pairs = 4 * (xs[::2] // 2) + chroma
    out[:, chroma::4] = rows[ys[:, None], pairs[None, :]]
    out[:, chroma + 2::4] = rows[ys[:, None], (pairs + 2)[None, :]]
    return RawFrame(frame.encoding, width, height, 2 * width, out)


def _fit(image: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    height, width = image.shape[:2]
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def overlay_picture(frame: Frame, picture: npt.NDArray[np.uint8] | None = None, *,
                    max_side: int = MAX_OVERLAY_SIDE) -> npt.NDArray[np.uint8] | None:
    """Return a new writable BGR picture of the frame, at most max_side on its longest side.

    Args:
        frame: The classified frame.
        picture: The frame already decoded (a compressed frame's prepared picture).
        max_side: Longest side of the result.

    Returns:
        The picture, or None for a compressed frame without one (it is never decoded here).

    Raises:
        UnsupportedEncodingError, ImageError: A malformed raw frame.
    """
    if picture is not None:
        image = picture
    elif isinstance(frame, CompressedFrame):
        return None
    else:
        # Subsampling keeps the longest side between max_side and twice that, so the
        # conversion never handles more than 4x the overlay's pixels and the smooth resize
        # below still has every output pixel's neighbourhood to average.
        factor = max(1, max(frame.width, frame.height) // max_side)
        image = frame_to_bgr(subsample_raw(frame, factor))
    fitted = _fit(image, max_side)
    if fitted is image or not fitted.flags.writeable:
        fitted = fitted.copy()
    return fitted


class OverlayPublisher:
    """Draws and publishes overlays on the node's `overlay` publisher while it has subscribers.

    Args:
        publisher: The node's overlay publisher.
        max_side: Longest side of a published overlay.
    """

    def __init__(self, publisher: LifecyclePublisher[Any],
                 max_side: int = MAX_OVERLAY_SIDE) -> None:
        self.publisher = publisher
        self.max_side = max_side

    def wanted(self) -> bool:
        """Whether an overlay would be seen now (the topic has subscribers)."""
        return self.publisher.get_subscription_count() > 0

    def publish(self, frame: Frame, predictions: Sequence[Prediction], header: Header,
                picture: npt.NDArray[np.uint8] | None = None) -> bool:
        """Publish the frame with the predictions drawn on it; return whether it was published.

        Args:
            frame: The classified frame.
            predictions: What to draw.
            header: The frame's header, copied into the overlay.
            picture: The frame already decoded (a compressed frame's prepared picture), drawn
                on instead of converting the frame again; a compressed frame without one gets
                no overlay.
        """
        if not self.wanted():
            return False
        image = overlay_picture(frame, picture, max_side=self.max_side)
        if image is None:
            return False
        self.publisher.publish(image_msg(draw_predictions(image, predictions), 'bgr8', header))
        return True
