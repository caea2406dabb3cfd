"""Run one experiment from the Hydra config: wake, sleep and test phases, then a result table.

    python scripts/run.py experiment=quick              # the README's main job
    python scripts/run.py experiment=smoke seed=3       # tiny budgets
    python scripts/run.py env=balance consolidation=distill
    python scripts/run.py --cfg job                     # print the resolved config

A bad input or an interruption ends with one ``motorsleep:`` message and an exit code per class
(2 config error, 3 diverged, 4 file system, 130 interrupted: runner/failures.py).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from reporting.summary import format_results
from runner import failures
from runner.build import CONFIGS, ConfigError, experiment_from_config
from runner.config_errors import schema_choice
from runner.schema import register

register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    hydra_config = HydraConfig.get()
    sweep = Path(hydra_config.sweep.dir).resolve() if hydra_config.mode == RunMode.MULTIRUN else None
    run = failures.Run(Path(hydra_config.runtime.output_dir), resume_override=_resume_override(hydra_config),
                       sweep_dir=sweep)
    with failures.reported(run, failures.overrides()):
        problem = schema_choice(dict(hydra_config.runtime.choices), CONFIGS)
        if problem:
            raise ConfigError(problem)
        if int(cfg.torch_threads) >= 1:  # a bad value is refused by the experiment's validation below
            torch.set_num_threads(int(cfg.torch_threads))
        # every option validates itself here, before any training
        experiment = experiment_from_config(cfg, hydra_config.overrides.task, hydra_config)
        run.run_dir, run.phases = experiment.run_dir, [phase.name for phase in experiment.protocol.phases]
        results = experiment.run()
    print(format_results(results))
    print(f"run directory: {experiment.run_dir}")


def _resume_override(hydra_config: DictConfig) -> str:
    """The override that points a rerun at this run's directory (a sweep's, for a job of a sweep)."""
    if hydra_config.mode == RunMode.MULTIRUN:
        return f"hydra.sweep.dir={Path(hydra_config.sweep.dir).resolve()}"
    return f"hydra.run.dir={Path(hydra_config.runtime.output_dir).resolve()}"


if __name__ == "__main__":
    failures.guard(main)
