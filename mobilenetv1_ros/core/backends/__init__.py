"""Backend registry: names map to lazily imported implementations.

Nothing here imports hobot_dnn or onnxruntime; a backend's module imports its runtime only
when the backend is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.backends.base import Backend, nv12_size
from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ['BACKENDS', 'Backend', 'available_backends', 'create_backend', 'nv12_size',
           'resolve_auto']

#: Backend name -> 'module:factory'. The factory takes (model_path: str | None, **options).
BACKENDS: Mapping[str, str] = {
    'bpu': 'mobilenetv1_ros.core.backends.bpu:BpuBackend',
    'onnx': 'mobilenetv1_ros.core.backends.onnx:OnnxBackend',
}


def _factory(name: str) -> Callable[..., Backend]:
    module_name, _, attribute = BACKENDS[name].partition(':')
    module = importlib.import_module(module_name)
    factory: Callable[..., Backend] = getattr(module, attribute)
    return factory


def _bpu_runtime_importable() -> bool:
    from mobilenetv1_ros.core.backends import bpu

    try:
        bpu.import_pyeasy_dnn()
    except BackendUnavailableError:
        return False
    return True


def resolve_auto() -> str:
    """Return the backend 'auto' stands for here: 'bpu' where hobot_dnn imports, else 'onnx'."""
    return 'bpu' if _bpu_runtime_importable() else 'onnx'


def available_backends() -> dict[str, bool]:
    """Map every registered backend to whether its runtime imports on this machine."""
    result = {}
    for name in BACKENDS:
        if name == 'bpu':
            result[name] = _bpu_runtime_importable()
        else:
            try:
                importlib.import_module('onnxruntime')
            except ImportError:
                result[name] = False
            else:
                result[name] = True
    return result


def create_backend(name: str, model_path: str | None = None, **options: Any) -> Backend:
    """Create a backend by registry name ('auto', 'bpu' or 'onnx').

    Args:
        name: Registry name; 'auto' picks 'bpu' where hobot_dnn imports, otherwise 'onnx'.
        model_path: Model file; None selects the backend's default model.
        **options: Backend-specific options (num_threads, providers, ...); options a backend
            does not take are ignored by it.

    Raises:
        ConfigError: The name is not a registered backend.
        BackendUnavailableError: The backend's runtime cannot be imported.
        ModelError: The model file is missing, unreadable or unsuitable.
    """
    chosen = resolve_auto() if name == 'auto' else name
    if chosen not in BACKENDS:
        choices = ', '.join(['auto', *BACKENDS])
        raise ConfigError(f'Backend {name!r} is not one of: {choices}')
    return _factory(chosen)(model_path, **options)
