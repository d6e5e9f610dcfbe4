"""The reference preprocessing, written out independently of core/image.py, and the photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGES = Path(__file__).resolve().parents[1] / 'resources' / 'images'
SIZE = 224
NV12_BYTES = SIZE * SIZE * 3 // 2
#: Bundled photos and their ImageNet-1k classes.
PHOTOS = {'bulbul.JPEG': 16, 'cat.bmp': 285, 'parrot.jpg': 88}


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
