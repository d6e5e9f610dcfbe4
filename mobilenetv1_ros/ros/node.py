"""The mobilenetv1_classifier lifecycle node: camera frames in, vision_msgs/Classification out.

configure reads the parameters and loads the backend, activate subscribes and starts the
inference thread, deactivate and cleanup release them again. The subscription callback only
converts the frame to the model input and leaves it in a one-frame slot; the inference thread
always takes the newest frame, so results never lag behind a backlog. The subscriptions
themselves (reliability matching, the hbmem message type) belong to ros.image_input.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import Image
from vision_msgs.msg import Classification, LabelInfo, VisionInfo

from mobilenetv1_ros.core import compressed
from mobilenetv1_ros.core.errors import (
    ClassifierError,
    ConfigError,
    ImageDecodeError,
    ImageError,
    ImageTooLargeError,
    UnsupportedEncodingError,
)
from mobilenetv1_ros.loading import choose_backend, load_classifier
from mobilenetv1_ros.options import ClassifierOptions
from mobilenetv1_ros.ros.allocator import keep_frames_in_heap
from mobilenetv1_ros.ros.convert import classification_msg, label_info_msg, vision_info_msg
from mobilenetv1_ros.ros.cpu_meter import CpuMeter
from mobilenetv1_ros.ros.diagnostics import diagnostic_array, diagnostic_status
from mobilenetv1_ros.ros.image_input import ImageInput
from mobilenetv1_ros.ros.latest_frame import LatestSlot
from mobilenetv1_ros.ros.overlay import OverlayPublisher
from mobilenetv1_ros.ros.params import CLASS_LABELS, INFERENCE_THREAD, NODE_NAME, PARAMETERS
from mobilenetv1_ros.ros.qos import LATCHED_QOS, OVERLAY_QOS, RESULTS_QOS
from mobilenetv1_ros.ros.stats import NodeStats, Throttle

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

    from rclpy.lifecycle import State
    from rclpy.parameter import Parameter
    from rclpy.publisher import Publisher
    from rclpy.timer import Timer
    from std_msgs.msg import Header

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.pipeline import Classifier, Prepared
    from mobilenetv1_ros.options import Option

__all__ = ['NODE_NAME', 'ClassifierNode', 'main', 'make_executor']

DIAGNOSTICS_PERIOD_S = 1.0
WORKER_JOIN_TIMEOUT_S = 10.0
SPIN_PERIOD_S = 0.5


@dataclass
class _Pending:
    """A converted frame waiting for inference."""

    header: Header
    frame: Frame
    prepared: Prepared
    received: float
    converted: float


def _quiet_opencv() -> None:
    """Keep OpenCV's own per-frame messages (libpng/libjpeg complaints) off the console.

    A camera sending broken PNG or JPEG frames would otherwise print two lines per frame,
    bypassing the node's throttled rejection warnings. $OPENCV_LOG_LEVEL still wins.
    """
    if os.environ.get('OPENCV_LOG_LEVEL'):
        return
    logging = getattr(getattr(cv2, 'utils', None), 'logging', None)
    if logging is not None and hasattr(logging, 'setLogLevel'):
        logging.setLogLevel(logging.LOG_LEVEL_FATAL)
    elif hasattr(cv2, 'setLogLevel'):  # OpenCV 4 builds without cv2.utils.logging
        cv2.setLogLevel(1)


def make_executor() -> Executor:
    """Return the executor the node spins in: rclpy's EventsExecutor where it exists.

    The events executor (rclpy.experimental, Jazzy and newer) dispatches callbacks from its C++
    event queue instead of rebuilding a wait set in Python for every callback, which is most of
    the executor thread's time per frame; Humble has only the SingleThreadedExecutor.
    """
    try:
        from rclpy.experimental import EventsExecutor  # not in Humble's rclpy
    except ImportError:
        return SingleThreadedExecutor()
    return EventsExecutor()


def _name_os_thread(name: str) -> None:
    """Give the calling thread a kernel name (top -H, ps -L, /proc/<pid>/task/*/comm).

    Python's thread names stay inside Python; the per-thread CPU accounting of `load` and the
    benchmark finds the inference thread by this name. Cosmetic where /proc is missing.
    """
    try:
        with open(f'/proc/self/task/{threading.get_native_id()}/comm', 'w',
                  encoding='ascii', errors='replace') as stream:
            stream.write(name[:15])
    except OSError:
        pass


def _reject_reason(error: Exception) -> str:
    if isinstance(error, ImageTooLargeError):
        return 'too_large'
    if isinstance(error, UnsupportedEncodingError):
        return 'unsupported_encoding'
    if isinstance(error, ImageDecodeError):
        return 'undecodable'
    if isinstance(error, ImageError):
        return 'bad_frame'
    return 'conversion_failed'  # not an ImageError: a core bug, reported, never fatal


def _descriptor(spec: Option) -> ParameterDescriptor:
    description = f'{spec.description} Changes live.' if spec.live else spec.description
    descriptor = ParameterDescriptor(name=spec.name, description=description,
                                     additional_constraints=spec.constraints,
                                     read_only=spec.read_only)
    if spec.int_range is not None:
        descriptor.integer_range = [IntegerRange(from_value=spec.int_range[0],
                                                 to_value=spec.int_range[1], step=1)]
    if spec.float_range is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0)]
    return descriptor


class ClassifierNode(LifecycleNode):
    """MobileNetV1 classification as a ROS 2 lifecycle node.

    Args:
        node_name: Node name (remappable with __node as usual).
        classifier_factory: Builds the pipeline from the options at configure; benchmarks pass
            one that wraps the backend.
        stats_history: Frames the latency percentiles cover.
        **kwargs: Passed on to rclpy's lifecycle Node (namespace, context, ...).
    """

    def __init__(self, node_name: str = NODE_NAME, *,
                 classifier_factory: Callable[[ClassifierOptions], Classifier] = (
                     load_classifier),
                 stats_history: int = 256, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        _quiet_opencv()
        self.stats = NodeStats(stats_history)
        #: Yield the GIL after leaving a frame for the inference thread (see main()).
        self.yield_after_offer = True
        self._cpu = CpuMeter()
        self._classifier_factory = classifier_factory
        self._throttle = Throttle(1.0)
        self._classifier: Classifier | None = None
        self._input = 'raw'
        self._image_input = ImageInput(self, self._on_input)
        self._database_version = 0
        self._results_pub: Publisher | None = None
        self._label_info_pub: Publisher | None = None
        self._vision_info_pub: Publisher | None = None
        self._overlay: OverlayPublisher | None = None
        self._diagnostics_pub: Publisher | None = None
        self._diagnostics_timer: Timer | None = None
        self._slot: LatestSlot[_Pending] | None = None
        self._worker: threading.Thread | None = None
        self._active = False
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        self._overlay_enabled = bool(self._param('publish_overlay'))
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # ---------------------------------------------------------------- parameters

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _options(self) -> ClassifierOptions:
        return ClassifierOptions.from_values(
            {spec.name: self._param(spec.name) for spec in PARAMETERS})

    def _on_set_parameters(self, parameters: Sequence[Parameter]) -> SetParametersResult:
        classifier = self._classifier
        threshold_changed = False
        for parameter in parameters:
            if parameter.name == 'top_k' and classifier is not None:
                classifier.top_k = int(parameter.value)
            elif parameter.name == 'score_threshold' and classifier is not None:
                classifier.score_threshold = float(parameter.value)
                threshold_changed = True
            elif parameter.name == 'publish_overlay':
                self._overlay_enabled = bool(parameter.value)
        if threshold_changed and self._active and classifier is not None:
            self._publish_label_info(classifier)
        return SetParametersResult(successful=True)

    @property
    def autostart(self) -> bool:
        """Whether main() configures and activates the node at start-up."""
        return bool(self._param('autostart'))

    @property
    def fully_qualified_name(self) -> str:
        """'/<namespace>/<name>' (Humble's Node has no get_fully_qualified_name)."""
        return f'{self.get_namespace().rstrip("/")}/{self.get_name()}'

    # ---------------------------------------------------------------- lifecycle

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Read the parameters, load the backend and labels, create the publishers."""
        try:
            options = self._options()
            for spec in PARAMETERS:
                spec.check(self._param(spec.name))
            self._input = self._param('input')
            self.get_logger().info(f'Backend: {choose_backend(options).reason}')
            classifier = self._classifier_factory(options)
        except ClassifierError as error:
            self.get_logger().error(f'Configuring failed: {error}')
            return TransitionCallbackReturn.FAILURE
        except Exception as error:  # noqa: BLE001 - a runtime's own error must be reported too
            self.get_logger().error(f'Configuring failed: {type(error).__name__}: {error}')
            return TransitionCallbackReturn.FAILURE
        self._classifier = classifier
        self.get_logger().info(f'Loaded {classifier.describe()}')
        if self._input == 'compressed' and compressed.JPEG_DECODER == 'opencv':
            self.get_logger().warning(
                'simplejpeg is not installed: JPEG frames are decoded by OpenCV, which is '
                'neither strict (a truncated frame may be classified as a partly grey '
                'picture) nor quiet (libjpeg prints its warnings to stderr, unthrottled). '
                'Install it: pip3 install simplejpeg')
        if not self.has_parameter(CLASS_LABELS):
            self.declare_parameter(
                CLASS_LABELS, list(classifier.labels.names),
                ParameterDescriptor(name=CLASS_LABELS, read_only=True,
                                    description='Class names in class_id order (set by the '
                                                'node; VisionInfo.database_location names it)'),
                ignore_override=True)
        self._database_version += 1
        overriding = QoSOverridingOptions.with_default_policies()
        self._results_pub = self.create_lifecycle_publisher(
            Classification, 'classification', RESULTS_QOS, qos_overriding_options=overriding)
        self._label_info_pub = self.create_lifecycle_publisher(LabelInfo, 'label_info',
                                                               LATCHED_QOS)
        self._vision_info_pub = self.create_lifecycle_publisher(VisionInfo, 'vision_info',
                                                                LATCHED_QOS)
        self._overlay = OverlayPublisher(self.create_lifecycle_publisher(
            Image, 'overlay', OVERLAY_QOS, qos_overriding_options=overriding))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S,
                                                    self._publish_diagnostics)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Enable the publishers, start the inference thread and subscribe."""
        classifier = self._classifier
        assert classifier is not None
        try:
            self._image_input.prepare(self._input)
        except ConfigError as error:
            self.get_logger().error(f'Activating failed: {error}')
            return TransitionCallbackReturn.FAILURE
        result = super().on_activate(state)
        if result != TransitionCallbackReturn.SUCCESS:
            return result
        self._publish_label_info(classifier)
        self._publish_vision_info(classifier)
        self._slot = LatestSlot()
        self._worker = threading.Thread(target=self._work, args=(self._slot, classifier),
                                        name=INFERENCE_THREAD, daemon=True)
        self._worker.start()
        self._image_input.start()
        self._active = True
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Unsubscribe, stop the inference thread, disable the publishers."""
        self._stop_input()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Destroy the publishers and release the backend."""
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        """Release everything, from whichever state."""
        self._stop_input()
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: State) -> TransitionCallbackReturn:
        """Release everything and go back to unconfigured."""
        self._stop_input()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def start(self) -> bool:
        """Configure and activate; return whether both succeeded."""
        return (self.trigger_configure() == TransitionCallbackReturn.SUCCESS
                and self.trigger_activate() == TransitionCallbackReturn.SUCCESS)

    def destroy_node(self) -> None:
        """Stop the inference thread and release the backend, then destroy the node."""
        self._stop_input()
        self._release()
        super().destroy_node()

    def _stop_input(self) -> None:
        self._active = False
        self._image_input.stop()
        if self._slot is not None:
            if self._slot.close():
                self.stats.dropped()
            self._slot = None
        if self._worker is not None:
            self._worker.join(WORKER_JOIN_TIMEOUT_S)
            self._worker = None

    def _release(self) -> None:
        if self._overlay is not None:
            self.destroy_lifecycle_publisher(self._overlay.publisher)
            self._overlay = None
        for name in ('_results_pub', '_label_info_pub', '_vision_info_pub'):
            publisher = getattr(self, name)
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
                setattr(self, name, None)
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        if self._diagnostics_pub is not None:
            self.destroy_publisher(self._diagnostics_pub)
            self._diagnostics_pub = None
        if self._classifier is not None:
            self._classifier.close()
            self._classifier = None

    # ---------------------------------------------------------------- frames

    def _on_input(self, header: Header, frame: Frame | ImageError, received: float) -> None:
        """Take a frame from the image input, or count the message that was not one."""
        if isinstance(frame, ImageError):
            self._reject_input(header, frame)
        else:
            self._accept(header, frame, received)

    def _reject_input(self, header: Header, error: ImageError) -> None:
        """Count and report a message that is not even a frame, as _accept does a bad frame."""
        self.stats.received()
        reason = _reject_reason(error)
        self.stats.rejected(reason)
        if self._throttle.ready(f'reject.{reason}'):
            stamp = f'{header.stamp.sec}.{header.stamp.nanosec:09d}'
            self.get_logger().warning(f'Frame {stamp} rejected ({reason}): {error}')

    def _accept(self, header: Header, frame: Frame, received: float) -> None:
        """Convert a frame to the model input and leave it for the inference thread."""
        self.stats.received()
        classifier, slot = self._classifier, self._slot
        if classifier is None or slot is None:
            return
        try:
            prepared = classifier.prepare(frame)
        except Exception as error:  # noqa: BLE001 - no frame may stop the executor
            reason = _reject_reason(error)
            self.stats.rejected(reason)
            if self._throttle.ready(f'reject.{reason}'):
                stamp = f'{header.stamp.sec}.{header.stamp.nanosec:09d}'
                detail = error if isinstance(error, ImageError) else repr(error)
                self.get_logger().warning(f'Frame {stamp} rejected ({reason}): {detail}')
            return
        converted = time.perf_counter()
        if slot.put(_Pending(header, frame, prepared, received, converted)):
            self.stats.dropped()
        self.stats.offered(converted)
        if self.yield_after_offer:
            # Release the GIL for a moment: the inference thread starts now instead of after
            # the executor has rebuilt its wait set.
            time.sleep(0)

    def _work(self, slot: LatestSlot[_Pending], classifier: Classifier) -> None:
        _name_os_thread(INFERENCE_THREAD)
        while (pending := slot.take()) is not None:
            try:
                self._classify(pending, classifier)
            except Exception as error:  # noqa: BLE001 - the inference thread must survive
                if not rclpy.ok(context=self.context) or slot.closed:
                    return
                self.stats.failed(type(error).__name__)
                if self._throttle.ready('internal'):
                    self.get_logger().error(f'Frame dropped: {type(error).__name__}: {error}')

    def _classify(self, pending: _Pending, classifier: Classifier) -> None:
        start = time.perf_counter()
        try:
            result = classifier.finish(pending.prepared)
        except ClassifierError as error:
            self.stats.failed(type(error).__name__)
            if self._throttle.ready('backend'):
                self.get_logger().error(f'Inference failed, frame dropped: {error}')
            return
        finished = time.perf_counter()
        publisher = self._results_pub
        if publisher is None:
            return
        publisher.publish(classification_msg(pending.header, result.predictions))
        published = time.perf_counter()
        times = result.times
        self.stats.classified(
            convert=times.convert_ms, wait=(start - pending.converted) * 1e3,
            infer=times.infer_ms, postprocess=times.postprocess_ms,
            publish=(published - finished) * 1e3,
            end_to_end=(published - pending.received) * 1e3, offered=pending.converted)
        overlay = self._overlay
        if (self._overlay_enabled and overlay is not None
                and overlay.publish(pending.frame, result.predictions, pending.header,
                                pending.prepared.picture)):
            self.stats.overlay()

    # ---------------------------------------------------------------- info and diagnostics

    def _publish_label_info(self, classifier: Classifier) -> None:
        if self._label_info_pub is not None:
            self._label_info_pub.publish(label_info_msg(
                classifier.labels, classifier.score_threshold, self.get_clock().now().to_msg()))

    def _publish_vision_info(self, classifier: Classifier) -> None:
        if self._vision_info_pub is not None:
            method = f'MobileNetV1 ImageNet-1k classifier; {classifier.backend.describe()}'
            self._vision_info_pub.publish(vision_info_msg(
                method, f'{self.fully_qualified_name}/{CLASS_LABELS}', self._database_version,
                self.get_clock().now().to_msg()))

    def _publish_diagnostics(self) -> None:
        publisher, classifier = self._diagnostics_pub, self._classifier
        if publisher is None or classifier is None:
            return
        image_input = self._image_input
        details = [
            ('state', 'active' if self._active else 'inactive'),
            ('input_topic', image_input.topic),
            ('reliability', f'{image_input.reliability} ({image_input.reliability_reason})'
             if image_input.reliability else ''),
            ('backend', classifier.backend.name),
            ('model', str(classifier.backend.model_path)),
            ('labels', classifier.labels.source),
            ('top_k', str(classifier.top_k)),
            ('score_threshold', f'{classifier.score_threshold:g}'),
        ]
        snapshot = self.stats.snapshot()
        status = diagnostic_status(snapshot,
                                   name=f'{self.fully_qualified_name}: classifier',
                                   hardware_id=classifier.backend.name, active=self._active,
                                   details=details, cpu=self._cpu.update(snapshot.received))
        publisher.publish(diagnostic_array(status, self.get_clock().now().to_msg()))


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT or SIGTERM; exit 1 if autostarting it fails."""
    if hasattr(signal, 'SIGUSR1'):
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: stacks to stderr
    signalled = threading.Event()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signalled.set()
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        # rclpy's handlers only shut the context down, which a configure busy loading a model
        # or blocked in a system call never sees; nor does Python raise KeyboardInterrupt for
        # SIGTERM, or for a SIGINT ignored when the process started (a script's background
        # job). This raises it in the main thread; rclpy.init chains its handlers to it.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, interrupt)
    allocator_setting = keep_frames_in_heap()
    rclpy.init(args=args)
    node: ClassifierNode | None = None
    code = 0
    try:
        node = ClassifierNode()
        node.get_logger().info(allocator_setting)
        if node.autostart and not node.start():
            node.get_logger().fatal('Autostart failed (see above); exiting')
            code = 1
        else:
            executor = make_executor()
            # Only an executor that rebuilds its wait set in Python after each callback keeps
            # the GIL long enough to delay inference; the events executor waits in C++ at once.
            node.yield_after_offer = isinstance(executor, SingleThreadedExecutor)
            executor.add_node(node)
            # A bounded wait re-checks the context twice a second, so a shutdown whose wake-up
            # was missed still ends the loop.
            while rclpy.ok(context=node.context):
                executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterException as error:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'Bad parameter: {error}')
        code = 2
    except RuntimeError:
        # SIGINT/SIGTERM shut the context down while the executor was building its wait set
        # or a timer was publishing: rclpy raises RCLError then, not ExternalShutdownException.
        # A KeyboardInterrupt raised while rclpy converts a message comes out as RuntimeError.
        if rclpy.ok() and not signalled.is_set():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
