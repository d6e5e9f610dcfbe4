"""Stop signals: SIGINT, SIGTERM and SIGHUP end a long-running tool the same clean way.

systemd, `docker stop` and `timeout` send SIGTERM, a closed terminal sends SIGHUP; a tool that
only handles Ctrl-C dies on those without committing its output. `stop_signals()` installs one
handler for all three:

- Outside `polling()`, the first signal raises `Interrupted` (a KeyboardInterrupt, so existing
  `except KeyboardInterrupt` code handles it) in the main thread.
- Inside `polling()`, a signal only sets `event`; the code checks it between units of work, so
  no exception lands in the middle of a write or a queue operation.
- Any later signal never raises (cleanup is running); it says so on stderr. The `force_after`-th
  signal ends the process at once without cleanup, for a cleanup that hangs.

The exit code of a stopped tool is 128 + the signal number (130 SIGINT, 143 SIGTERM, 129
SIGHUP), as a shell reports a process killed by that signal.

Example (`run_stoppable` is this with the exit code of a stopped setup):
    with stop_signals() as signals:
        setup()                          # a signal here raises Interrupted
        with signals.polling():
            while not signals.event.is_set():
                work()
        return signals.exit_code or 0
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    'STOP_SIGNALS',
    'Interrupted',
    'StopSignals',
    'exit_code_of',
    'run_stoppable',
    'signal_name',
    'stop_signals',
]

#: The signals that stop a tool (SIGHUP where the platform has it).
STOP_SIGNALS: tuple[int, ...] = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, 'SIGHUP', None)) if s is not None)


def exit_code_of(signum: int) -> int:
    """Return the exit code of a tool stopped by `signum`: 128 + the signal number."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    """Return a signal's name ('SIGTERM'), or 'signal N' for a number without one."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f'signal {signum}'


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f'stopped by {signal_name(signum)}')
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number."""
        return exit_code_of(self.signum)


class StopSignals:
    """The state of `stop_signals()`: whether, and by which signal, a stop was asked for.

    Attributes:
        event: Set by the first stop signal.
        signum: The first signal's number, None until one arrives.
        count: Stop signals received so far.
    """

    def __init__(self, force_after: int = 3, stream: TextIO | None = None) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self.count = 0
        self.force_after = force_after
        self._stream = stream
        self._polling = 0
        self._raised = False

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived."""
        return self.event.is_set()

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal's number, or None when no signal arrived."""
        return None if self.signum is None else exit_code_of(self.signum)

    @contextmanager
    def polling(self) -> Iterator[threading.Event]:
        """Within this block signals only set `event` (yielded); nothing is raised."""
        self._polling += 1
        try:
            yield self.event
        finally:
            self._polling -= 1

    def note(self, text: str) -> None:
        """Write one line to the stream (stderr); a closed terminal (SIGHUP) is ignored."""
        stream = self._stream or sys.stderr
        try:
            stream.write(text + '\n')
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal (SIGHUP) must not turn the stop into a crash

    def handle(self, signum: int, _frame: Any = None) -> None:
        """Handle one stop signal (the installed handler; also callable directly)."""
        self.count += 1
        if self.signum is None:
            self.signum = signum
            self.event.set()
        if self.count >= self.force_after > 1:
            self.note(f'{signal_name(signum)} received {self.count} times: exiting at once, '
                      'without cleanup')
            os._exit(exit_code_of(self.signum))
        if self.count > 1:
            left = self.force_after - self.count
            self.note(f'{signal_name(signum)}: already stopping, finishing what was done'
                      + (f' (send it {left} more time(s) to exit at once)' if left > 0 else ''))
            return
        if self._polling or self._raised:
            return
        self._raised = True
        raise Interrupted(signum)


@contextmanager
def stop_signals(signals: Sequence[int] = STOP_SIGNALS, *, force_after: int = 3,
                 stream: TextIO | None = None) -> Iterator[StopSignals]:
    """Handle `signals` as described in the module docstring while the block runs.

    Off the main thread (where Python cannot install handlers) the state is returned unarmed:
    `event` is never set by a signal. The previous handlers are restored on exit.

    Args:
        signals: Signal numbers to handle (default SIGINT, SIGTERM, SIGHUP).
        force_after: The signal count that exits at once without cleanup (0 or 1: never).
        stream: Where the notes about repeated signals go (default stderr).
    """
    state = StopSignals(force_after, stream)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            previous[signum] = signal.signal(signum, state.handle)
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            # None: a handler not installed from Python; the default is the safe stand-in.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def run_stoppable(main: Callable[[StopSignals], int], prog: str, *,
                  stream: TextIO | None = None) -> int:
    """Run `main(signals)` under `stop_signals()`; return its exit code or 128 + the signal.

    A signal outside `polling()` raises Interrupted wherever the main thread is, and some code
    turns that into another error (an import interrupted half-way fails as ImportError, a
    library wraps it in its own error). Once a stop signal has arrived, any exception that
    ends `main` therefore means "stopped": it becomes one line on stderr and the signal's exit
    code, never a traceback or an unrelated error code.

    Args:
        main: The tool's body; returns its exit code.
        prog: The tool's name for the message ('mobilenetv1-ros bag classify').
        stream: Where the message goes (default stderr).
    """
    with stop_signals(stream=stream) as signals:
        try:
            return int(main(signals))
        except Exception as error:  # noqa: BLE001 - see the docstring
            if signals.signum is None:
                raise
            signals.note(f'{prog}: stopped by {signal_name(signals.signum)} '
                         f'({type(error).__name__} while stopping)')
            return exit_code_of(signals.signum)
        except KeyboardInterrupt:
            return signals.exit_code or 130
