"""README blocks: every published table sits between ``<!-- name:start -->`` and
``<!-- name:end -->`` markers and is replaced only by the script that rebuilds it."""

from __future__ import annotations

from pathlib import Path

from fileio import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]


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


def not_measured(what: str, command: str) -> str:
    """A README block's text before its first measurement: what is missing and the command that
    makes it (run on an idle machine: other jobs on the cores change every time)."""
    return f"{what}: not yet measured at this revision; rebuild with `{command}` on an idle machine."
