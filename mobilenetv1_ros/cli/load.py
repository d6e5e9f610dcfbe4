"""Sustained load on the node: camera frames at a fixed rate, with rates, ages, RSS and CPU.

Starts the classifier node in a child process (or measures one already running, --node-pid),
publishes frames made from real photos at the requested size, encoding and rate for
--duration seconds after a warm-up, and prints a time series (frames sent, the node's input
and output rates and drops, frame age p50/p95/p99, the node's RSS, CPU and threads) and a
summary: totals, frame age (classification received here minus its frame's stamp), the
node's own callback-to-publish age and inference time, RSS at start and end, CPU use of the
node, of this tool and of the machine, and pass/fail checks (node alive, RSS growth within
--rss-limit, p95 frame age within one inference plus one frame period, clean exit on SIGINT).
Exit code 0 when every check passes, 1 otherwise.

Examples:
  mobilenetv1-ros load --duration 60                                 # 1920x1080 bgr8, 60 fps
  mobilenetv1-ros load --size 960x544 --encoding nv12 --fps 30 --duration 60
  mobilenetv1-ros load --duration 60 --dds-profile scripts/fastdds_loopback.xml
  mobilenetv1-ros load --camera-dds-profile scripts/fastdds_loopback.xml --node-dds-profile none
  mobilenetv1-ros load --overlay --reliability best_effort   # and view the node's overlay
  mobilenetv1-ros load --hbmem --size 960x544 --encoding nv12 --fps 30   # as the board's mipi_cam
  mobilenetv1-ros load --hbmem --hbm-type HbmMsg540P --size 960x540 --encoding nv12 --baseline
  mobilenetv1-ros load --param backend:=bpu --duration 600 --save soak.json
  mobilenetv1-ros load --node-pid 4242 --topic /image_raw --namespace / --duration 30
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mobilenetv1_ros.cli.output import add_output_arguments, emit
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.fastdds import NO_PROFILE
from mobilenetv1_ros.harness.frames import FRAME_ENCODINGS
from mobilenetv1_ros.perf.benchmark import parse_size
from mobilenetv1_ros.perf.load_settings import (
    CAMERA_RELIABILITIES,
    DEFAULT_PHOTOS,
    HBM_ENCODING,
    LoadSettings,
)
from mobilenetv1_ros.ros.params import HBM_TYPES
from mobilenetv1_ros.perf.load_text import format_report

if TYPE_CHECKING:
    import argparse

__all__ = ['add_arguments', 'parse_parameter', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the load arguments."""
    frames = parser.add_argument_group('frames')
    defaults = LoadSettings()
    frames.add_argument('--size', default=f'{defaults.width}x{defaults.height}', metavar='WxH',
                        help='frame size (default: %(default)s)')
    frames.add_argument('--encoding', default=defaults.encoding, choices=FRAME_ENCODINGS,
                        help='frame encoding; jpeg and png publish CompressedImage to a node '
                             'with input:=compressed (default: %(default)s)')
    frames.add_argument('--fps', type=float, default=defaults.fps,
                        help='frames per second (default: %(default)s)')
    frames.add_argument('--image', dest='photos', type=Path, action='append', default=[],
                        metavar='FILE',
                        help='photo to make frames of; repeat to alternate several (default: '
                             f'the bundled {" and ".join(DEFAULT_PHOTOS)} test photos)')
    frames.add_argument('--reliability', default=None, choices=CAMERA_RELIABILITIES,
                        help="the camera publisher's reliability (default: best_effort with "
                             '--hbmem, as mipi_cam publishes, else reliable)')
    frames.add_argument('--hbmem', action='store_true',
                        help='publish TROS shared-memory images (hbm_img_msgs, --encoding '
                             f'{HBM_ENCODING} only) as the RDK X5 camera does, to a node with '
                             'input:=hbmem')
    frames.add_argument('--hbm-type', default=None, choices=HBM_TYPES,
                        help=f'the HbmMsg type with --hbmem (default: {HBM_TYPES[0]}, and the '
                             'node takes the type it sees on the graph); given, it is also the '
                             "node's hbmem_type")
    frames.add_argument('--depth', type=int, default=defaults.depth,
                        help="the camera publisher's history depth (default: %(default)s)")
    timing = parser.add_argument_group('timing')
    timing.add_argument('--duration', type=float, default=defaults.duration, metavar='S',
                        help='seconds of measured load (default: %(default)s)')
    timing.add_argument('--warmup', type=float, default=defaults.warmup, metavar='S',
                        help='seconds of load before the measurement (default: %(default)s)')
    timing.add_argument('--interval', type=float, default=defaults.interval, metavar='S',
                        help='seconds per row of the time series (default: %(default)s)')
    node = parser.add_argument_group('node')
    node.add_argument('--param', dest='parameters', action='append', default=[],
                      metavar='NAME:=VALUE',
                      help='node parameter, e.g. backend:=bpu or num_threads:=1 (repeatable)')
    node.add_argument('--node-pid', type=int, default=None, metavar='PID',
                      help='measure this running node instead of starting one (needs --topic)')
    node.add_argument('--topic', default=None,
                      help='input topic of the running node, e.g. /image_raw')
    node.add_argument('--namespace', default='/',
                      help='namespace of the running node (default: %(default)s)')
    node.add_argument('--dds-profile', type=_profile, default=None, metavar='XML|none',
                      help='Fast DDS profile for both sides, e.g. scripts/fastdds_loopback.xml '
                           '(32 MiB shared-memory segments, UDP on 127.0.0.1 only: needed for '
                           "1080p at camera rates), or none; default: the environment's "
                           '$FASTDDS_DEFAULT_PROFILES_FILE, else the RMW defaults')
    node.add_argument('--camera-dds-profile', type=_profile, default=None, metavar='XML|none',
                      help='Fast DDS profile of the camera (this process, also the overlay '
                           'viewer) only, over --dds-profile')
    node.add_argument('--node-dds-profile', type=_profile, default=None, metavar='XML|none',
                      help='Fast DDS profile of the started node only, over --dds-profile')
    node.add_argument('--overlay', action='store_true',
                      help="turn the node's publish_overlay on and view the overlay here (a "
                           'subscriber of --reliability), counting the overlays that arrive')
    node.add_argument('--baseline', action='store_true',
                      help='start, instead of the classifier, a node that subscribes to the '
                           'frames as it does (raw Image or hbmem, serialized, same QoS and '
                           'executor) and does nothing with them: its CPU per frame is the '
                           'part rclpy and the middleware take '
                           '(mobilenetv1_ros/perf/baseline_node.py)')
    node.add_argument('--node-log', type=Path, default=None, metavar='FILE',
                      help="keep the started node's output in FILE")
    out = parser.add_argument_group('output')
    out.add_argument('--rss-limit', type=float, default=defaults.rss_limit_mb, metavar='MB',
                     help='RSS growth allowed over the measurement (default: %(default)s)')
    add_output_arguments(out, 'report')


