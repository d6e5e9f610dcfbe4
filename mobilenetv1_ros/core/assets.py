"""Where the package's files live: bundled weights, labels and photos, and the board's model.

Paths only: nothing here reads, exports or loads a file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.errors import ModelError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    'BOARD_MODEL_DIRS',
    'BOARD_MODEL_DIRS_ENV',
    'BPU_MODEL_NAME',
    'BUNDLED_EXTRACTOR',
    'BUNDLED_HEAD',
    'CACHE_ENV',
    'LABELS_NAME',
    'PACKAGE',
    'ModelSearch',
    'bpu_model_search',
    'bundled_tflite',
    'cache_dir',
    'default_labels_path',
    'find_bpu_model',
    'photos_dir',
    'share_dir',
    'share_dirs',
]

PACKAGE = 'mobilenetv1_ros'
#: File names under <share>/models.
BUNDLED_EXTRACTOR = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'
BUNDLED_HEAD = 'mobilenet_quant_v1_224_head_layers.tflite'
LABELS_NAME = 'ImageNet_1k.json'
#: The RDK model zoo's MobileNetV1 for the BPU (not redistributable, so not bundled).
BPU_MODEL_NAME = 'mobilenetv1_224x224_nv12.bin'
#: Where the RDK X5 image keeps the model zoo's basic models (the zoo's Python sample loads
#: mobilenetv1_224x224_nv12.bin from here).
BOARD_MODEL_DIRS: tuple[Path, ...] = (Path('/opt/hobot/model/x5/basic'),)
#: Environment variable with directories (os.pathsep-separated) that replace BOARD_MODEL_DIRS.
BOARD_MODEL_DIRS_ENV = 'MOBILENETV1_ROS_BOARD_MODEL_DIRS'
#: Environment variable overriding the cache directory (exported models, sample bags).
CACHE_ENV = 'MOBILENETV1_ROS_CACHE'
#: The parameter that names a model file and so skips the search.
MODEL_PARAMETER = 'model_path'


def _source_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _ament_share() -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:  # a pip install without ROS: no ament index
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (LookupError, OSError, ValueError):
        return None


def share_dirs() -> list[Path]:
    """Return the directories that may hold the package's models/, images/, config/, launch/.

    In order: the source tree's root when running from a checkout; the share directory
    ament_index_python finds (a colcon or apt install; under `colcon build --symlink-install`
    its files link back to the source tree); share/mobilenetv1_ros under this interpreter's
    prefix (a pip install, e.g. the project's .venv). Only directories that exist are listed.
    """
    candidates = [_source_root(), _ament_share(), Path(sys.prefix) / 'share' / PACKAGE]
    found: list[Path] = []
    for candidate in candidates:
        if candidate is not None and (candidate / 'models').is_dir() and candidate not in found:
            found.append(candidate)
    return found


def share_dir() -> Path:
    """Return the first directory of share_dirs() that holds the bundled weights."""
    for candidate in share_dirs():
        if (candidate / 'models' / BUNDLED_EXTRACTOR).is_file():
            return candidate
    return _source_root()


def bundled_tflite() -> tuple[Path, Path]:
    """Return the bundled (embedding extractor, classifier head) TFLite files."""
    models = share_dir() / 'models'
    return models / BUNDLED_EXTRACTOR, models / BUNDLED_HEAD


def default_labels_path() -> Path:
    """Return the bundled ImageNet-1k labels file (JSON list of 1000 names)."""
    return share_dir() / 'models' / LABELS_NAME


def photos_dir() -> Path:
    """Return the directory of the bundled photos (share/<package>/images when installed)."""
    return share_dir() / 'images'


def cache_dir() -> Path:
    """Return the directory of exported ONNX models and generated sample bags.

    $MOBILENETV1_ROS_CACHE, else $XDG_CACHE_HOME/mobilenetv1_ros, else ~/.cache/mobilenetv1_ros.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get('XDG_CACHE_HOME')
    base = Path(xdg).expanduser() if xdg else Path.home() / '.cache'
    return base / PACKAGE


@dataclass(frozen=True)
class ModelSearch:
    """The outcome of looking for a model file in a table of places.

    Attributes:
        tried: Every path looked at, in order.
        found: The first one that is a file, or None.
    """

    tried: tuple[Path, ...]
    found: Path | None

    def require(self, what: str) -> Path:
        """Return the found path, or raise ModelError listing every path tried."""
        if self.found is not None:
            return self.found
        tried = ''.join(f'\n  {path}' for path in self.tried)
        raise ModelError(f'No {what} found; looked for:{tried}\nSet the {MODEL_PARAMETER} '
                         'parameter (or --model) to the model file.')


def bpu_model_search(roots: Sequence[Path] | None = None,
                     name: str = BPU_MODEL_NAME) -> list[Path]:
    """Return where an empty model_path looks for the BPU model, in order.

    Args:
        roots: Directories to look in; None means every share directory's models/ and then
            the board's model directories (BOARD_MODEL_DIRS, or $MOBILENETV1_ROS_BOARD_MODEL_DIRS
            when set).
        name: The model's file name.
    """
    if roots is None:
        override = os.environ.get(BOARD_MODEL_DIRS_ENV)
        board = ([Path(part) for part in override.split(os.pathsep) if part] if override
                 else list(BOARD_MODEL_DIRS))
        roots = [share / 'models' for share in share_dirs()] + board
    return [Path(root) / name for root in roots]


def find_bpu_model(roots: Sequence[Path] | None = None) -> ModelSearch:
    """Look for the model zoo's MobileNetV1 .bin in the places bpu_model_search() lists."""
    tried = tuple(bpu_model_search(roots))
    found = next((path for path in tried if path.is_file()), None)
    return ModelSearch(tried, found)
