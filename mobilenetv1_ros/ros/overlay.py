"""The overlay topic: the classified frame with its top-k drawn, only while someone watches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mobilenetv1_ros.core.frames import frame_to_bgr
from mobilenetv1_ros.core.overlay import draw_predictions
from mobilenetv1_ros.ros.convert import image_msg

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from rclpy.publisher import Publisher
    from std_msgs.msg import Header

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = ['OverlayPublisher']


class OverlayPublisher:
    """Draws and publishes overlays on the node's `overlay` publisher while it has subscribers."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def wanted(self) -> bool:
        """Whether an overlay would be seen now (the topic has subscribers)."""
        return self.publisher.get_subscription_count() > 0

    def publish(self, frame: Frame, predictions: Sequence[Prediction], header: Header,
                picture: npt.NDArray[np.uint8] | None = None) -> bool:
        """Publish the frame with the predictions drawn on it; return whether it was published.

        Args:
            frame: The classified frame.
            predictions: What to draw.
            header: The frame's header, copied into the overlay.
            picture: The frame already decoded (a compressed frame's prepared picture), drawn
                on instead of converting the frame again.
        """
        if not self.wanted():
            return False
        image = frame_to_bgr(frame) if picture is None else picture.copy()
        if not image.flags.writeable or np.may_share_memory(image, frame.data):
            image = image.copy()
        self.publisher.publish(image_msg(draw_predictions(image, predictions), 'bgr8', header))
        return True
