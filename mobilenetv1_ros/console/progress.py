"""Progress bars for the command-line tools: tqdm on a terminal, silent elsewhere."""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ['progress_bar']


def progress_bar(total: int | None = None, label: str = '', *, enabled: bool | None = None,
                 unit: str = 'frame') -> tqdm:
    """Return a tqdm bar on stderr with the rate in `unit`/s and an ETA when total is known.

    Args:
        total: Expected steps; None or 0 when unknown (settable later as `bar.total`).
        label: Text before the bar.
        enabled: True or False forces the bar on or off; None draws only on a terminal.
        unit: Name of one step.
    """
    return tqdm(total=total or None, desc=label or None, unit=unit, file=sys.stderr,
                disable=None if enabled is None else not enabled, dynamic_ncols=True)
