"""The sample bag: camera-sized frames made from the bundled photos, and its golden file.

The bag is generated deterministically (it is ~150 MB of raw frames, too big to commit):
two cameras at 30 fps for 3 s, each showing five photos in turn with a slow zoom and pan.
`/image_raw` is nv12 960x544 (the RDK X5 mipi_cam default), `/camera/color/image_raw` is bgr8
640x480 (a USB/RGB-D camera). The golden file holds, per frame, the class of the photo it shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import cv2
import numpy as np

from mobilenetv1_ros.bag.bagio import add_connection, describe_error, open_writer
from mobilenetv1_ros.bag.errors import BagError
from mobilenetv1_ros.bag.messages import IMAGE_TYPE, typestore
from mobilenetv1_ros.core.assets import cache_dir
from mobilenetv1_ros.core.assets import photos_dir as bundled_photos_dir
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import bgr_to_nv12, read_image

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

__all__ = [
    'CAMERAS',
    'FPS',
    'GENERATOR_VERSION',
    'SCENES',
    'Camera',
    'Scene',
    'expected_frames',
    'make_sample_bag',
    'photos_dir',
    'sample_bag',
    'write_golden',
]

GENERATOR_VERSION = 1
FPS = 30
FRAMES_PER_SCENE = 18
#: First capture time: 2024-01-01T00:00:00Z (fixed, so stamps are reproducible).
START_NS = 1_704_067_200 * 1_000_000_000
#: Bag (receive) time minus capture time, as a camera driver's transport delay.
RECEIVE_DELAY_NS = 4_000_000
ZOOM_END = 0.85


@dataclass(frozen=True)
class Scene:
    """One photo shown for FRAMES_PER_SCENE frames, and its ImageNet class."""

    photo: str
    class_id: int
    label: str


@dataclass(frozen=True)
class Camera:
    """One image topic of the sample bag."""

    topic: str
    encoding: str
    width: int
    height: int
    frame_id: str
    offset_ns: int


SCENES: tuple[Scene, ...] = (
    Scene('bulbul.JPEG', 16, 'bulbul'),
    Scene('cat.bmp', 285, 'Egyptian cat'),
    Scene('parrot.jpg', 88, 'macaw'),
    Scene('hot_dog.jpg', 934, 'hotdog, hot dog, red hot'),
    Scene('bird.bmp', 19, 'chickadee'),
)

CAMERAS: tuple[Camera, ...] = (
    Camera('/image_raw', 'nv12', 960, 544, 'camera_optical_frame', 0),
    Camera('/camera/color/image_raw', 'bgr8', 640, 480, 'camera_color_optical_frame',
           11_000_000),
)


def photos_dir() -> Path:
    """Return the directory of the bundled photos.

    Raises:
        BagError: The directory lacks one of the photos.
    """
    directory = bundled_photos_dir()
    missing = [scene.photo for scene in SCENES if not (directory / scene.photo).is_file()]
    if missing:
        raise BagError(f'The bundled photos {", ".join(missing)} are missing from {directory}')
    return directory


def _frame_count() -> int:
    return len(SCENES) * FRAMES_PER_SCENE


def _capture_ns(camera: Camera, index: int) -> int:
    return START_NS + camera.offset_ns + index * 1_000_000_000 // FPS


def _view(photo: npt.NDArray[np.uint8], width: int, height: int,
          step: int) -> npt.NDArray[np.uint8]:
    """Return the camera's view of a photo at `step` of a scene: a slow zoom in and pan."""
    rows, cols = photo.shape[:2]
    progress = step / (FRAMES_PER_SCENE - 1)
    aspect = width / height
    crop_w = min(cols, rows * aspect)
    zoom = 1.0 - (1.0 - ZOOM_END) * progress
    crop_w *= zoom
    crop_h = crop_w / aspect
    x = (cols - crop_w) * (0.5 + 0.3 * (progress - 0.5))
    y = (rows - crop_h) / 2
    matrix = np.array([[crop_w / width, 0.0, x], [0.0, crop_h / height, y]])
    view = cv2.warpAffine(photo, matrix, (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)
    return cast('npt.NDArray[np.uint8]', view)


def _image_message(camera: Camera, index: int, bgr: npt.NDArray[np.uint8]) -> Any:
    types = typestore().types
    capture = _capture_ns(camera, index)
    stamp = types['builtin_interfaces/msg/Time'](sec=capture // 1_000_000_000,
                                                 nanosec=capture % 1_000_000_000)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id=camera.frame_id)
    if camera.encoding == 'nv12':
        data, step = bgr_to_nv12(bgr), camera.width
    else:
        data, step = np.ascontiguousarray(bgr).reshape(-1), camera.width * 3
    return types[IMAGE_TYPE](header=header, height=camera.height, width=camera.width,
                             encoding=camera.encoding, is_bigendian=0, step=step, data=data)


