"""Fault injection for the resume tests: a process that kills itself at a named point, as a
real crash would (nothing gets to clean up)."""

from __future__ import annotations

import os
import signal


def crash_point(tag: str) -> None:
    """SIGKILL this process at ``tag`` when ``MOTORSLEEP_CRASH_AT`` names it (e.g.
    ``2:mid_checkpoint``). A no-op otherwise."""
    if os.environ.get("MOTORSLEEP_CRASH_AT") == tag:
        os.kill(os.getpid(), signal.SIGKILL)
