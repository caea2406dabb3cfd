"""Run records: atomic JSON files and the provenance every run directory carries.

A run directory must describe itself: command, seed, git revision, package versions and
thread count sit beside Hydra's resolved config, so that a number can be traced to what
produced it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("motorsleep", "torch", "mujoco", "gymnasium", "stable-baselines3", "hydra-core", "numpy",
            "omegaconf", "rliable", "pandas")
ROOT = Path(__file__).resolve().parents[1]


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write JSON to a temporary file in the same directory, fsync it, then rename over ``path``."""
    write_text_atomic(path, json.dumps(payload, indent=1, allow_nan=True) + "\n")


def git_revision() -> dict[str, Any]:
    """HEAD's commit and whether the work tree differs from it (None outside a git checkout)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, check=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None when it is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(seed: int) -> dict[str, Any]:
    """Everything about this process that can change a result."""
    return {
        "command": [sys.executable, *sys.argv],
        "seed": int(seed),
        "git": git_revision(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hydra_job": hydra_job(),
    }


def hydra_job() -> dict[str, Any] | None:
    """This job's own overrides and number when Hydra runs it (under a launcher ``command`` is
    the worker's argv, and for a sweep the whole sweep's): what reruns this one run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    config = HydraConfig.get()
    return {"overrides": list(config.overrides.task), "num": config.job.get("num"),
            "launcher": config.runtime.choices.get("hydra/launcher")}


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


def replace_readme_block(name: str, body: str, readme: str | Path = ROOT / "README.md") -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->``; nothing else changes."""
    readme = Path(readme)
    text = readme.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{readme} needs exactly one {start} ... {end} pair")
    if text.index(end) < text.index(start):
        raise ValueError(f"{readme}: {end} comes before {start}; expected the start marker first")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text_atomic(readme, f"{head}{start}\n{body}\n{end}{tail}")
