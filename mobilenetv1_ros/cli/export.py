"""Build the NV12-input ONNX models (float32, int8) from the bundled TFLite weights.

Examples:
  mobilenetv1-ros export --default            # build the cached default CPU models now
  mobilenetv1-ros export --precision float32 -o mobilenetv1_float.onnx
  mobilenetv1-ros export --chroma nearest -o nearest.onnx   # OpenCV's NV12 -> RGB, for comparison
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

from mobilenetv1_ros.options import option

__all__ = ['add_arguments', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the export arguments."""
    parser.add_argument('-o', '--output', type=Path, default=None,
                        help='ONNX file to write (required unless --default)')
    for name in ('precision', 'chroma'):
        spec = option(name)
        parser.add_argument(spec.flag, default=spec.default, choices=spec.choices,
                            help=f'{spec.description} (default: %(default)s)')
    parser.add_argument('--default', action='store_true',
                        help='build the cached default models (every precision, the chosen '
                             'chroma upsampling) if missing and print their paths')
    parser.add_argument('--extractor', type=Path, default=None,
                        help='feature-extractor TFLite file (default: the bundled one)')
    parser.add_argument('--head', type=Path, default=None,
                        help='classifier-head TFLite file (default: the bundled one)')


def run(args: argparse.Namespace) -> int:
    """Export one model, or make sure the cached defaults exist."""
    from mobilenetv1_ros.export import PRECISIONS, export_onnx
    from mobilenetv1_ros.export.cache import cached_onnx_model

    if args.default:
        for precision in PRECISIONS:
            print(f'{precision}: {cached_onnx_model(precision, args.chroma)}')
        return 0
    if args.output is None:
        raise SystemExit('mobilenetv1-ros export: error: --output is required (or --default)')
    path = export_onnx(args.output, args.precision, args.extractor, args.head, args.chroma)
    print(path)
    return 0
