"""The classifier node as a child process: its command line, its log, waiting for it, stopping it.

The one place that starts, watches and stops a node process; the demo, the load and benchmark
tools and the tests all use it. Pure Python: never imports rclpy.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from mobilenetv1_ros.harness.peer import ClassifierPeer

__all__ = [
    'NODE_MODULE',
    'LogSummary',
    'NodeProcess',
    'ParameterValue',
    'node_command',
    'wait_for_subscription',
]

#: The module `python -m` runs to start the classifier node.
NODE_MODULE = 'mobilenetv1_ros.node'
#: Seconds between the SIGUSR1 stack dump and SIGKILL of a node that did not stop.
_DUMP_GRACE_S = 1.0
#: Seconds the node gets to match the camera's reliability once it has subscribed.
_RELIABILITY_WAIT_S = 5.0

ParameterValue = Union[bool, int, float, str, 'Sequence[ParameterValue]']


def _format_value(value: ParameterValue) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return "''" if value == '' else value
    if isinstance(value, (int, float)):
        return str(value)
    return '[' + ', '.join(_format_value(item) for item in value) + ']'


def node_command(parameters: Mapping[str, ParameterValue] | None = None,
                 remappings: Mapping[str, str] | None = None, *, namespace: str = '',
                 params_file: str | Path | None = None, log_level: str | None = None,
                 python: str = sys.executable, module: str = NODE_MODULE,
                 module_args: Sequence[str] = ()) -> list[str]:
    """Return the command that runs the classifier node with the given ROS arguments.

    Args:
        parameters: Node parameters, rendered as `-p name:=value`.
        remappings: Topic remappings, rendered as `-r from:=to`.
        namespace: The node's namespace ('' keeps the root).
        params_file: A ROS parameters YAML file.
        log_level: The node's log level (e.g. 'warn').
        python: The interpreter.
        module: The module run with `-m` (an instrumented wrapper of the node, for instance).
        module_args: Arguments of that module, before `--ros-args`.
    """
    command = [python, '-m', module, *module_args, '--ros-args']
    if params_file is not None:
        command += ['--params-file', str(params_file)]
    for name, value in (parameters or {}).items():
        command += ['-p', f'{name}:={_format_value(value)}']
    for source, target in (remappings or {}).items():
        command += ['-r', f'{source}:={target}']
    if namespace:
        command += ['-r', f'__ns:={namespace}']
    if log_level:
        command += ['--log-level', log_level]
    return command


def _is_warning(line: str) -> bool:
    return line.startswith(('[WARN]', '[ERROR]', '[FATAL]')) or ' WARN' in line[:40]


@dataclass(frozen=True)
class LogSummary:
    """What a node printed, counted.

    Attributes:
        lines: Lines of output.
        warning_lines: Lines logged at WARN, ERROR or FATAL.
        traceback: Whether a Python traceback was printed.
    """

    lines: int
    warning_lines: int
    traceback: bool

    @classmethod
    def of(cls, text: str) -> LogSummary:
        """Count the lines, warnings and tracebacks of a log."""
        lines = text.splitlines()
        return cls(len(lines), sum(1 for line in lines if _is_warning(line)),
                   'Traceback' in text)


class NodeProcess:
    """The classifier node in a child process, its console output captured to a file.

    Usable as a context manager: leaving the block stops the node if it still runs.

    Args:
        command: From node_command().
        log_path: File that receives the node's stdout and stderr.
        env: Environment of the child (the ROS isolation variables included); None: this
            process's environment as it is now.
        cwd: Working directory of the child.
    """

    def __init__(self, command: Sequence[str], log_path: str | Path,
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> None:
        self.command = list(command)
        self.log_path = Path(log_path)
        self._log = self.log_path.open('wb')
        self.process = subprocess.Popen(self.command, env=None if env is None else dict(env),
                                        cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT)
        self.alive_at_stop: bool | None = None

    @property
    def pid(self) -> int:
        """Process id of the node."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """Exit code, None while the node runs."""
        return self.process.poll()

    def running(self) -> bool:
        """Whether the node still runs."""
        return self.process.poll() is None

    def log(self) -> str:
        """Return what the node printed so far."""
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(encoding='utf-8', errors='replace')
        except OSError:
            return ''

    def tail(self, lines: int = 20) -> str:
        """Return the last lines the node printed."""
        return '\n'.join(self.log().splitlines()[-lines:])

    def summary(self) -> LogSummary:
        """Count the node's output lines, warnings and tracebacks."""
        return LogSummary.of(self.log())

    def wait(self, timeout: float) -> int | None:
        """Wait for the node to exit; return its exit code, None if it still runs."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        """Send a signal and wait for the exit code; kill the node if it does not exit.

        A node that does not exit in time first gets SIGUSR1, on which it prints the stacks of
        its threads into the log, then SIGKILL. Stopping a stopped node returns its exit code.
        """
        if self.alive_at_stop is None:
            self.alive_at_stop = self.running()
        if self.running():
            self.process.send_signal(sig)
        code = self.wait(timeout)
        if code is None:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(_DUMP_GRACE_S)
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def wait_for_subscription(peer: ClassifierPeer, process: NodeProcess | None, timeout: float,
                          reliability: str | None = None) -> None:
    """Wait until the node subscribes to the peer's camera topic.

    Args:
        peer: The camera; its image topic is the node's input.
        process: The node's process, to notice it exiting; None for a node started elsewhere.
        timeout: Seconds to wait for the subscription.
        reliability: When given, also wait (a few seconds) until the node's subscription has
            this reliability: the node listens best effort until it has matched the camera.

    Raises:
        ConfigError: The node exited before subscribing (the message holds its last output)
            or did not subscribe within the timeout.
    """
    deadline = time.monotonic() + timeout
    while not peer.wait_for_node(timeout=min(1.0, timeout)):
        if process is not None and not process.running():
            raise ConfigError(f'The node exited with code {process.returncode} before '
                              f'subscribing to {peer.image_topic}: {process.tail()}')
        if time.monotonic() > deadline:
            raise ConfigError(f'The node did not subscribe to {peer.image_topic} within '
                              f'{timeout:g} s')
    if reliability is not None:
        peer.wait_for(lambda: peer.node_reliability() == [reliability], _RELIABILITY_WAIT_S)
        peer.wait_for_node(_RELIABILITY_WAIT_S)
