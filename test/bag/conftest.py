"""Fixtures of the bag tests: the sample bag and a CPU classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mobilenetv1_ros.bag.sample import sample_bag
from mobilenetv1_ros.core.pipeline import Classifier
from mobilenetv1_ros.loading import load_classifier
from mobilenetv1_ros.options import ClassifierOptions


@pytest.fixture(scope='session')
def sample_bag_path() -> Path:
    """The sample bag (generated into the cache on first use)."""
    return sample_bag()


@pytest.fixture(scope='session')
def classifier() -> Iterator[Classifier]:
    """The bundled CPU model, as the offline tool uses it by default."""
    instance = load_classifier(ClassifierOptions(backend='onnx'))
    yield instance
    instance.close()
