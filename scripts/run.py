"""Run one experiment from the Hydra config: wake, sleep and test phases, then a result table.

    python scripts/run.py experiment=quick              # the README's main job
    python scripts/run.py experiment=smoke seed=3       # tiny budgets
    python scripts/run.py env=balance consolidation=distill
    python scripts/run.py --cfg job                     # print the resolved config
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from agents.guards import DivergenceError
from reporting.summary import format_results
from runner.build import ConfigError, experiment_from_config
from runner.run_dir import RunDirectoryMismatch
from runner.schema import register

register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(int(cfg.torch_threads))
    hydra_config = HydraConfig.get()
    try:
        # every option validates itself here, before any training
        experiment = experiment_from_config(cfg, hydra_config.overrides.task, hydra_config)
    except ConfigError as error:
        _discard_unused_run_dir(Path(cfg.run_dir))
        print(f"motorsleep: bad config: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        results = experiment.run()
    except RunDirectoryMismatch as error:
        print(f"motorsleep: {error}", file=sys.stderr)
        sys.exit(2)
    except DivergenceError as error:
        print(f"motorsleep: {error}\nmotorsleep: finished phases are kept in {experiment.run_dir}; fix the "
              "config and rerun the command with resume=accept (same hydra.run.dir) to resume", file=sys.stderr)
        sys.exit(3)
    print(format_results(results))
    print(f"run directory: {experiment.run_dir}")


def _discard_unused_run_dir(run_dir: Path) -> None:
    """Remove the directory Hydra made for this run if it holds nothing but Hydra's own files
    (a resumed run's phases are never touched)."""
    if not run_dir.is_dir():
        return
    if all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir)


if __name__ == "__main__":
    main()
