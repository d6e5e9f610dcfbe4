"""What every test directory shares: where the repository's files are, and a skip hook.

conftest.py files cannot be imported by name (each directory has one, all called `conftest`), so
the constants live here; test/conftest.py turns them into fixtures, and modules that need them at
import time (parametrize lists, module constants) import them from here.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    'CONFIG_DIR',
    'DOUBLES_DIR',
    'IMAGES_DIR',
    'KNOWN_PHOTOS',
    'LABELS_FILE',
    'MISLABELED_PHOTO',
    'MODELS_DIR',
    'PHOTO_CLASSES',
    'REPO_ROOT',
    'VISION_MSGS_DIR',
    'class_folders',
    'skip_modules_without',
]

#: Root of the repository (the work tree under test).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The bundled photos (installed to share/mobilenetv1_ros/images).
IMAGES_DIR = REPO_ROOT / 'images'
#: The bundled TFLite weights and labels.
MODELS_DIR = REPO_ROOT / 'models'
LABELS_FILE = MODELS_DIR / 'ImageNet_1k.json'
#: The node's parameter file.
CONFIG_DIR = REPO_ROOT / 'config'
#: The interface files of the pip environment's vision_msgs (pip_env/vision_msgs).
VISION_MSGS_DIR = REPO_ROOT / 'pip_env' / 'vision_msgs' / 'msg'
#: The hobot_dnn test double (test/doubles/README.md).
DOUBLES_DIR = REPO_ROOT / 'test' / 'doubles'
#: Bundled photos the model recognises, with their ImageNet-1k classes (images/PROVENANCE.md).
PHOTO_CLASSES = {'bulbul.JPEG': 16, 'cat.bmp': 285, 'parrot.jpg': 88}
#: Every bundled photo with a known class: the evaluation tests' data set.
KNOWN_PHOTOS = {'bulbul.JPEG': 16, 'bird.bmp': 19, 'cat.bmp': 285, 'parrot.jpg': 88,
                'hot_dog.jpg': 934}
#: A photo given a wrong label on purpose: the cat is not a macaw.
MISLABELED_PHOTO = ('cat_720p.jpg', 88)


def class_folders(root: Path, photos: dict[str, str]) -> None:
    """Copy bundled photos into class folders under `root`: {photo name: folder name}."""
    for photo, folder in photos.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(IMAGES_DIR / photo, root / folder / photo)


def _import_error(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            return f'{name} is not importable ({exc})'
    return None


def skip_modules_without(*names: str) -> Callable[..., pytest.Module | None]:
    """Return a `pytest_pycollect_makemodule` hook that skips a directory's modules.

    Assign the result to `pytest_pycollect_makemodule` in a directory's conftest.py: when one of
    `names` does not import, every test module below that directory is reported as skipped
    (with the import error) instead of failing to import; otherwise collection is unchanged.
    Works whether pytest is given the directory or one of its files.
    """
    reason = _import_error(names)

    class Unavailable(pytest.Module):
        def collect(self) -> list[pytest.Item]:
            pytest.skip(f'{self.path.name}: {reason}', allow_module_level=True)

    def pytest_pycollect_makemodule(module_path: Path,
                                    parent: pytest.Collector) -> pytest.Module | None:
        if reason is None:
            return None
        return Unavailable.from_parent(parent, path=module_path)

    return pytest_pycollect_makemodule
