"""Errors raised by the classification core; every message names the offending value."""

from __future__ import annotations

__all__ = [
    'BackendError',
    'BackendUnavailableError',
    'ClassifierError',
    'ConfigError',
    'ImageDecodeError',
    'ImageError',
    'ImageTooLargeError',
    'LabelsError',
    'ModelError',
    'UnsupportedEncodingError',
]


class ClassifierError(Exception):
    """Base class of every error raised by mobilenetv1_ros."""


class ConfigError(ClassifierError, ValueError):
    """A setting (crop policy, top-k, activation, backend name, ...) has an invalid value."""


class ImageError(ClassifierError, ValueError):
    """A frame cannot be turned into model input (bad size, stride or data length)."""


class UnsupportedEncodingError(ImageError):
    """The frame's encoding or compressed format is not one the core converts."""


class ImageDecodeError(ImageError):
    """Compressed image bytes (JPEG, PNG) could not be decoded."""


class ImageTooLargeError(ImageError):
    """A compressed frame is over a resource cap: declared pixels or side, JPEG scans, PNG chunks.

    Raised from the stream's headers, before any pixel is allocated or decoded.
    """


class LabelsError(ClassifierError):
    """A labels file is missing, unreadable, or does not match the model's outputs."""


class ModelError(ClassifierError):
    """A model file is missing, unreadable, corrupt, or not of the expected kind."""


class BackendError(ClassifierError):
    """An inference backend failed to run a frame."""


class BackendUnavailableError(BackendError):
    """The runtime a backend needs (hobot_dnn, onnxruntime) cannot be imported here."""