def expected_frames() -> list[dict[str, Any]]:
    """Return the golden records: per camera frame its topic, index, stamp and true class."""
    records = []
    for camera in CAMERAS:
        for index in range(_frame_count()):
            scene = SCENES[index // FRAMES_PER_SCENE]
            records.append({'topic': camera.topic, 'index': index,
                            'stamp_ns': _capture_ns(camera, index), 'photo': scene.photo,
                            'class_id': scene.class_id, 'label': scene.label})
    return records


def write_golden(path: str | Path) -> Path:
    """Write the golden file (JSON) of the sample bag and return its path."""
    path = Path(path)
    document: dict[str, Any] = {
        'description': 'Expected top-1 class per frame of the mobilenetv1_ros sample bag '
                       '(the class of the photo the frame shows).',
        'generator_version': GENERATOR_VERSION,
        'fps': FPS,
        'topics': {c.topic: {'encoding': c.encoding, 'width': c.width, 'height': c.height}
                   for c in CAMERAS},
        'frames': expected_frames(),
    }
    frames = document.pop('frames')
    head = json.dumps(document, indent=1)[:-2]
    rows = ',\n  '.join(json.dumps(frame) for frame in frames)
    path.write_text(f'{head},\n "frames": [\n  {rows}\n ]\n}}\n', encoding='utf-8')
    return path


def make_sample_bag(path: str | Path, storage: str = 'sqlite3',
                    cameras: Sequence[Camera] = CAMERAS) -> Path:
    """Write the sample bag at `path` (which must not exist) and return it.

    Raises:
        BagError: The photos are missing or the bag cannot be written.
    """
    path = Path(path)
    folder = photos_dir()
    photos: dict[str, npt.NDArray[np.uint8]] = {}
    for scene in SCENES:
        try:
            photos[scene.photo] = read_image(folder / scene.photo)
        except ImageError as error:
            raise BagError(str(error)) from None
    store = typestore()
    writer = open_writer(path, storage)
    try:
        connections = {c.topic: add_connection(writer, c.topic, IMAGE_TYPE) for c in cameras}
        writer.set_custom_data('mobilenetv1_ros.sample_generator', str(GENERATOR_VERSION))
        ordered = sorted(cameras, key=lambda c: c.offset_ns)
        for index in range(_frame_count()):
            scene = SCENES[index // FRAMES_PER_SCENE]
            for camera in ordered:
                bgr = _view(photos[scene.photo], camera.width, camera.height,
                            index % FRAMES_PER_SCENE)
                data = store.serialize_cdr(_image_message(camera, index, bgr), IMAGE_TYPE)
                writer.write(connections[camera.topic],
                             _capture_ns(camera, index) + RECEIVE_DELAY_NS, data)
    except BaseException:
        writer.abort()
        shutil.rmtree(path, ignore_errors=True)
        raise
    try:
        writer.close()
    except Exception as error:  # noqa: BLE001 - storage library failures
        raise BagError(f'Sample bag {path} cannot be written: {describe_error(error)}') from None
    return path


def _cache_key(storage: str) -> str:
    digest = hashlib.sha256(f'sample {GENERATOR_VERSION} {storage} {CAMERAS} {SCENES}'.encode())
    folder = photos_dir()
    for scene in SCENES:
        digest.update((folder / scene.photo).read_bytes())
    return digest.hexdigest()[:16]


def sample_bag(storage: str = 'sqlite3', directory: str | Path | None = None) -> Path:
    """Return the cached sample bag, generating it first if it is missing or outdated.

    The bag lives in `directory` (default: the package cache, see core.assets.cache_dir) under
    a name that holds a hash of the generator and the photos. Concurrent callers are safe: the
    bag is written to a temporary directory and renamed into place.
    """
    base = Path(directory) if directory is not None else cache_dir()
    path = base / f'sample_bag_{storage}_{_cache_key(storage)}'
    if (path / 'metadata.yaml').is_file():
        return path
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.sample_bag.', dir=base))
    try:
        bag = make_sample_bag(staging / path.name, storage)
        try:
            os.rename(bag, path)
        except OSError:
            if not (path / 'metadata.yaml').is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
