"""A digest of the source code a run depends on, for keying cached phases.

The phase cache must recompute a phase when the code that produced it changes, and only then.
Hashing the raw bytes of a hand-kept list of files gets both sides wrong: a comment edit
invalidates every entry, and a new file missing from the list silently reuses stale results.
Here the files are found by following imports from the modules a run starts from
(:func:`module_closure`), and each is hashed as its syntax tree without docstrings
(:func:`source_digest`), so comments, docstrings and formatting leave the key unchanged.

Standard library only: this module must not import the code it digests.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

_DOC_HOLDERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _module_file(name: str, root_dir: Path) -> Path | None:
    """The file of dotted module ``name`` under ``root_dir`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    base = root_dir.joinpath(*name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name an import statement anywhere in ``tree`` may load, for ``module``.

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c``, since ``c`` may be a submodule or a
    name; candidates that are not files are dropped by the caller.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the current package, each further dot one package up
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts) - 1:
                    continue  # beyond the top-level package: an error at import time, nothing to follow
                anchor = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def direct_imports(module: str, root_dir: Path, packages: Iterable[str]) -> set[str]:
    """The modules of ``packages`` under ``root_dir`` that ``module``'s own import statements name
    (not their parent packages, nor what those import in turn): the edges of the import graph."""
    path = _module_file(module, root_dir)
    if path is None:
        raise ValueError(f"module {module!r} does not exist under {root_dir}")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    allowed = set(packages)
    return {name for name in _imported_names(tree, module, path.name == "__init__.py")
            if name.partition(".")[0] in allowed and name != module and _module_file(name, root_dir) is not None}


def module_closure(roots: Iterable[str], root_dir: Path, packages: Iterable[str]) -> tuple[Path, ...]:
    """The source files loaded by importing ``roots`` (dotted module names), found statically.

    Follows ``import a.b``, ``from a.b import c`` (``c`` a submodule or a name), relative imports,
    and imports nested in functions or ``if`` blocks, transitively. A module is kept only if its
    top-level package is in ``packages`` and it is a file under ``root_dir``, so third-party and
    standard-library imports are ignored. Importing ``a.b.c`` runs ``a/__init__.py`` and
    ``a/b/__init__.py``, so those are included and their imports followed too.

    Dynamic imports (``importlib.import_module`` with a computed name, ``__import__``) are not
    followed: a module loaded only that way must be imported statically from some root, or be
    passed as a root itself. Returns the sorted, de-duplicated tuple of files.

    Raises:
        ValueError: a root is not a module file under ``root_dir`` or is outside ``packages``.
    """
    root_dir = Path(root_dir)
    allowed = set(packages)
    todo: list[str] = []
    for root in roots:
        if root.partition(".")[0] not in allowed:
            raise ValueError(f"root module {root!r} is not in the packages {sorted(allowed)}")
        if _module_file(root, root_dir) is None:
            raise ValueError(f"root module {root!r} does not exist under {root_dir}")
        todo.append(root)
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen or name.partition(".")[0] not in allowed:
            continue
        seen.add(name)
        path = _module_file(name, root_dir)
        if path is None:
            continue  # a name imported with ``from``, or a module outside root_dir
        files.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages' __init__.py
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        todo.extend(_imported_names(tree, name, path.name == "__init__.py"))
    return tuple(sorted(files))


def _normalised(source: str, filename: str) -> str:
    """``source``'s syntax tree without docstrings, as text: blind to comments, docstrings and layout."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, _DOC_HOLDERS) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def source_digest(files: Iterable[Path], root_dir: Path) -> str:
    """SHA-256 hex digest of ``files``' code and their paths relative to ``root_dir``.

    Each file contributes its relative path and its syntax tree with docstrings removed, in sorted
    order, so comments, docstrings, blank lines and formatting do not change the digest while any
    change of code (a constant, a name, an expression), a renamed file or an added file does.
    The tree dump may differ between Python versions, so the digest is tied to the interpreter's.
    """
    root_dir = Path(root_dir).resolve()
    entries = sorted((Path(f).resolve().relative_to(root_dir).as_posix(), Path(f)) for f in files)
    digest = hashlib.sha256()
    for relative, path in entries:
        for part in (relative, _normalised(path.read_text(encoding="utf-8"), str(path))):
            data = part.encode()
            digest.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no two lists collide
    return digest.hexdigest()


@functools.cache  # functools.lru_cache(maxsize=None)
def code_digest(roots: tuple[str, ...], root_dir: Path, packages: tuple[str, ...]) -> str:
    """:func:`source_digest` of :func:`module_closure` of ``roots``: the code a run depends on.

    Computed once per process for given arguments (which must be hashable: pass tuples), from the
    code as first read: a later edit of a file on disk is not seen by a running process, which is
    what the process keeps running anyway, since its modules are already imported.
    """
    return source_digest(module_closure(roots, root_dir, packages), root_dir)
