"""The node end to end over DDS: image published -> classification received, per frame size.

Starts the classifier node (`python -m mobilenetv1_ros.node`) in a child process on loopback
only (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_LOCALHOST_ONLY=1, a reserved ROS_DOMAIN_ID
and a temporary ROS_HOME unless already set), plays the camera and times every frame from just
before publish to the arrival of the classification with its stamp (perf.endtoend_dds). One
frame is in flight at a time, so each figure is a latency, not a queueing delay. Each run also
reports the node's CPU time per frame by thread role. Without rclpy the measurement is skipped,
so this module imports no ROS package.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.export.builders import PRECISIONS
from mobilenetv1_ros.harness.loopback import isolate_ros
from mobilenetv1_ros.options import BACKEND_CHOICES
from mobilenetv1_ros.perf.subjects import parse_spec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.options import ClassifierOptions

__all__ = ['measure_node', 'node_parameters']


def node_parameters(spec: str, base: ClassifierOptions) -> dict[str, Any]:
    """Return the node parameters that run the model a spec names with the base options.

    Raises:
        ConfigError: The spec names a peer runtime the node cannot run (openvino, a backend of
            ours too, it can).
    """
    name, argument = parse_spec(spec)
    if name not in BACKEND_CHOICES:
        raise ConfigError(f'Model spec {spec!r} is a peer runtime; the node runs '
                          f'{", ".join(BACKEND_CHOICES)}')
    parameters: dict[str, Any] = {
        'backend': name, 'crop': base.crop, 'interpolation': base.interpolation,
        'num_threads': base.num_threads, 'publish_overlay': False, 'reliability': 'reliable',
        'top_k': base.top_k,
    }
    if argument in PRECISIONS:
        parameters['precision'] = argument
    elif argument:
        parameters['model_path'] = argument
    if base.labels_path:
        parameters['labels_path'] = base.labels_path
    return parameters


def measure_node(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8],
                 sizes: Sequence[tuple[int, int]], encodings: Sequence[str], frames: int,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start the node and time publish -> classification for every encoding and frame size.

    Args:
        spec: The model the node runs ('onnx:int8', 'bpu', ...).
        base: Pipeline options (crop, interpolation, threads, labels).
        image: The BGR photo the frames are made from.
        sizes: Frame sizes (width, height).
        encodings: Raw encodings published (bgr8, nv12, ...).
        frames: Timed frames per size and encoding (after a few untimed ones).
        log: Progress messages.

    Returns:
        {'runs': [...], 'description': ..., 'node': ...}, or {'skipped': reason} when rclpy
        or the ROS message packages are missing or the node does not come up.
    """
    parameters = node_parameters(spec, base)
    created_home = isolate_ros()
    try:
        try:
            # Imported here: the benchmark runs without rclpy, and then skips this part.
            from mobilenetv1_ros.perf.endtoend_dds import run_node
        except ImportError as error:
            return {'skipped': f'rclpy or the ROS message packages do not import: {error}'}
        return run_node(parameters, image, sizes, encodings, frames,
                        log or (lambda message: None))
    finally:
        if created_home is not None:
            shutil.rmtree(created_home, ignore_errors=True)
