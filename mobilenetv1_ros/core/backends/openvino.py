"""Opt-in CPU backend: the NV12-input ONNX model run by OpenVINO's CPU plugin.

It runs the very ONNX file the onnx backend runs (the bundled CPU model, exported and cached, or
a model_path), only with another runtime. OpenVINO is no dependency of this package: it is
imported when the backend is created, and where it is missing the error names the command that
installs the release this package is tested with (scripts/requirements-peers.txt pins the same).
'auto' never picks this backend; it is selected by name only.
"""

from __future__ import annotations

import math
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.backends.base import check_nv12, nv12_size
from mobilenetv1_ros.core.errors import (BackendError, BackendUnavailableError, ConfigError,
                                         ModelError)
from mobilenetv1_ros.core.files import check_regular_file

if TYPE_CHECKING:
    from types import ModuleType, TracebackType

    import numpy.typing as npt

__all__ = ['OPENVINO_REQUIREMENT', 'OpenVINOBackend', 'import_openvino', 'install_command']

#: The OpenVINO release this package is tested with; scripts/requirements-peers.txt pins the
#: same (a test checks).
OPENVINO_REQUIREMENT = 'openvino==2026.4.1'


def install_command() -> str:
    """Return the command that installs OpenVINO into the running interpreter."""
    return f'{sys.executable} -m pip install {OPENVINO_REQUIREMENT}'


def import_openvino() -> ModuleType:
    """Import OpenVINO.

    Raises:
        BackendUnavailableError: OpenVINO is not installed or does not import; the message
            names the command that installs it.
    """
    try:
        import openvino
    except ImportError as error:
        raise BackendUnavailableError(
            "Backend 'openvino' needs OpenVINO, which is not a dependency of this package; "
            f'install it with: {install_command()} ({error})') from None
    module: ModuleType = openvino
    return module


def _check_threads(num_threads: object) -> int:
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ConfigError(f'Thread count {num_threads!r} is not an integer >= 0')
    return num_threads


