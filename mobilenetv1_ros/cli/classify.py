"""Classify image files and print the top-k classes (the model zoo notebook's replacement).

Examples:
  mobilenetv1-ros classify bulbul.JPEG
  mobilenetv1-ros classify --json --top-k 3 *.jpg
  mobilenetv1-ros classify --annotate out/ --crop stretch photo.png
  mobilenetv1-ros classify --backend openvino bulbul.JPEG   # opt-in; needs the openvino package
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from mobilenetv1_ros.cli.options import add_pipeline_arguments, options_from_args
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import bgr_frame, read_image
from mobilenetv1_ros.core.overlay import draw_predictions
from mobilenetv1_ros.loading import load_classifier

if TYPE_CHECKING:
    import argparse


    from mobilenetv1_ros.core.pipeline import Result

__all__ = ['add_arguments', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the classify arguments."""
    parser.add_argument('images', nargs='+', type=Path, metavar='IMAGE',
                        help='image files (JPEG, PNG, BMP, ... anything OpenCV reads)')
    parser.add_argument('--json', action='store_true', help='print one JSON document')
    parser.add_argument('--annotate', type=Path, default=None, metavar='DIR',
                        help='also write each image with its top-k drawn on it into DIR')
    add_pipeline_arguments(parser)


def _as_record(path: Path, result: Result) -> dict[str, Any]:
    return {
        'image': str(path),
        'predictions': [{'class_id': p.class_id, 'label': p.label, 'score': round(p.score, 6)}
                        for p in result.predictions],
        'times_ms': {'convert': round(result.times.convert_ms, 3),
                     'infer': round(result.times.infer_ms, 3),
                     'postprocess': round(result.times.postprocess_ms, 3)},
    }


def run(args: argparse.Namespace) -> int:
    """Classify every image; exit 1 if any image could not be read."""
    classifier = load_classifier(options_from_args(args))
    records: list[dict[str, Any]] = []
    failures = 0
    if args.annotate is not None:
        args.annotate.mkdir(parents=True, exist_ok=True)
    try:
        for path in args.images:
            try:
                image = read_image(path)
                result = classifier.classify(bgr_frame(image))
            except ImageError as error:
                failures += 1
                print(f'{path}: error: {error}', file=sys.stderr)
                continue
            records.append(_as_record(path, result))
            if not args.json:
                print(f'{path}:')
                for rank, p in enumerate(result.predictions, start=1):
                    print(f'  {rank}. {p.score:.4f}  {p.class_id:4d}  {p.label}')
            if args.annotate is not None:
                annotated = draw_predictions(image.copy(), result.predictions)
                cv2.imwrite(str(args.annotate / f'{path.stem}_classified.jpg'), annotated)
    finally:
        description = classifier.backend.describe()
        classifier.close()
    if args.json:
        json.dump({'backend': description, 'results': records}, sys.stdout, indent=2)
        print()
    else:
        print(f'# {description}', file=sys.stderr)
    return 1 if failures else 0
