"""A run's config identity: what in its resolved config can change a result.

Paths, logging, the cache's own settings, the progress lines and SB3's progress bar are left out. The identity is
recorded in the run directory (a resumed run must have the same one) and, without its
protocol, keys the phase cache (which keys the protocol phase by phase instead).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: Top-level config keys that cannot change what a run computes.
NOT_IDENTITY = ("run_dir", "log_formats", "cache", "resume", "hydra", "progress")
#: Keys of ``agent`` that cannot change what a run computes.
AGENT_NOT_IDENTITY = ("progress_bar",)


def run_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved run config (a plain dict) that can change a result."""
    identity = {k: v for k, v in config.items() if k not in NOT_IDENTITY}
    if isinstance(identity.get("agent"), Mapping):
        identity["agent"] = {k: v for k, v in identity["agent"].items() if k not in AGENT_NOT_IDENTITY}
    return identity


def digest(payload: Any) -> str:
    """SHA-256 of a JSON-like payload (an identity, a cache key's parts); key order does not matter."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def differences(recorded: Any, current: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Every dotted key whose value differs between two identities: (key, recorded, current);
    a key present on one side only has ``<absent>`` on the other."""
    if isinstance(recorded, Mapping) and isinstance(current, Mapping):
        found = []
        for key in sorted(set(recorded) | set(current), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            found += differences(recorded.get(key, ABSENT), current.get(key, ABSENT), name)
        return found
    if isinstance(recorded, list) and isinstance(current, list) and len(recorded) == len(current):
        found = []
        for index, (a, b) in enumerate(zip(recorded, current, strict=True)):
            found += differences(a, b, f"{prefix}.{index}")
        return found
    return [] if recorded == current else [(prefix or "<config>", recorded, current)]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Absent)

    def __hash__(self) -> int:
        return 0


ABSENT = _Absent()
