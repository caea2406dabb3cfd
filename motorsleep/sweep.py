"""The end of a sweep: one table of mean ± std over seeds for every condition the sweep ran.

Hydra calls :class:`SweepSummary` after the last job of a multirun (``motorsleep run -m ...``,
``hydra.callbacks.sweep_summary`` in configs/config.yaml). It reads the jobs' ``results.json``
the way ``scripts/report.py --runs <sweep dir> --mean-std`` does (reporting/runs.py's ``sweep``
layout: each condition is the strategy plus what else the sweep varied; a sweep laid out with its
own ``hydra.sweep.subdir``, such as ``<family>/<strategy>/seed<k>``, as the report reads that),
prints the table and writes ``table.md`` and ``runs.csv`` into the sweep directory. Jobs that
failed have no ``results.json`` and are left out; a sweep with no finished job says so instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from fileio import write_text_atomic
from reporting import mean_std, runs, tidy
from runner.progress import say


class SweepSummary(Callback):
    """After a multirun: the mean ± std table of its finished jobs, printed and saved beside them."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:  # any layout the report reads: job numbers, or a subdir such as <family>/<strategy>/seed<k>
            loaded = runs.load_runs(sweep_dir)
        except ValueError as error:
            say(f"no sweep summary: {error}")
            return
        frame = mean_std.runs_frame(loaded)
        text = mean_std.table(frame)
        tidy.write_csv(frame, sweep_dir / "runs.csv")
        write_text_atomic(sweep_dir / "table.md", text + "\n")
        print(f"\nsweep summary ({len(loaded)} finished jobs; {sweep_dir / 'table.md'}):\n\n{text}", flush=True)
