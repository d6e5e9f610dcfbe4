"""Options to a running Classifier: which backend, which model file, which labels.

The one place that resolves 'auto', finds the board's model, and exports (once, cached) the
default CPU model, so the node and every command load a pipeline the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.assets import default_labels_path, find_bpu_model
from mobilenetv1_ros.core.backends import create_backend, runtime_available
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.core.pipeline import Classifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mobilenetv1_ros.core.backends import Backend
    from mobilenetv1_ros.options import ClassifierOptions

__all__ = ['CPU_BACKENDS', 'BackendChoice', 'choose_backend', 'classifier_for', 'load_classifier',
           'model_for']

#: Backends that run the NV12-input ONNX models: with an empty model_path, the bundled CPU model
#: (exported once, cached). 'auto' resolves to onnx, never to another of them.
CPU_BACKENDS = ('onnx', 'openvino')


@dataclass(frozen=True)
class BackendChoice:
    """The backend and model an options set resolves to, and why.

    Attributes:
        backend: A registered backend name ('bpu', 'onnx' or 'openvino').
        model_path: The model file, or None for the bundled CPU model (exported on load; onnx
            and openvino run the same file).
        reason: One sentence for the log: why this backend and this model.
    """

    backend: str
    model_path: Path | None
    reason: str


def choose_backend(options: ClassifierOptions, *,
                   bpu_model_roots: Sequence[Path] | None = None) -> BackendChoice:
    """Resolve options.backend ('auto' included) and options.model_path.

    'auto' picks bpu only when hobot_dnn imports and a BPU model is at hand (model_path names a
    .bin, or the search finds the model zoo's file); otherwise onnx. It never picks openvino,
    which is opt-in: named, it runs the model onnx would run (model_path, or the bundled CPU
    model of options.precision and options.chroma).

    Args:
        options: The pipeline options.
        bpu_model_roots: Directories to search for the BPU model instead of the default table.

    Raises:
        ModelError: backend is bpu, model_path is empty and the search finds nothing (the
            message lists every path tried).
    """
    given = Path(options.model_path) if options.model_path else None
    if options.backend in CPU_BACKENDS:
        return BackendChoice(options.backend, given, f'backend {options.backend} requested')
    if options.backend == 'bpu':
        if given is not None:
            return BackendChoice('bpu', given, 'backend bpu requested')
        found = find_bpu_model(bpu_model_roots).require('BPU model')
        return BackendChoice('bpu', found, f'backend bpu requested; model found at {found}')
    if given is not None:
        if given.suffix.lower() == '.bin':
            return BackendChoice('bpu', given, f'auto: {given.name} is a BPU model')
        return BackendChoice('onnx', given, f'auto: {given.name} is not a .bin BPU model')
    if not runtime_available('bpu'):
        return BackendChoice('onnx', None, 'auto: hobot_dnn does not import here')
    search = find_bpu_model(bpu_model_roots)
    if search.found is None:
        tried = ', '.join(str(path) for path in search.tried)
        return BackendChoice('onnx', None, f'auto: hobot_dnn imports but no BPU model was '
                                           f'found (looked for {tried})')
    return BackendChoice('bpu', search.found, f'auto: hobot_dnn imports and the BPU model is '
                                              f'at {search.found}')


def model_for(choice: BackendChoice, options: ClassifierOptions) -> Path:
    """Return the model file of a choice, exporting the bundled CPU model when none is named."""
    if choice.model_path is not None:
        return choice.model_path
    from mobilenetv1_ros.export.cache import cached_onnx_model  # needs tflite/onnx: CPU only

    return cached_onnx_model(options.precision, options.chroma)


def load_classifier(options: ClassifierOptions, *,
                    bpu_model_roots: Sequence[Path] | None = None) -> Classifier:
    """Create the backend, load the labels and build the pipeline the options describe.

    Raises:
        ConfigError, BackendUnavailableError, ModelError, LabelsError: as their names say;
        every message names the value or file at fault.
    """
    options.check()
    choice = choose_backend(options, bpu_model_roots=bpu_model_roots)
    backend = create_backend(choice.backend, model_for(choice, options),
                             num_threads=options.num_threads, **options.backend_options)
    return classifier_for(backend, options)


def classifier_for(backend: Backend, options: ClassifierOptions) -> Classifier:
    """Build the pipeline the options describe around a created backend.

    The backend is closed when this fails.

    Raises:
        ConfigError, LabelsError: as their names say.
    """
    try:
        labels = load_labels(options.labels_path or default_labels_path(), backend.num_classes)
        return Classifier(backend, labels, crop=options.crop,
                          interpolation=options.interpolation, top_k=options.top_k,
                          score_threshold=options.score_threshold,
                          output_activation=options.output_activation,
                          max_pixels=options.max_pixels)
    except BaseException:
        backend.close()
        raise
