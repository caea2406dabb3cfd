"""The Hydra app: one experiment from the config, its wake, sleep and test phases, then a result table.

``motorsleep run ...`` and ``python scripts/run.py ...`` both start it; every argument is
Hydra's (overrides, ``-m`` for a sweep, ``--cfg job`` to print the resolved config):

    motorsleep run experiment=quick              # the README's main job
    motorsleep run experiment=smoke seed=3       # tiny budgets
    motorsleep run env=balance consolidation=distill
    motorsleep run --cfg job                     # print the resolved config

A bad input or an interruption ends with one ``motorsleep:`` message and an exit code per class
(2 config error, 3 diverged, 4 file system, 130 interrupted: runner/failures.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
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
from runner.progress import run_log, say
from runner.schema import register

register()


# an absolute config path: the app lives in a package, where Hydra would read a relative one as
# a package resource (pkg://), and configs/ is the checkout's, as runner.build composes it
@hydra.main(config_path=str(CONFIGS), config_name="config", version_base="1.3")
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
    with run_log(experiment.run_dir):  # the table in run.log too
        say(format_results(results), sys.stdout)
        say(f"run directory: {experiment.run_dir}", sys.stdout)


def start(argv: Sequence[str], program: str) -> None:
    """Run the app on ``argv`` (Hydra's arguments) as if started by ``program`` (e.g. ``motorsleep run``).

    Hydra reads its arguments from ``sys.argv``, and a failure's resume command repeats
    ``sys.argv`` (:func:`runner.failures.resume_command`), so both are set here and put back after.
    """
    saved = sys.argv
    sys.argv = [program, *argv]
    try:
        failures.guard(main)
    finally:
        sys.argv = saved


def _resume_override(hydra_config: DictConfig) -> str:
    """The override that points a rerun at this run's directory (a sweep's, for a job of a sweep)."""
    if hydra_config.mode == RunMode.MULTIRUN:
        return f"hydra.sweep.dir={Path(hydra_config.sweep.dir).resolve()}"
    return f"hydra.run.dir={Path(hydra_config.runtime.output_dir).resolve()}"
