"""Errors of the bag tools (part of the ClassifierError hierarchy, so the CLI reports them)."""

from __future__ import annotations

from mobilenetv1_ros.core.errors import ClassifierError

__all__ = ['BagError', 'BagOutputExistsError', 'BagReadError', 'NoImageTopicsError']


class BagError(ClassifierError):
    """A bag cannot be opened, read or written, or has nothing the tool can use."""


class BagReadError(BagError):
    """A bag is missing, not a rosbag2 bag, corrupt or truncated."""


class NoImageTopicsError(BagError):
    """A bag holds no sensor_msgs Image or CompressedImage topic (or not the ones asked for)."""


class BagOutputExistsError(BagError):
    """The output path exists and overwriting was not asked for (or is not safe)."""
