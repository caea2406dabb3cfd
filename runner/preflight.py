"""The directories a run writes, checked before it writes anything: the run directory and, when
the phase cache is on, the cache directory. A run that could not seal its first phase, or that
would fail on the cache's lock after its first wake, is stopped at its start instead, with the
path and what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UnwritableDirectory(OSError):
    """A directory the run needs cannot be made or written; the message names it and the fix."""

    def __str__(self) -> str:
        return self.args[0]


def check_run_dir(path: Path) -> None:
    """``path`` is (or can be made) a directory this process can write."""
    problem = _unwritable(path)
    if problem:
        raise UnwritableDirectory(f"the run directory {path} (hydra.run.dir) {problem}: give a directory "
                                  "you can write, e.g. hydra.run.dir=<path>")


def check_cache(cache) -> None:
    """The phase cache's directory can be written (a disabled or absent cache is not checked)."""
    if cache is None or not cache.enabled:
        return
    problem = _unwritable(Path(cache.root))
    if problem:
        raise UnwritableDirectory(f"the phase cache directory {cache.root} (cache.dir) {problem}: set "
                                  "cache.enabled=false to compute every phase without it, or cache.dir=<a "
                                  "directory you can write>")


def _unwritable(path: Path) -> str | None:
    """Why ``path`` is no writable directory (None if it is one). May create the directory, as
    the run would."""
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                return f"cannot be made: {parent} is a file, not a directory"
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".motorsleep-write-check."):
            pass
    except OSError as error:
        return f"cannot be written ({error.strerror or error})"
    if not os.access(path, os.W_OK | os.X_OK):
        return "cannot be written (permission denied)"
    return None
