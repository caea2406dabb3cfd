"""Run records: atomic files and README blocks replaced in place."""

from __future__ import annotations

import json

import pytest

from fileio import write_json_atomic
from reporting.readme import replace_readme_block
from runner.records import provenance


def test_readme_block_is_replaced_and_nothing_else_changes(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- t:start -->\nold\n<!-- t:end -->\ntail\n<!-- u:start -->\nkeep\n<!-- u:end -->\n")
    replace_readme_block("t", "new table", readme)
    assert readme.read_text() == ("intro\n<!-- t:start -->\nnew table\n<!-- t:end -->\ntail\n"
                                  "<!-- u:start -->\nkeep\n<!-- u:end -->\n")
    assert not list(tmp_path.glob("*.tmp"))


def test_readme_without_markers_is_refused_untouched(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="<!-- t:start -->"):
        replace_readme_block("t", "x", readme)
    assert readme.read_text() == "no markers here\n"


def test_readme_with_markers_in_the_wrong_order_is_refused_untouched(tmp_path):
    readme = tmp_path / "README.md"
    text = "a\n<!-- t:end -->\nb\n<!-- t:start -->\nc\n"
    readme.write_text(text)
    with pytest.raises(ValueError, match="<!-- t:end --> comes before <!-- t:start -->"):
        replace_readme_block("t", "x", readme)
    assert readme.read_text() == text


def test_json_is_written_whole_and_provenance_names_what_matters(tmp_path):
    path = tmp_path / "sub" / "r.json"
    write_json_atomic(path, {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    record = provenance(seed=7)
    assert record["seed"] == 7 and record["packages"]["stable-baselines3"] and record["torch_threads"] >= 1


def test_atomic_files_get_the_usual_permissions_not_owner_only(tmp_path):
    import os

    from consolidation.memory import EpisodicMemory

    mask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
        memory = EpisodicMemory(4, 2, 1)
        memory.save(tmp_path / "m.npz")
        for name in ("r.json", "m.npz"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    finally:
        os.umask(mask)
