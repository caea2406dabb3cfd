"""The code digest that keys cached phases: blind to comments, docstrings and layout, sensitive to
any change of code, and covering exactly the files reached by imports from the run's modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.code_digest import code_digest, module_closure, source_digest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "consolidation", "runner", "fileio")

ORIGINAL = '''"""Scales rewards."""

SCALE = 2.0


def scaled(value, offset=0.0):
    """Return value times SCALE, plus offset."""
    result = value * SCALE
    return result + offset


class Scaler:
    """Holds a factor."""

    def __init__(self, factor):
        self.factor = factor
'''


def _digest(tmp_path: Path, source: str) -> str:
    path = tmp_path / "mod.py"
    path.write_text(source)
    return source_digest([path], tmp_path)


COMMENTED = (ORIGINAL.replace("SCALE = 2.0\n", "# the factor\nSCALE = 2.0\n")
             .replace("result = value * SCALE\n", "result = value * SCALE  # the scaled value\n"))
REDOCUMENTED = (ORIGINAL.replace("Return value times SCALE, plus offset.", "Scale a value (see SCALE).")
                .replace('"""Scales rewards."""', '"""Scales rewards.\n\nNow with a longer story."""'))
REFORMATTED = (ORIGINAL.replace("def scaled(value, offset=0.0):", "\n\ndef scaled(\n    value,\n    offset=0.0,\n):")
               .replace("return result + offset", "return (\n        result\n        + offset\n    )"))


@pytest.mark.parametrize("edited", [COMMENTED, REDOCUMENTED, REFORMATTED], ids=["comment", "docstring", "reformat"])
def test_digest_ignores_comments_docstrings_and_layout(tmp_path: Path, edited: str) -> None:
    assert edited != ORIGINAL
    assert _digest(tmp_path, edited) == _digest(tmp_path, ORIGINAL)


@pytest.mark.parametrize(
    "edited",
    [
        pytest.param(ORIGINAL.replace("SCALE = 2.0", "SCALE = 3.0"), id="constant"),
        pytest.param(ORIGINAL.replace("result", "total"), id="rename"),
        pytest.param(ORIGINAL.replace("result + offset", "result - offset"), id="operator"),
    ],
)
def test_digest_sees_code_changes(tmp_path: Path, edited: str) -> None:
    assert edited != ORIGINAL
    assert _digest(tmp_path, edited) != _digest(tmp_path, ORIGINAL)


def test_removing_the_only_statement_keeps_a_valid_tree(tmp_path: Path) -> None:
    """A body that is only a docstring digests like one that is only ``pass``; the code around it still counts."""
    only_doc = 'def f():\n    """Nothing."""\n'
    assert _digest(tmp_path, only_doc) == _digest(tmp_path, "def f():\n    pass\n")
    assert _digest(tmp_path, only_doc) != _digest(tmp_path, 'def g():\n    """Nothing."""\n')


def test_digest_covers_file_paths(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("X = 1\n")
    (tmp_path / "b.py").write_text("X = 1\n")
    assert source_digest([tmp_path / "a.py"], tmp_path) != source_digest([tmp_path / "b.py"], tmp_path)
    both = source_digest([tmp_path / "a.py", tmp_path / "b.py"], tmp_path)
    assert both == source_digest([tmp_path / "b.py", tmp_path / "a.py"], tmp_path)  # order-free
    assert both != source_digest([tmp_path / "a.py"], tmp_path)


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A tiny package."""\n')
    (pkg / "a.py").write_text("import numpy\nimport os.path\n\nfrom pkg.b import f\n\n\ndef g():\n    return f()\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n\n    return c.VALUE\n")
    (pkg / "c.py").write_text("VALUE = 1\n")
    (pkg / "unused.py").write_text("OTHER = 2\n")
    (tmp_path / "other.py").write_text("Y = 3\n")  # on disk but outside the packages: must be left out too
    (pkg / "a.py").write_text((pkg / "a.py").read_text() + "\n\ndef h():\n    import other\n\n    return other.Y\n")
    return pkg


def test_closure_follows_static_imports(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    closure = module_closure(["pkg.a"], tmp_path, ["pkg"])
    assert closure == tuple(sorted(pkg / name for name in ("__init__.py", "a.py", "b.py", "c.py")))


def test_a_newly_imported_file_joins_the_closure_and_the_digest(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    before = module_closure(["pkg.a"], tmp_path, ["pkg"])
    (pkg / "b.py").write_text("from .unused import OTHER\n\n\ndef f():\n    from . import c\n\n    return c.VALUE\n")
    after = module_closure(["pkg.a"], tmp_path, ["pkg"])
    assert pkg / "unused.py" not in before
    assert set(after) == set(before) | {pkg / "unused.py"}
    code_digest.cache_clear()
    assert code_digest(("pkg.a",), tmp_path, ("pkg",)) == source_digest(after, tmp_path)


def test_closure_includes_parent_packages_and_their_imports(tmp_path: Path) -> None:
    _package(tmp_path)
    sub = tmp_path / "pkg" / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("from ..c import VALUE\n")
    (sub / "leaf.py").write_text("X = 1\n")
    closure = module_closure(["pkg.sub.leaf"], tmp_path, ["pkg"])
    assert closure == tuple(sorted([tmp_path / "pkg" / "__init__.py", tmp_path / "pkg" / "c.py",
                                    sub / "__init__.py", sub / "leaf.py"]))


def test_unknown_root_is_an_error(tmp_path: Path) -> None:
    _package(tmp_path)
    with pytest.raises(ValueError, match=r"pkg\.missing"):
        module_closure(["pkg.a", "pkg.missing"], tmp_path, ["pkg"])
    with pytest.raises(ValueError, match="numpy"):
        module_closure(["numpy"], tmp_path, ["pkg"])


def test_code_digest_is_computed_once_per_process(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    code_digest.cache_clear()
    first = code_digest(("pkg.a",), tmp_path, ("pkg",))
    (pkg / "c.py").write_text("VALUE = 2\n")
    assert code_digest(("pkg.a",), tmp_path, ("pkg",)) == first  # the code as first read
    code_digest.cache_clear()
    assert code_digest(("pkg.a",), tmp_path, ("pkg",)) != first


def test_closure_of_the_real_sleep_module() -> None:
    closure = module_closure(["consolidation.sleep"], ROOT, PACKAGES)
    relative = {path.relative_to(ROOT).as_posix() for path in closure}
    assert {"consolidation/neuromodulation.py", "consolidation/memory.py", "agents/subcortical.py",
            "consolidation/__init__.py", "agents/__init__.py"} <= relative
    assert not any(name.startswith(("scripts/", "tests/")) for name in relative)
    assert all(name.partition("/")[0] in PACKAGES for name in relative)
