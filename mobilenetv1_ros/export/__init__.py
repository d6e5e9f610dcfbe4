"""Build-time layer: NV12-input ONNX models from the bundled MobileNetV1 TFLite files.

Needs the `tflite` and `onnx` packages, imported only when a model is exported; the runtime core
never imports this package.
"""

from mobilenetv1_ros.export.builders import EXPORTER_VERSION, OUTPUT_NAME, PRECISIONS, export_onnx
from mobilenetv1_ros.export.cache import cached_onnx_model
from mobilenetv1_ros.export.graph import CHROMA_UPSAMPLINGS, INPUT_NAME
from mobilenetv1_ros.export.tflite import file_sha256

__all__ = [
    'CHROMA_UPSAMPLINGS',
    'EXPORTER_VERSION',
    'INPUT_NAME',
    'OUTPUT_NAME',
    'PRECISIONS',
    'cached_onnx_model',
    'export_onnx',
    'file_sha256',
]
