"""What the load tool sends, for how long, and to which node (pure Python, no ROS imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.compressed import COMPRESSED_FORMATS
from mobilenetv1_ros.ros.params import HBM_TYPES, RELIABILITIES

if TYPE_CHECKING:
    from mobilenetv1_ros.harness.fastdds import ProfileSetting

__all__ = ['CAMERA_RELIABILITIES', 'DEFAULT_PHOTOS', 'HBM_DATA_BYTES', 'HBM_ENCODING', 'NAMESPACE',
           'LoadSettings']

#: Namespace of the node the load tool starts; its input is <NAMESPACE>/image.
NAMESPACE = '/mobilenetv1_load'
#: Bundled photos the frames are made of, alternated.
DEFAULT_PHOTOS = ('cat_1080p.jpg', 'hot_dog.jpg')
#: Reliabilities a camera publisher offers ('auto' is the node's choice, not a publisher's).
CAMERA_RELIABILITIES = tuple(value for value in RELIABILITIES if value != 'auto')
#: Size of the data array of each HbmMsg type (its MAX_SIZE: width x height x 3 of the largest
#: frame it names), known here without importing hbm_img_msgs; test/perf checks it.
HBM_DATA_BYTES = {'HbmMsg1080P': 1920 * 1080 * 3, 'HbmMsg540P': 960 * 540 * 3,
                  'HbmMsg480P': 640 * 480 * 3}
#: The one encoding the board's mipi_cam puts in shared memory.
HBM_ENCODING = 'nv12'


@dataclass
class LoadSettings:
    """What to send and for how long.

    Attributes:
        width: Frame width.
        height: Frame height.
        encoding: Raw encoding ('bgr8', 'nv12', ...) or 'jpeg'/'png' (compressed input).
        fps: Frames per second sent.
        duration: Seconds of measured load (after the warm-up).
        interval: Seconds per row of the time series.
        warmup: Seconds of load before the measurement starts.
        photos: Image files the frames are made of (alternated); empty: DEFAULT_PHOTOS.
        parameters: Extra node parameters (name -> value).
        reliability: The camera publisher's reliability ('reliable' or 'best_effort'); empty:
            best_effort with `hbmem` (as mipi_cam publishes), else reliable.
        depth: The camera publisher's history depth.
        node_pid: Measure this running node instead of starting one.
        topic: Input topic of that node (default: <NAMESPACE>/image of the started one).
        namespace: Namespace of that node (where classification is published).
        node_log: Where the started node's output goes (default: a temporary file).
        rss_limit_mb: RSS growth allowed over the measurement.
        dds_profile: A Fast DDS XML profile both processes use (e.g. the package's
            scripts/fastdds_loopback.xml), 'none' for no profile; None keeps the environment's
            choice.
        camera_dds_profile: The camera's (and overlay viewer's) profile, over dds_profile.
        node_dds_profile: The node's profile, over dds_profile.
        overlay: Subscribe to the node's overlay as a viewer would (publish_overlay on) and
            count the overlays that arrive.
        baseline: Start the baseline node (perf.baseline_node: the node's subscription, and
            nothing done with the frames) instead of the classifier node.
        hbmem: Publish TROS shared-memory images (hbm_img_msgs HbmMsg*, nv12) to a node with
            input:=hbmem instead of sensor_msgs/Image.
        hbm_type: The HbmMsg type with `hbmem` (one of HBM_TYPES); None: HbmMsg1080P, and the
            node chooses its type from the graph (its hbmem_type parameter stays auto).
    """

    width: int = 1920
    height: int = 1080
    encoding: str = 'bgr8'
    fps: float = 60.0
    duration: float = 10.0
    interval: float = 5.0
    warmup: float = 3.0
    photos: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    reliability: str = ''
    depth: int = 1
    node_pid: int | None = None
    topic: str | None = None
    namespace: str = NAMESPACE
    node_log: Path | None = None
    rss_limit_mb: float = 20.0
    dds_profile: ProfileSetting = None
    camera_dds_profile: ProfileSetting = None
    node_dds_profile: ProfileSetting = None
    overlay: bool = False
    baseline: bool = False
    hbmem: bool = False
    hbm_type: str | None = None

    def __post_init__(self) -> None:
        if not self.reliability:
            self.reliability = 'best_effort' if self.hbmem else 'reliable'

    def check(self) -> None:
        """Raise ConfigError for values that cannot be run."""
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f'Frame size {self.width}x{self.height} must be positive')
        if self.fps <= 0 or self.duration <= 0 or self.interval <= 0 or self.warmup < 0:
            raise ConfigError(f'--fps {self.fps:g}, --duration {self.duration:g} and '
                              f'--interval {self.interval:g} must be positive, --warmup '
                              f'{self.warmup:g} not negative')
        if self.reliability not in CAMERA_RELIABILITIES:
            raise ConfigError(f'Reliability {self.reliability!r} is not one of: '
                              f'{", ".join(CAMERA_RELIABILITIES)}')
        if self.depth < 1:
            raise ConfigError(f'Publisher depth {self.depth} must be at least 1')
        if self.node_pid is not None and not self.topic:
            raise ConfigError('Measuring a running node (--node-pid) needs its input --topic')
        if self.baseline and (self.node_pid is not None or self.overlay or self.compressed
                              or self.parameters):
            raise ConfigError('--baseline starts its own node, which takes raw frames (Image or '
                              'hbmem) only and publishes nothing: no --node-pid, --overlay, '
                              f'--param or compressed --encoding ({self.encoding})')
        self._check_hbmem()
        if self.node_pid is not None and self.node_dds_profile is not None:
            raise ConfigError(f'--node-dds-profile {self.node_dds_profile} cannot change the '
                              f'profile of the running node {self.node_pid}')

    def _check_hbmem(self) -> None:
        if not self.hbmem:
            if self.hbm_type is not None:
                raise ConfigError(f'--hbm-type {self.hbm_type} needs --hbmem')
            return
        if self.encoding != HBM_ENCODING:
            raise ConfigError(f'--hbmem sends {HBM_ENCODING} (the only encoding mipi_cam puts in '
                              f'shared memory), not --encoding {self.encoding}')
        if self.camera_hbm_type not in HBM_TYPES:
            raise ConfigError(f'--hbm-type {self.camera_hbm_type} is not one of: '
                              f'{", ".join(HBM_TYPES)}')
        frame_bytes = self.width * self.height * 3 // 2
        array_bytes = HBM_DATA_BYTES[self.camera_hbm_type]
        if frame_bytes > array_bytes:
            raise ConfigError(f'A {self.width}x{self.height} nv12 frame of {frame_bytes} bytes '
                              f'does not fit the {array_bytes}-byte data array of '
                              f'{self.camera_hbm_type}')

    @property
    def camera_hbm_type(self) -> str:
        """The HbmMsg type the camera publishes with `hbmem` (hbm_type, else HbmMsg1080P)."""
        return self.hbm_type or HBM_TYPES[0]

    @property
    def input_mode(self) -> str:
        """The node's input parameter for these frames: 'raw', 'compressed' or 'hbmem'."""
        return 'hbmem' if self.hbmem else 'compressed' if self.compressed else 'raw'

    @property
    def camera_profile(self) -> ProfileSetting:
        """The camera side's profile setting (camera_dds_profile, else dds_profile)."""
        return self.dds_profile if self.camera_dds_profile is None else self.camera_dds_profile

    @property
    def node_profile(self) -> ProfileSetting:
        """The node side's profile setting (node_dds_profile, else dds_profile)."""
        return self.dds_profile if self.node_dds_profile is None else self.node_dds_profile

    @property
    def compressed(self) -> bool:
        """Whether frames go out as sensor_msgs/CompressedImage."""
        return self.encoding in COMPRESSED_FORMATS
