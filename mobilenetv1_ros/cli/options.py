"""Pipeline options shared by every subcommand that classifies (one spelling everywhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobilenetv1_ros.core.image import CROP_POLICIES, INTERPOLATIONS
from mobilenetv1_ros.core.pipeline import ClassifierOptions
from mobilenetv1_ros.core.postprocess import ACTIVATIONS

if TYPE_CHECKING:
    import argparse

__all__ = ['add_pipeline_arguments', 'options_from_args']


def add_pipeline_arguments(parser: argparse.ArgumentParser, *, top_k: int = 5) -> None:
    """Add --backend, --model, --labels, --crop, --interpolation, --top-k, ... to `parser`."""
    group = parser.add_argument_group('pipeline')
    group.add_argument('--backend', default='auto', choices=['auto', 'bpu', 'onnx'],
                       help='inference backend; auto = bpu where hobot_dnn imports, else onnx '
                            '(default: %(default)s)')
    group.add_argument('--model', dest='model_path', default=None, metavar='PATH',
                       help='model file (.bin for bpu, .onnx for onnx); default: the bundled '
                            'CPU model, or models/mobilenetv1_224x224_nv12.bin on the board')
    group.add_argument('--precision', default='int8', choices=['int8', 'float32'],
                       help='which bundled CPU model the onnx backend uses when --model is not '
                            'given (default: %(default)s)')
    group.add_argument('--labels', dest='labels_path', default=None, metavar='PATH',
                       help='labels file: JSON list, one name per line, or synset words '
                            '(default: the bundled ImageNet_1k.json)')
    group.add_argument('--crop', default='center_crop', choices=CROP_POLICIES,
                       help='framing of the image into the model input (default: %(default)s)')
    group.add_argument('--interpolation', default='linear', choices=list(INTERPOLATIONS),
                       help='resize interpolation (default: %(default)s)')
    group.add_argument('--top-k', type=int, default=top_k, metavar='K',
                       help='classes reported per image (default: %(default)s)')
    group.add_argument('--threshold', type=float, default=0.0, metavar='SCORE',
                       help='leave out classes scoring under this (default: %(default)s)')
    group.add_argument('--activation', default='auto', choices=ACTIVATIONS,
                       help='output activation: auto applies softmax unless the outputs are '
                            'already probabilities (default: %(default)s)')
    group.add_argument('--threads', type=int, default=0, metavar='N',
                       help='CPU inference threads, 0 = runtime default (default: %(default)s)')


def options_from_args(args: argparse.Namespace) -> ClassifierOptions:
    """Build the pipeline options from parsed pipeline arguments."""
    return ClassifierOptions(
        backend=args.backend, model_path=args.model_path, labels_path=args.labels_path,
        crop=args.crop, interpolation=args.interpolation, top_k=args.top_k,
        score_threshold=args.threshold, output_activation=args.activation,
        num_threads=args.threads, backend_options={'precision': args.precision})