class OpenVINOBackend:
    """Runs an NV12-input classifier (as made by mobilenetv1_ros.export) on OpenVINO's CPU plugin.

    Compiled for latency at batch 1: one stream, `num_threads` inference threads (0: OpenVINO's
    choice), float32 wherever the graph is not quantized (OpenVINO would otherwise pick bfloat16
    on CPUs with AMX or AVX-512 BF16, which changes the arithmetic of the float32 graph), and no
    pinning of threads to cores (neither the node nor the onnx backend pins).

    Attributes:
        name: 'openvino'.
        model_path: The ONNX file.
        input_width: Width of the NV12 image the model takes.
        input_height: Height of the NV12 image the model takes.
        num_classes: Length of the score vector.
        num_threads: Inference threads asked for (0: OpenVINO's choice).
    """

    name = 'openvino'

    def __init__(self, model_path: str | Path, *, num_threads: int = 0,
                 **_ignored: Any) -> None:
        """Read and compile the model.

        Args:
            model_path: The ONNX file (mobilenetv1_ros.loading finds the default one).
            num_threads: Inference threads; 0 lets OpenVINO choose.
            **_ignored: Options meant for other backends.

        Raises:
            ConfigError: A bad thread count.
            BackendUnavailableError: OpenVINO cannot be imported (the message says how to
                install it).
            ModelError: The model is not a readable regular file (missing, a directory, a FIFO,
                a device, empty, ...), cannot be compiled, or does not take one NV12 image and
                return one score vector.
        """
        self.num_threads = _check_threads(num_threads)
        ov = import_openvino()
        self.model_path = Path(model_path)
        # OpenVINO opens the path itself: only a regular file may reach it.
        check_regular_file(self.model_path, 'Model file', ModelError, allow_empty=False)
        config: dict[str, Any] = {'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': 1,
                                  'INFERENCE_PRECISION_HINT': 'f32',
                                  'ENABLE_CPU_PINNING': False}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = num_threads
        try:
            core = ov.Core()
            model = core.read_model(str(self.model_path))
            self._compiled: Any = core.compile_model(model, 'CPU', config)
        except Exception as error:  # noqa: BLE001 - OpenVINO raises its own types
            raise ModelError(f'Model file {self.model_path!s} cannot be compiled by OpenVINO: '
                             f'{error}') from None
        self._read_signature(ov)
        self._request: Any = self._compiled.create_infer_request()

    def _read_signature(self, ov: ModuleType) -> None:
        """Check for one uint8 NV12 input of a square image and one float32 score vector.

        The size comes from the input's length (an NV12 image of WxH has W*H*3/2 bytes); the
        models this package exports are square.
        """
        inputs, outputs = self._compiled.inputs, self._compiled.outputs
        path = self.model_path
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f'Model file {path!s} has {len(inputs)} inputs and {len(outputs)} '
                             'outputs, expected one NV12 input and one score output')
        graph_input, graph_output = inputs[0], outputs[0]
        if graph_input.get_partial_shape().is_dynamic:
            raise ModelError(f'Model file {path!s} takes {graph_input.get_element_type()} '
                             f'{graph_input.get_partial_shape()}, not one packed NV12 uint8 '
                             'buffer of a fixed size')
        shape = tuple(int(dim) for dim in graph_input.get_shape())
        size = shape[-1] if shape else 0
        side = math.isqrt(size * 2 // 3)
        if graph_input.get_element_type() != ov.Type.u8 or not shape \
                or math.prod(shape[:-1]) != 1 or side % 2 or nv12_size(side, side) != size:
            raise ModelError(f'Model file {path!s} takes {graph_input.get_element_type()} '
                             f'{list(shape)}, not one packed NV12 uint8 buffer of a square '
                             'image')
        if graph_output.get_partial_shape().is_dynamic:
            raise ModelError(f'Model file {path!s} outputs {graph_output.get_element_type()} '
                             f'{graph_output.get_partial_shape()}, not one float32 score '
                             'vector of a fixed size')
        out_shape = tuple(int(dim) for dim in graph_output.get_shape())
        if graph_output.get_element_type() != ov.Type.f32 or not out_shape \
                or math.prod(out_shape[:-1]) != 1:
            raise ModelError(f'Model file {path!s} outputs {graph_output.get_element_type()} '
                             f'{list(out_shape)}, not one float32 score vector')
        self.input_width = self.input_height = side
        self.num_classes = out_shape[-1]
        self._input_shape = shape

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Classify one NV12 image.

        Args:
            nv12: uint8 array of exactly nv12_size(input_width, input_height) bytes.

        Returns:
            1-D float32 array of num_classes scores (a copy of the graph's output).

        Raises:
            ImageError: The buffer is not uint8 or has the wrong size.
            BackendError: The backend is closed or OpenVINO failed.
        """
        check_nv12(nv12, self.input_width, self.input_height)
        request = self._request
        if request is None:
            raise BackendError(f'OpenVINO backend for {self.model_path!s} is closed')
        try:
            request.infer({0: np.ascontiguousarray(nv12).reshape(self._input_shape)},
                          share_inputs=True)
            scores = request.get_output_tensor(0).data
        except Exception as error:  # noqa: BLE001 - OpenVINO raises its own types
            raise BackendError(f'OpenVINO failed to run {self.model_path!s}: {error}') \
                from None
        return np.array(scores, dtype=np.float32).reshape(-1)

    def describe(self) -> str:
        """Return e.g. 'openvino 2026.4.1 (CPU, f32 hint, 2 threads, unpinned): /path/x.onnx'."""
        try:
            version = metadata.version('openvino')
        except metadata.PackageNotFoundError:
            version = '?'
        threads = f'{self.num_threads} threads' if self.num_threads else 'default threads'
        return f'openvino {version} (CPU, f32 hint, {threads}, unpinned): {self.model_path!s}'

    def close(self) -> None:
        """Release the compiled model; infer() fails afterwards."""
        self._request = None
        self._compiled = None

    def __enter__(self) -> OpenVINOBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
