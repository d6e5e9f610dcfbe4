"""The reference preprocessing, written out independently of core/preprocess.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

SIZE = 224
NV12_BYTES = SIZE * SIZE * 3 // 2


def nv12_of(path: Path) -> np.ndarray:
    """Central square crop (0.875), bilinear resize to 224, BGR -> I420 -> NV12."""
    bgr = cv2.imread(str(path))
    h, w = bgr.shape[:2]
    side = round(0.875 * min(h, w))
    top, left = (h - side) // 2, (w - side) // 2
    image = cv2.resize(bgr[top:top + side, left:left + side], (SIZE, SIZE),
                       interpolation=cv2.INTER_LINEAR)
    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    luma = SIZE * SIZE
    u, v = i420[luma:luma + luma // 4], i420[luma + luma // 4:]
    return np.concatenate([i420[:luma], np.stack([u, v], axis=1).reshape(-1)])


def rgb_of_nv12(nv12: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The exported models' NV12 -> RGB, written out in float32 numpy step by step.

    BT.601 limited range with OpenCV's 20-bit coefficients; chroma upsampled bilinearly from
    samples sitting on the even luma pixels (where cv2's BGR -> I420 takes them), the last row
    and column repeated; rounding half to even.
    """
    f32 = np.float32
    fixed = np.round(np.array([[1.164, 0.0, 1.596], [1.164, -0.391, -0.813],
                               [1.164, 2.018, 0.0]]) * (1 << 20)).astype(np.int64)
    luma = nv12[:size * size].reshape(size, size).astype(f32)
    luma = np.maximum((luma - f32(16)) * f32(fixed[0, 0]), f32(0))
    uv = nv12[size * size:].reshape(size // 2, size // 2, 2).astype(np.int64) - 128
    chroma = (uv @ fixed[:, 1:].T).astype(f32)

    def double(plane: np.ndarray, axis: int) -> np.ndarray:
        count = plane.shape[axis]
        following = np.take(plane, [*range(1, count), count - 1], axis=axis)
        between = (plane + following) * f32(0.5)
        shape = list(plane.shape)
        shape[axis] *= 2
        return np.stack([plane, between], axis=axis + 1).reshape(shape)

    total = luma[..., None] + double(double(chroma, 1), 0)
    return np.clip(np.rint(total / f32(1 << 20)), 0, 255).astype(np.uint8)
