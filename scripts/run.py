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
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from agents.guards import DivergenceError
from consolidation.cache import run_identity
from consolidation.schema import register
from consolidation.summary import format_results

register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(int(cfg.torch_threads))
    try:
        experiment = instantiate(cfg)  # every option validates itself here, before any training
        experiment.identity = run_identity(OmegaConf.to_container(cfg, resolve=True))  # the cache's key
    except InstantiationException as error:
        _discard_unused_run_dir(Path(cfg.run_dir))
        cause = error.__cause__ if error.__cause__ is not None else error
        print(f"motorsleep: bad config: {cause}", file=sys.stderr)
        sys.exit(2)
    try:
        results = experiment.run()
    except DivergenceError as error:
        print(f"motorsleep: {error}\nmotorsleep: finished phases are kept in {experiment.run_dir}; fix the "
              "config and rerun the same command (same hydra.run.dir) to resume", file=sys.stderr)
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
