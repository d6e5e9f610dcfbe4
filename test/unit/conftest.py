"""Fixtures shared by the unit tests of the model export and the backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilenetv1_ros.export import export_onnx


@pytest.fixture(scope='session')
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both precisions of the NV12 ONNX model, exported once per test session."""
    directory = tmp_path_factory.mktemp('export')
    return {precision: export_onnx(directory / f'{precision}.onnx', precision)
            for precision in ('float32', 'int8')}