def _profile(text: str) -> Path | Literal['none']:
    """Parse a profile option's value: 'none' or an XML file path."""
    return NO_PROFILE if text == NO_PROFILE else Path(text)


def parse_parameter(text: str) -> tuple[str, Any]:
    """Parse NAME:=VALUE the way `ros2 run --ros-args -p` does (bool, int, float, string).

    Raises:
        ConfigError: No ':=' in the text or an empty name.
    """
    name, separator, raw = text.partition(':=')
    if not separator or not name:
        raise ConfigError(f'Parameter {text!r} is not NAME:=VALUE')
    value: Any = raw
    if raw.lower() in ('true', 'false'):
        value = raw.lower() == 'true'
    else:
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
    return name, value


def run(args: argparse.Namespace) -> int:
    """Run the load, print the report; exit 1 when a check fails."""
    # Imported here: the load tool needs rclpy, which the other subcommands do not.
    from mobilenetv1_ros.perf.load import run_load

    width, height = parse_size(args.size)
    settings = LoadSettings(
        width=width, height=height, encoding=args.encoding, fps=args.fps,
        duration=args.duration, interval=args.interval, warmup=args.warmup,
        photos=list(args.photos), parameters=dict(parse_parameter(p) for p in args.parameters),
        reliability=args.reliability or '', depth=args.depth, node_pid=args.node_pid,
        topic=args.topic, namespace=args.namespace, node_log=args.node_log,
        rss_limit_mb=args.rss_limit, dds_profile=args.dds_profile,
        camera_dds_profile=args.camera_dds_profile, node_dds_profile=args.node_dds_profile,
        overlay=args.overlay, baseline=args.baseline, hbmem=args.hbmem, hbm_type=args.hbm_type)
    report = run_load(settings, log=lambda message: print(f'[load] {message}', file=sys.stderr,
                                                          flush=True))
    emit(args, report, lambda: print(format_report(report)))
    if args.node_pid is None and report['node'].get('exit_code') is None:
        raise ConfigError('The node did not stop')
    return 0 if all(check['ok'] for check in report['checks']) else 1
