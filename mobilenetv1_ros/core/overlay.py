"""Drawing the top-k classes onto a BGR image."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = ['draw_predictions']

_TEXT = (255, 255, 255)
_SHADOW = (0, 0, 0)


def draw_predictions(image: npt.NDArray[np.uint8], predictions: Sequence[Prediction],
                     header: str = '') -> npt.NDArray[np.uint8]:
    """Write one line per prediction ('<score> <name> (<id>)') in the top-left corner, in place.

    The text scales with the image so it stays readable from 224x224 up to 4K.
    """
    height = image.shape[0]
    scale = max(0.4, height / 720.0)
    thickness = max(1, round(scale * 1.5))
    line_height = round(28 * scale)
    lines = [header] if header else []
    lines += [f'{p.score:.3f} {p.label.split(",")[0]} ({p.class_id})' for p in predictions]
    for row, text in enumerate(lines, start=1):
        origin = (round(8 * scale), row * line_height)
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, _SHADOW,
                    thickness + 2, cv2.LINE_AA)
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, _TEXT,
                    thickness, cv2.LINE_AA)
    return image
