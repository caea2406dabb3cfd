"""The evaluation stack imports cleanly in this environment.

rliable 1.2.0 imports ``arch``, whose 7.x releases fail to import under pandas 3.x, so a
fresh install with an unpinned pandas breaks ``import rliable`` (pyproject pins pandas < 3).
The test checks the imports themselves, whatever the installed pandas version is.
"""

from __future__ import annotations

import importlib


def test_rliable_imports():
    rliable = importlib.import_module("rliable")
    assert rliable.__name__ == "rliable"


def test_rliable_library_and_metrics_import():
    from rliable import library, metrics

    # the two entry points the aggregate-score analysis uses
    assert callable(library.get_interval_estimates)
    assert callable(metrics.aggregate_iqm)
