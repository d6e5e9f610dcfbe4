"""The cache of ONNX models exported from the bundled TFLite files, keyed by their inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mobilenetv1_ros.core.assets import bundled_tflite, cache_dir
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.export.builders import EXPORTER_VERSION, PRECISIONS, export_onnx
from mobilenetv1_ros.export.graph import CHROMA_UPSAMPLINGS
from mobilenetv1_ros.export.tflite import file_sha256

__all__ = ['cached_onnx_model']

_EXPORTER_SOURCES = ('tflite.py', 'graph.py', 'builders.py')


def cached_onnx_model(precision: str = 'int8', chroma: str = CHROMA_UPSAMPLINGS[0]) -> Path:
    """Return the ONNX model exported from the bundled TFLite files, exporting it if needed.

    The file name holds the precision and a hash of the TFLite files, the exporter version and
    the exporter's source, so new weights or a changed exporter give a new file. Exporting
    writes a temporary file and renames it, so processes racing to export both end with the
    same complete file.

    Raises:
        ConfigError: The precision or the chroma upsampling is not supported.
        ModelError: The bundled TFLite files are missing or corrupt, or the cache directory
            cannot be written.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f'Precision {precision!r} is not one of: {", ".join(PRECISIONS)}')
    if chroma not in CHROMA_UPSAMPLINGS:
        raise ConfigError(f'Chroma upsampling {chroma!r} is not one of: '
                          f'{", ".join(CHROMA_UPSAMPLINGS)}')
    extractor, head = bundled_tflite()
    key = hashlib.sha256()
    for source in (extractor, head):
        key.update(file_sha256(source).encode())
    key.update(f'exporter {EXPORTER_VERSION} {precision} {chroma}'.encode())
    # The exporter's own source too, so that an edited exporter never reuses an old export.
    here = Path(__file__).parent
    for name in _EXPORTER_SOURCES:
        key.update(file_sha256(here / name).encode())
    path = cache_dir() / f'mobilenetv1_nv12_{precision}_{chroma}_{key.hexdigest()[:16]}.onnx'
    if path.is_file():
        return path
    return export_onnx(path, precision, extractor, head, chroma_upsampling=chroma)
