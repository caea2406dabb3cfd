"""Phase checkpoints: what a finished phase leaves behind, verified before it is trusted.

A phase folder holds the cortical model, the subcortical weights and the memory, then
``phase.json`` last: the phase's record, its test row, the novelty statistics and a manifest
(size and SHA-256 of every file). A folder without a valid ``phase.json``, or whose files
no longer match the manifest, is an unfinished phase: it is recomputed, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from fileio import atomic_path, write_json_atomic

MARKER = "phase.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def phase_folder(run_dir: Path, index: int, name: str) -> Path:
    return Path(run_dir) / "phases" / f"{index:02d}_{name}"


def begin(folder: Path) -> None:
    """Start a phase's folder from scratch (an earlier, unfinished attempt is discarded)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def finish(folder: Path, state: dict[str, Any]) -> None:
    """Seal a phase: manifest every file written so far, then write ``phase.json`` atomically."""
    manifest = {}
    for path in sorted(folder.iterdir()):
        if path.name != MARKER and path.is_file() and not path.name.startswith("."):  # not temporaries
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            manifest[path.name] = {"bytes": path.stat().st_size, "sha256": sha256(path)}
    write_json_atomic(folder / MARKER, {**state, "manifest": manifest})


def verified_state(folder: Path, missing_ok: bool = False) -> dict[str, Any] | None:
    """The sealed state of a finished phase, or None if it is unfinished or damaged.

    A damaged file (wrong size or hash) is reported on stderr by name, so that a user sees
    why a phase is being recomputed. ``missing_ok``: a file of the manifest that is absent
    is no damage (a copy of a run kept with only the files something reads, such as the
    policies a figure renders); the files present must still match.
    """
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        state = json.loads(marker.read_text())
        manifest = state["manifest"]
    except (json.JSONDecodeError, KeyError, OSError) as error:
        _warn(f"{marker} is unreadable ({error}); recomputing the phase")
        return None
    for name, entry in manifest.items():
        path = folder / name
        if missing_ok and not path.exists():
            continue
        if not path.is_file() or path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            _warn(f"{path} does not match its checksum in {marker}; recomputing the phase")
            return None
    return state


def _warn(message: str) -> None:
    print(f"motorsleep: {message}", file=sys.stderr)


def save_tensors(state: dict[str, Any], path: Path) -> None:
    """Tensors and numbers with ``torch.save``, under a temporary name, then renamed."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def save_sb3(model, path: Path) -> None:
    """SB3's zip, written under a temporary name and renamed."""
    with atomic_path(path, suffix=".tmp.zip") as tmp:  # SB3 appends .zip to any other name
        model.save(tmp)
