"""Run one experiment from the Hydra config: the same app as ``motorsleep run`` (motorsleep/app.py).

    python scripts/run.py experiment=quick              # the README's main job
    python scripts/run.py experiment=smoke seed=3       # tiny budgets
    python scripts/run.py env=balance consolidation=distill
    python scripts/run.py --cfg job                     # print the resolved config

A bad input or an interruption ends with one ``motorsleep:`` message and an exit code per class
(2 config error, 3 diverged, 4 file system, 130 interrupted: runner/failures.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# the checkout's packages, also before `pip install -e .` has seen the motorsleep package: in this
# process and in the jobs a launcher starts (a sweep's worker imports the app, motorsleep.app, by name)
ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)

from motorsleep.app import main  # noqa: E402
from runner import failures  # noqa: E402

if __name__ == "__main__":
    failures.guard(main)
