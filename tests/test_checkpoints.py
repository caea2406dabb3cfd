"""Sealed phase folders: a kept copy with only some files verifies what it holds."""

from __future__ import annotations

from runner import checkpoints


def test_a_partial_copy_verifies_only_with_missing_ok_and_its_files_must_still_match(tmp_path):
    folder = tmp_path / "00_wake_A"
    checkpoints.begin(folder)
    (folder / "cortical.zip").write_bytes(b"cortex")
    (folder / "memory.npz").write_bytes(b"memory")
    checkpoints.finish(folder, {"record": {}})
    (folder / "memory.npz").unlink()
    assert checkpoints.verified_state(folder) is None  # a run's own phase: recomputed
    assert checkpoints.verified_state(folder, missing_ok=True)["manifest"].keys() == {"cortical.zip", "memory.npz"}
    (folder / "cortical.zip").write_bytes(b"cortEx")
    assert checkpoints.verified_state(folder, missing_ok=True) is None
