"""Where the package's model files live: bundled TFLite weights, labels, cached ONNX exports."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from mobilenetv1_ros.core.errors import ConfigError

__all__ = [
    'BUNDLED_EXTRACTOR',
    'BUNDLED_HEAD',
    'CACHE_ENV',
    'DEFAULT_BPU_MODEL_NAME',
    'LABELS_NAME',
    'PACKAGE',
    'bundled_tflite',
    'cache_dir',
    'default_bpu_model',
    'default_labels_path',
    'default_onnx_model',
    'share_dir',
]

PACKAGE = 'mobilenetv1_ros'
#: File names under share_dir()/models.
BUNDLED_EXTRACTOR = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'
BUNDLED_HEAD = 'mobilenet_quant_v1_224_head_layers.tflite'
LABELS_NAME = 'ImageNet_1k.json'
#: The RDK model zoo's MobileNetV1 for the BPU; users place it in share_dir()/models.
DEFAULT_BPU_MODEL_NAME = 'mobilenetv1_224x224_nv12.bin'
#: Environment variable overriding the directory of exported ONNX models.
CACHE_ENV = 'MOBILENETV1_ROS_CACHE'


def share_dir() -> Path:
    """Return the directory that holds the package's models/, config/ and launch/.

    In order: the source tree's root when running from a checkout; the share directory
    ament_index_python finds (a colcon or apt install); share/mobilenetv1_ros under this
    interpreter's prefix (a pip install, e.g. the project's .venv, even with AMENT_PREFIX_PATH
    unset); and the source tree's root as the last resort.
    """
    source_root = Path(__file__).resolve().parents[2]
    if (source_root / 'models' / BUNDLED_EXTRACTOR).is_file():
        return source_root
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, OSError, ValueError):
        pass
    prefix_share = Path(sys.prefix) / 'share' / PACKAGE
    return prefix_share if prefix_share.is_dir() else source_root


def bundled_tflite() -> tuple[Path, Path]:
    """Return the bundled (embedding extractor, classifier head) TFLite files."""
    models = share_dir() / 'models'
    return models / BUNDLED_EXTRACTOR, models / BUNDLED_HEAD


def default_labels_path() -> Path:
    """Return the bundled ImageNet-1k labels file (JSON list of 1000 names)."""
    return share_dir() / 'models' / LABELS_NAME


def sample_images_dir() -> Path:
    """Return the directory of the bundled photos (installed as share/<package>/images)."""
    installed = share_dir() / 'images'
    return installed if installed.is_dir() else share_dir() / 'test' / 'resources' / 'images'


def default_bpu_model() -> Path:
    """Return where the board's model zoo .bin is expected (it is not bundled)."""
    return share_dir() / 'models' / DEFAULT_BPU_MODEL_NAME


def cache_dir() -> Path:
    """Return the directory of exported ONNX models.

    $MOBILENETV1_ROS_CACHE, else $XDG_CACHE_HOME/mobilenetv1_ros, else ~/.cache/mobilenetv1_ros.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get('XDG_CACHE_HOME')
    base = Path(xdg).expanduser() if xdg else Path.home() / '.cache'
    return base / PACKAGE


def default_onnx_model(precision: str = 'int8') -> Path:
    """Return the ONNX model exported from the bundled TFLite files, exporting it if needed.

    The file name holds the precision and a hash of the TFLite files, the exporter version and
    the exporter's source, so new weights or a changed exporter give a new file. Exporting
    writes a temporary file and renames it, so processes racing to export both end with the
    same complete file.

    Raises:
        ConfigError: The precision is not supported.
        ModelError: The bundled TFLite files are missing or corrupt, or the cache directory
            cannot be written.
    """
    from mobilenetv1_ros.core import export
    from mobilenetv1_ros.core.export import EXPORTER_VERSION, PRECISIONS, export_onnx, file_sha256

    if precision not in PRECISIONS:
        raise ConfigError(f'Precision {precision!r} is not one of: {", ".join(PRECISIONS)}')
    extractor, head = bundled_tflite()
    key = hashlib.sha256()
    for source in (extractor, head):
        key.update(file_sha256(source).encode())
    key.update(f'exporter {EXPORTER_VERSION} {precision}'.encode())
    # The exporter's own source too, so that an edited exporter never reuses an old export.
    key.update(file_sha256(Path(export.__file__)).encode())
    path = cache_dir() / f'mobilenetv1_nv12_{precision}_{key.hexdigest()[:16]}.onnx'
    if path.is_file():
        return path
    return export_onnx(path, precision, extractor, head)
