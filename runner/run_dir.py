"""The run directory's description of itself: provenance, the config identity that made it and
the files of that config, checked before a resumed run touches anything.

A run directory holds one config's phases. Resuming it under another config (another seed,
strategy, budget, context...) would silently mix two experiments, so :meth:`RunDirectory.open`
refuses before any work, names every differing key with both values and leaves the directory
as it was.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fileio import write_json_atomic, write_text_atomic
from runner.identity import differences, digest
from runner.records import provenance

#: How a run directory made by another config is treated: ``check`` refuses it, ``accept`` resumes
#: it anyway (the finished phases stay as they were computed; the changes are recorded).
RESUME_MODES = ("check", "accept")


class RunDirectoryMismatch(ValueError):
    """The run directory was made by another config than the one asked to resume it."""


class RunDirectory:
    """``run_dir`` with ``run.json`` (provenance of every attempt, and the config identity) and the
    config files (e.g. ``.hydra/config.yaml``).

    Args:
        path: the run directory.
        identity: the run's config identity (:func:`runner.identity.run_identity`); None skips
            the check and records none (an experiment built by hand).
        config_files: relative path -> text, written once the identity is checked.
        resume: ``check`` (a directory made by another config is refused) or ``accept`` (it is
            resumed anyway, e.g. after fixing the learning rate of a phase that diverged: the
            finished phases are kept as computed, and the changed keys are recorded in ``run.json``).
    """

    def __init__(self, path: str | Path, identity: dict[str, Any] | None, config_files: dict[str, str],
                 resume: str = "check") -> None:
        if resume not in RESUME_MODES:
            raise ValueError(f"resume={resume!r} is not allowed: expected one of {list(RESUME_MODES)}")
        self.path, self.identity, self.config_files, self.resume = Path(path), identity, dict(config_files), resume
        self.accepted_changes: list[tuple[str, Any, Any]] = []

    def check(self) -> dict[str, Any] | None:
        """The first attempt's ``run.json`` (None for a new directory), after checking that it was
        made by this config; raises :class:`RunDirectoryMismatch` otherwise. Writes nothing."""
        path = self.path / "run.json"
        if not path.is_file():
            return None
        first = json.loads(path.read_text())
        recorded = first.get("identity")
        if self.identity is not None and recorded is None:
            print(f"motorsleep: warning: {self.path} records no config identity (made before identities were "
                  "recorded): resuming it without checking that the config is the same", file=sys.stderr)
        elif self.identity is not None and recorded != self.identity:
            found = differences(recorded, self.identity)
            if self.resume == "accept":
                self.accepted_changes = found
                print(f"motorsleep: resuming {self.path} under a changed config (resume=accept): "
                      + "; ".join(f"{key}: {_show(old)} -> {_show(new)}" for key, old, new in found), file=sys.stderr)
                return first
            lines = "\n".join(f"  {key}: {_show(old)} in the run directory, {_show(new)} now"
                              for key, old, new in found)
            raise RunDirectoryMismatch(
                f"{self.path} holds a run of another config; it is not resumed under this one. "
                f"{len(found)} key(s) differ:\n{lines}\nThe directory was left untouched: give this config a run "
                "directory of its own (hydra.run.dir=<new path>), rerun the recorded config to resume, or resume "
                "it under this config with resume=accept (its finished phases are kept as they were computed).")
        return first

    def open(self, seed: int) -> int:
        """Check the directory (:meth:`check`), then write the config files and this attempt's
        provenance. Returns the attempt's number (0 for the first)."""
        first = self.check()
        for name, text in self.config_files.items():
            write_text_atomic(self.path / name, text)
        record = provenance(seed)
        if first is None:
            if self.identity is not None:
                record.update(identity=self.identity, identity_digest=digest(self.identity))
            write_json_atomic(self.path / "run.json", record)
            return 0
        if self.accepted_changes:
            record["accepted_changes"] = [{"key": k, "recorded": old, "now": new}
                                          for k, old, new in self.accepted_changes]
        first.setdefault("resumed", []).append(record)
        write_json_atomic(self.path / "run.json", first)
        return len(first["resumed"])


def _show(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
