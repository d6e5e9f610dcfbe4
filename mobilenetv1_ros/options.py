"""The classifier's options: one table of names, choices and defaults.

The node declares its parameters from this table and every classifying command builds its
pipeline arguments from it, so an option has one spelling, one default and one set of choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from mobilenetv1_ros.core.backends import BACKENDS
from mobilenetv1_ros.core.compressed import DEFAULT_MAX_PIXELS
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.postprocess import ACTIVATIONS
from mobilenetv1_ros.core.preprocess import CROP_POLICIES, INTERPOLATIONS
from mobilenetv1_ros.export.builders import PRECISIONS
from mobilenetv1_ros.export.graph import CHROMA_UPSAMPLINGS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    'BACKEND_CHOICES',
    'MAX_PIXELS_LIMIT',
    'PIPELINE_OPTIONS',
    'ClassifierOptions',
    'Option',
    'Value',
    'option',
]

Value = Union[bool, int, float, str]

#: 'auto' and every registered backend.
BACKEND_CHOICES = ('auto', *BACKENDS)
#: Highest pixel cap that may be set: OpenCV's own limit on a decoded image (2^30 pixels).
MAX_PIXELS_LIMIT = 1 << 30


@dataclass(frozen=True)
class Option:
    """One setting of the classifier.

    Attributes:
        name: Parameter name (the node's parameter, the ClassifierOptions field).
        flag: Command-line flag of the classifying commands, '' when the CLI has none.
        default: Default value; its type is the option's type. '' means "not set" for paths.
        description: What it does (node parameter description and CLI help).
        live: Whether the node applies a change while running.
        choices: Allowed string values, empty when free.
        int_range: (from, to) for integers.
        float_range: (from, to) for floats.
    """

    name: str
    flag: str
    default: Value
    description: str
    live: bool = False
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None

    @property
    def read_only(self) -> bool:
        """Whether a change needs the model or the subscription rebuilt (not live)."""
        return not self.live

    @property
    def constraints(self) -> str:
        """Human-readable constraints, e.g. 'one of: a, b' or 'integer in [1, 1000]'."""
        if self.choices:
            return 'one of: ' + ', '.join(self.choices)
        if self.int_range is not None:
            return f'integer in [{self.int_range[0]}, {self.int_range[1]}]'
        if self.float_range is not None:
            return f'number in [{self.float_range[0]}, {self.float_range[1]}]'
        return ''

    def check(self, value: Value) -> Value:
        """Return `value` if it satisfies the constraints, else raise ConfigError naming it."""
        bad = (
            (self.choices and value not in self.choices)
            or (self.int_range is not None and not (
                isinstance(value, int) and not isinstance(value, bool)
                and self.int_range[0] <= value <= self.int_range[1]))
            or (self.float_range is not None and not (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and self.float_range[0] <= value <= self.float_range[1])))
        if bad:
            raise ConfigError(f'{self.name} = {value!r} is not {self.constraints}')
        return value


PIPELINE_OPTIONS: tuple[Option, ...] = (
    Option('backend', '--backend', 'auto',
           'Inference backend: bpu (RDK X5, hobot_dnn), onnx (CPU, ONNX Runtime), openvino '
           '(CPU, OpenVINO on the same ONNX model; optional package, opt-in) or auto (bpu where '
           'hobot_dnn imports and a BPU model is found, else onnx; never openvino).',
           choices=BACKEND_CHOICES),
    Option('model_path', '--model', '',
           'Model file: .bin for bpu, .onnx for onnx and openvino. Empty: the bundled CPU '
           'model for onnx and openvino; for bpu, mobilenetv1_224x224_nv12.bin searched in the '
           'package share directories and then in /opt/hobot/model/x5/basic.'),
    Option('precision', '--precision', 'int8',
           'Which bundled CPU model the onnx and openvino backends run when model_path is '
           'empty.',
           choices=PRECISIONS),
    Option('chroma', '--chroma', CHROMA_UPSAMPLINGS[0],
           "How the bundled CPU model upsamples NV12 chroma when model_path is empty: nearest "
           "(OpenCV's COLOR_YUV2RGB_NV12, as the board model was calibrated) or bilinear.",
           choices=CHROMA_UPSAMPLINGS),
    Option('labels_path', '--labels', '',
           'Class names: JSON list, one name per line, or synset words. Empty: the bundled '
           'ImageNet_1k.json.'),
    Option('top_k', '--top-k', 5, 'Classes reported per frame, best first.', live=True,
           int_range=(1, 1000)),
    Option('score_threshold', '--threshold', 0.0,
           'Classes scoring under this are left out of the results.', live=True,
           float_range=(0.0, 1.0)),
    Option('crop', '--crop', 'center_crop',
           'Framing of the frame into the 224x224 input: center_crop (central 87.5% of the '
           'shorter side, the accuracy-evaluation framing), stretch (whole frame, aspect '
           'ignored, the model zoo notebook) or letterbox (whole frame, padded).',
           choices=CROP_POLICIES),
    Option('interpolation', '--interpolation', 'linear', 'Resize interpolation.',
           choices=tuple(INTERPOLATIONS)),
    Option('num_threads', '--threads', 0,
           'CPU inference threads of the onnx and openvino backends; 0 = the runtime default.',
           int_range=(0, 64)),
    Option('output_activation', '--activation', 'auto',
           'Model output to scores: softmax, none (already probabilities) or auto (softmax '
           'unless the outputs already sum to 1).',
           choices=ACTIVATIONS),
    Option('max_pixels', '--max-pixels', DEFAULT_MAX_PIXELS,
           'Largest width x height a compressed (JPEG or PNG) frame may declare in its header; '
           'a larger one is rejected as too_large before anything is decoded. The default '
           'takes every camera stream up to 4K.',
           int_range=(1, MAX_PIXELS_LIMIT)),
)


def option(name: str) -> Option:
    """Return a pipeline option by name."""
    for spec in PIPELINE_OPTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


@dataclass(frozen=True)
class ClassifierOptions:
    """Everything that selects and tunes a pipeline; defaults are PIPELINE_OPTIONS' defaults."""

    backend: str = str(option('backend').default)
    model_path: str = ''
    precision: str = str(option('precision').default)
    chroma: str = str(option('chroma').default)
    labels_path: str = ''
    crop: str = str(option('crop').default)
    interpolation: str = str(option('interpolation').default)
    top_k: int = int(option('top_k').default)
    score_threshold: float = float(option('score_threshold').default)
    output_activation: str = str(option('output_activation').default)
    num_threads: int = int(option('num_threads').default)
    max_pixels: int = int(option('max_pixels').default)
    backend_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    backend_options: Mapping[str, Any] | None = None) -> ClassifierOptions:
        """Build options from a name -> value mapping, checking each against its Option.

        Names not in PIPELINE_OPTIONS are ignored; missing names take their defaults.

        Raises:
            ConfigError: A value breaks its option's constraints (the message names both).
        """
        chosen: dict[str, Any] = {
            spec.name: spec.check(values[spec.name]) for spec in PIPELINE_OPTIONS
            if spec.name in values and values[spec.name] is not None}
        return cls(**chosen, backend_options=dict(backend_options or {}))

    def check(self) -> ClassifierOptions:
        """Return self if every field satisfies its Option, else raise ConfigError."""
        for spec in PIPELINE_OPTIONS:
            spec.check(getattr(self, spec.name))
        return self
