"""OpenCV calls on uint8 images, typed as what they return for uint8 input.

cv2's stubs type every result as an array of any number; the core only ever passes uint8
images, and these conversions return uint8 for uint8 input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import cv2

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ['cvt_color', 'extract_channel', 'imdecode']


def cvt_color(image: npt.NDArray[np.uint8], code: int) -> npt.NDArray[np.uint8]:
    """cv2.cvtColor for a uint8 image."""
    return cast('npt.NDArray[np.uint8]', cv2.cvtColor(image, code))


def extract_channel(image: npt.NDArray[np.uint8], channel: int) -> npt.NDArray[np.uint8]:
    """cv2.extractChannel for a uint8 image."""
    return cast('npt.NDArray[np.uint8]', cv2.extractChannel(image, channel))


def imdecode(data: npt.NDArray[np.uint8], flags: int) -> npt.NDArray[np.uint8] | None:
    """cv2.imdecode, which decodes to uint8 with the flags the core uses (None on failure)."""
    return cast('npt.NDArray[np.uint8] | None', cv2.imdecode(data, flags))
