"""Backend registry: names map to lazily imported implementations.

Nothing here imports hobot_dnn, onnxruntime or OpenVINO; a backend's module imports its
runtime only when the backend is created or asked whether its runtime imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.backends.base import Backend, nv12_size
from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ['BACKENDS', 'Backend', 'available_backends', 'create_backend', 'nv12_size',
           'runtime_available']

#: Backend name -> 'module:factory'. The factory takes (model_path, **options).
BACKENDS: Mapping[str, str] = {
    'bpu': 'mobilenetv1_ros.core.backends.bpu:BpuBackend',
    'onnx': 'mobilenetv1_ros.core.backends.onnx:OnnxBackend',
    # Opt-in ('auto' never picks it): the onnx backend's model on OpenVINO, where installed.
    'openvino': 'mobilenetv1_ros.core.backends.openvino:OpenVINOBackend',
}
#: Backend name -> 'module:function' that imports the backend's runtime or raises
#: BackendUnavailableError.
_RUNTIMES: Mapping[str, str] = {
    'bpu': 'mobilenetv1_ros.core.backends.bpu:import_pyeasy_dnn',
    'onnx': 'mobilenetv1_ros.core.backends.onnx:import_onnxruntime',
    'openvino': 'mobilenetv1_ros.core.backends.openvino:import_openvino',
}


def _attribute(reference: str) -> Any:
    module_name, _, attribute = reference.partition(':')
    return getattr(importlib.import_module(module_name), attribute)


def _check_name(name: str) -> None:
    if name not in BACKENDS:
        raise ConfigError(f'Backend {name!r} is not one of: {", ".join(BACKENDS)}')


def runtime_available(name: str) -> bool:
    """Return whether the runtime backend `name` needs imports on this machine.

    Raises:
        ConfigError: The name is not a registered backend.
    """
    _check_name(name)
    try:
        _attribute(_RUNTIMES[name])()
    except BackendUnavailableError:
        return False
    return True


def available_backends() -> dict[str, bool]:
    """Map every registered backend to whether its runtime imports on this machine."""
    return {name: runtime_available(name) for name in BACKENDS}


def create_backend(name: str, model_path: str | Path, **options: Any) -> Backend:
    """Create a backend by registry name for a model file.

    Args:
        name: A key of BACKENDS ('auto' is resolved by mobilenetv1_ros.loading).
        model_path: The model file.
        **options: Backend-specific options (num_threads, providers, ...); options a backend
            does not take are ignored by it.

    Raises:
        ConfigError: The name is not a registered backend.
        BackendUnavailableError: The backend's runtime cannot be imported.
        ModelError: The model file is missing, unreadable or unsuitable.
    """
    _check_name(name)
    factory: Callable[..., Backend] = _attribute(BACKENDS[name])
    return factory(model_path, **options)
