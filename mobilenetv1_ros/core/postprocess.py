"""Scores to probabilities and the top-k classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ['ACTIVATIONS', 'Prediction', 'check_top_k', 'check_threshold', 'to_probabilities',
           'top_k']

ACTIVATIONS = ('auto', 'softmax', 'none')
_PROBABILITY_SUM_TOLERANCE = 0.02


@dataclass(frozen=True)
class Prediction:
    """One class of a result: its index, its score in [0, 1] and its name."""

    class_id: int
    score: float
    label: str


def check_activation(activation: str) -> str:
    """Return `activation` if it is one of ACTIVATIONS, else raise ConfigError."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f'Output activation {activation!r} is not one of: '
                          f'{", ".join(ACTIVATIONS)}')
    return activation


def check_top_k(k: int) -> int:
    """Return `k` if it is a positive count, else raise ConfigError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f'top_k {k!r} must be a positive integer')
    return int(k)


def check_threshold(threshold: float) -> float:
    """Return `threshold` if it lies in [0, 1], else raise ConfigError."""
    if not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(f'score_threshold {threshold!r} must lie in [0, 1]')
    return float(threshold)


def looks_like_probabilities(scores: npt.NDArray[np.floating]) -> bool:
    """Return whether scores are already a probability distribution (in [0, 1], sum ~1)."""
    return bool(scores.min() >= 0.0 and scores.max() <= 1.0
                and abs(float(scores.sum()) - 1.0) <= _PROBABILITY_SUM_TOLERANCE)


def to_probabilities(scores: npt.NDArray[np.floating],
                     activation: str = 'auto') -> npt.NDArray[np.float32]:
    """Turn raw model outputs into scores in [0, 1].

    Args:
        scores: 1-D model outputs.
        activation: 'softmax' always applies softmax; 'none' uses the outputs as they are
            (clipped to [0, 1]); 'auto' applies softmax unless the outputs already are
            probabilities.
    """
    check_activation(activation)
    values = np.asarray(scores, dtype=np.float32).reshape(-1)
    if activation == 'none' or (activation == 'auto' and looks_like_probabilities(values)):
        clipped: npt.NDArray[np.float32] = np.clip(values, 0.0, 1.0)
        return clipped
    shifted = np.exp(values - values.max())
    probabilities: npt.NDArray[np.float32] = (shifted / shifted.sum()).astype(np.float32)
    return probabilities


def top_k(probabilities: npt.NDArray[np.floating], k: int,
          threshold: float = 0.0) -> list[tuple[int, float]]:
    """Return up to `k` (class index, score) pairs, best first, leaving out scores < threshold.

    Ties keep the lower class index first, so results are deterministic.
    """
    k = min(check_top_k(k), probabilities.size)
    if k < probabilities.size:
        candidates = np.argpartition(-probabilities, k - 1)[:k]
    else:
        candidates = np.arange(probabilities.size)
    order = sorted(candidates.tolist(), key=lambda index: (-probabilities[index], index))
    return [(index, float(probabilities[index])) for index in order
            if probabilities[index] >= threshold]
