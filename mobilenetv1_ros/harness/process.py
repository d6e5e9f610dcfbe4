"""The classifier node as a child process: its command line, its log, and stopping it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ['NodeProcess', 'node_command']

def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_format_value(item) for item in value) + ']'
    if isinstance(value, str) and value == '':
        return "''"
    return str(value)


def node_command(parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None, *, namespace: str = '',
                 params_file: str | Path | None = None, log_level: str | None = None,
                 python: str = sys.executable) -> list[str]:
    """Return the command that runs the classifier node with the given ROS arguments."""
    command = [python, '-m', 'mobilenetv1_ros.node', '--ros-args']
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


class NodeProcess:
    """The classifier node in a child process, its console output captured to a file.

    Args:
        command: From node_command().
        log_path: File that receives the node's stdout and stderr.
        env: Environment of the child (the ROS isolation variables included).
        cwd: Working directory of the child.
    """

    def __init__(self, command: Sequence[str], log_path: str | Path,
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> None:
        self.log_path = Path(log_path)
        self._log = self.log_path.open('wb')
        self.process = subprocess.Popen(list(command), env=None if env is None else dict(env),
                                        cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        """Return what the node printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding='utf-8', errors='replace')

    def wait(self, timeout: float) -> int | None:
        """Wait for the node to exit; return its exit code, None if it still runs."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        """Send a signal and wait for the exit code; kill the node if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.wait(timeout)
        if code is None:
            self.process.send_signal(signal.SIGUSR1)  # the node dumps its threads' stacks
            time.sleep(1.0)
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code


