"""Run one experiment from the Hydra config: wake, sleep and test phases, then a result table.

    python scripts/run.py experiment=quick              # the README's main job
    python scripts/run.py experiment=smoke seed=3       # tiny budgets
    python scripts/run.py env=balance consolidation=distill
    python scripts/run.py --cfg job                     # print the resolved config
"""

from __future__ import annotations

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from consolidation.schema import register
from consolidation.summary import format_results

register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(int(cfg.torch_threads))
    experiment = instantiate(cfg)  # every option validates itself here, before any training
    results = experiment.run()
    print(format_results(results))
    print(f"run directory: {experiment.run_dir}")


if __name__ == "__main__":
    main()
