"""The classifier node's parameters: the pipeline options plus the node's own, in one table."""

from __future__ import annotations

from mobilenetv1_ros.options import PIPELINE_OPTIONS, Option

__all__ = [
    'CLASS_LABELS',
    'INPUT_MODES',
    'NODE_NAME',
    'NODE_OPTIONS',
    'PARAMETERS',
    'RELIABILITIES',
    'parameter',
]

#: Default name of the classifier node.
NODE_NAME = 'mobilenetv1_classifier'
INPUT_MODES = ('raw', 'compressed')
RELIABILITIES = ('auto', 'reliable', 'best_effort')
#: Read-only string array the node publishes its class names in (VisionInfo points at it).
CLASS_LABELS = 'class_labels'

#: Parameters of the node that are not pipeline options.
NODE_OPTIONS: tuple[Option, ...] = (
    Option('input', '', 'raw',
           'raw: subscribe to `image` (sensor_msgs/Image); compressed: subscribe to '
           '`image/compressed` (sensor_msgs/CompressedImage, JPEG or PNG), resolved from '
           'the remapped `image` topic the way image_transport does.',
           choices=INPUT_MODES),
    Option('reliability', '', 'auto',
           'Image subscription reliability. auto: reliable when every publisher on the '
           'topic is reliable, best effort otherwise or while there is none, re-checked '
           'twice a second. A qos_overrides.<topic>.subscription.reliability parameter '
           'other than auto takes precedence.',
           choices=RELIABILITIES),
    Option('publish_overlay', '', True,
           'Publish `overlay` (the frame with the top-k drawn) while it has subscribers.',
           live=True),
    Option('autostart', '', True,
           'Configure and activate at start-up; false leaves the node unconfigured for '
           'a lifecycle manager.'),
)

#: Every declared parameter, in declaration order.
PARAMETERS: tuple[Option, ...] = PIPELINE_OPTIONS + NODE_OPTIONS


def parameter(name: str) -> Option:
    """Return the spec of a parameter by name."""
    for spec in PARAMETERS:
        if spec.name == name:
            return spec
    raise KeyError(name)
