"""The classifier node's parameters: one table, read by the node, the docs and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from mobilenetv1_ros.core.image import CROP_POLICIES, INTERPOLATIONS
from mobilenetv1_ros.core.postprocess import ACTIVATIONS

__all__ = [
    'CLASS_LABELS',
    'INPUT_MODES',
    'NODE_NAME',
    'PARAMETERS',
    'RELIABILITIES',
    'ParameterSpec',
    'parameter',
]

Value = Union[bool, int, float, str]

#: Default name of the classifier node.
NODE_NAME = 'mobilenetv1_classifier'
INPUT_MODES = ('raw', 'compressed')
RELIABILITIES = ('auto', 'reliable', 'best_effort')
#: Read-only string array the node publishes its class names in (VisionInfo points at it).
CLASS_LABELS = 'class_labels'


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter.

    Attributes:
        name: Parameter name.
        default: Default value; its type is the parameter's type.
        description: What it does, for `ros2 param describe`.
        read_only: True when a change needs the model or subscription to be rebuilt.
        choices: Allowed string values (checked at configure), empty when free.
        int_range: (from, to) for integers.
        float_range: (from, to) for floats.
    """

    name: str
    default: Value
    description: str
    read_only: bool = True
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None

    @property
    def constraints(self) -> str:
        """Human-readable constraints, for the descriptor's additional_constraints."""
        if self.choices:
            return 'one of: ' + ', '.join(self.choices)
        if self.int_range is not None:
            return f'integer in [{self.int_range[0]}, {self.int_range[1]}]'
        if self.float_range is not None:
            return f'number in [{self.float_range[0]}, {self.float_range[1]}]'
        return ''


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('backend', 'auto',
                  'Inference backend: bpu (RDK X5, hobot_dnn), onnx (CPU, ONNX Runtime) or auto '
                  '(bpu where hobot_dnn imports, else onnx).',
                  choices=('auto', 'bpu', 'onnx')),
    ParameterSpec('model_path', '',
                  'Model file: .bin for bpu, .onnx for onnx. Empty: the backend default (the '
                  "bundled CPU model, or models/mobilenetv1_224x224_nv12.bin in the package's "
                  'share directory on the board).'),
    ParameterSpec('precision', 'int8',
                  'Which bundled CPU model the onnx backend runs when model_path is empty.',
                  choices=('int8', 'float32')),
    ParameterSpec('labels_path', '',
                  'Class names: JSON list, one name per line, or synset words. Empty: the '
                  'bundled ImageNet_1k.json.'),
    ParameterSpec('top_k', 5, 'Classes published per frame, best first. Changes live.',
                  read_only=False, int_range=(1, 1000)),
    ParameterSpec('score_threshold', 0.0,
                  'Classes scoring under this are left out of the results. Changes live.',
                  read_only=False, float_range=(0.0, 1.0)),
    ParameterSpec('crop', 'center_crop',
                  'Framing of the frame into the 224x224 input: center_crop (central 87.5% of '
                  'the shorter side, the accuracy-evaluation framing), stretch (whole frame, '
                  'aspect ignored, the model zoo notebook) or letterbox (whole frame, padded).',
                  choices=CROP_POLICIES),
    ParameterSpec('interpolation', 'linear', 'Resize interpolation.',
                  choices=tuple(INTERPOLATIONS)),
    ParameterSpec('num_threads', 0,
                  'CPU inference threads of the onnx backend; 0 = the runtime default.',
                  int_range=(0, 64)),
    ParameterSpec('output_activation', 'auto',
                  'Model output to scores: softmax, none (already probabilities) or auto '
                  '(softmax unless the outputs already sum to 1).',
                  choices=ACTIVATIONS),
    ParameterSpec('input', 'raw',
                  'raw: subscribe to `image` (sensor_msgs/Image); compressed: subscribe to '
                  '`image/compressed` (sensor_msgs/CompressedImage, JPEG or PNG), resolved from '
                  'the remapped `image` topic the way image_transport does.',
                  choices=INPUT_MODES),
    ParameterSpec('reliability', 'auto',
                  'Image subscription reliability. auto: reliable when every publisher on the '
                  'topic is reliable, best effort otherwise or while there is none, re-checked '
                  'twice a second. A qos_overrides.<topic>.subscription.reliability parameter '
                  'other than auto takes precedence.',
                  choices=RELIABILITIES),
    ParameterSpec('publish_overlay', True,
                  'Publish `overlay` (the frame with the top-k drawn) while it has subscribers. '
                  'Changes live.',
                  read_only=False),
    ParameterSpec('autostart', True,
                  'Configure and activate at start-up; false leaves the node unconfigured for '
                  'a lifecycle manager.'),
)


def parameter(name: str) -> ParameterSpec:
    """Return the spec of a parameter by name."""
    for spec in PARAMETERS:
        if spec.name == name:
            return spec
    raise KeyError(name)
