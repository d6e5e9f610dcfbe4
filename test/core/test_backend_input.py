"""The CPU backends' NV12 input check (core/backends/base.check_nv12), one test for each."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from reference import NV12_BYTES, SIZE

from mobilenetv1_ros.core.backends import Backend, create_backend
from mobilenetv1_ros.core.errors import ImageError


@pytest.fixture(scope='module', params=['onnx', 'openvino'])
def backend(request: pytest.FixtureRequest, exported: dict[str, Path]) -> Iterator[Backend]:
    created = create_backend(request.param, exported['int8'], num_threads=1)
    yield created
    created.close()


@pytest.mark.parametrize('size', [0, NV12_BYTES - 1, NV12_BYTES + 1, SIZE * SIZE * 3])
def test_infer_rejects_wrong_size(backend: Backend, size: int) -> None:
    with pytest.raises(ImageError, match=f'{size} bytes, expected {NV12_BYTES}'):
        backend.infer(np.zeros(size, np.uint8))


@pytest.mark.parametrize('dtype', [np.float32, np.int8, np.uint16])
def test_infer_rejects_wrong_dtype(backend: Backend, dtype: type) -> None:
    with pytest.raises(ImageError, match=np.dtype(dtype).name):
        backend.infer(np.zeros(NV12_BYTES, dtype))


def test_infer_rejects_non_arrays(backend: Backend) -> None:
    with pytest.raises(ImageError, match='bytes'):
        backend.infer(bytes(NV12_BYTES))  # type: ignore[arg-type]
