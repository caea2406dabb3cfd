"""Files written so that a crash never leaves a half-written one: a temporary file beside the
target, fsynced, then renamed over it.

The lowest layer of the project: checkpoints, memories, results, caches and reports all write
through it, so it imports nothing of ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it is fsynced, given the usual
    permissions (``0o666`` less the umask, not mkstemp's owner-only ``0o600``, so that a shared
    cache or results folder stays readable) and renamed over ``path``; on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text through a temporary file in the same directory and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write JSON to a temporary file in the same directory, fsync it, then rename over ``path``."""
    write_text_atomic(path, json.dumps(payload, indent=1, allow_nan=True) + "\n")
