"""Measure how much the contexts of a task family interfere: the cross-context score matrix.

For each seed, a policy is trained from scratch on each context of the family's config (the
labels of ``env.contexts``: A, B, ...), and every trained policy is evaluated on every context.
Entry [A, B] is the normalised score (DESIGN.md section 4) on B of the policy trained on A: 0 is
the better of a random and a zero-action policy, 1 the outside reference (reach: the iLQR
planner of agents/reference.py; muscle_reach: a task-space PD shared among the muscles, a
provisional reference that a learner may beat; balance: upright for the whole episode; stand:
full posture reward at no effort). The testbed needs, in both directions and with both learners,
[A, A] >= 0.9 and [A, B] <= 0.5 [A, A]; and no score above 1.05 on the diagonal, which would mean
the reference is no ceiling (issue 12).

Learners (``--learner``, one registry):
  cortex  the project's cortical learner exactly as the family's benchmark preset
          (experiment=bench_<family>) builds it, trained for that preset's first wake budget
          (agent=ppo: 256x256, 8 envs; README, "Choice of the cortical learner")
  sb3     stable-baselines3 PPO at its library defaults (MlpPolicy 64x64, one env, n_steps
          2048, batch 64, no gradient-clip or entropy changes), a learner nobody tuned for
          this testbed

    python scripts/interference_matrix.py --family both --learner cortex sb3 --readme
    python scripts/interference_matrix.py --family reach --learner sb3 --override env.context_cue=false
    python scripts/interference_matrix.py --from-saved --readme     # README tables from results/, no training
    python scripts/interference_matrix.py --from-saved a.json b.json  # the tables of named saved files
    python scripts/interference_matrix.py --family stand --readme --readme-block interference_stand

Families are those of envs/family.py (``--family all``; ``both`` is the headline's reach and
balance); a family's cortex budget and contexts come from its ``bench_<family>`` preset, the sb3
learner's budget from configs/measure/<family>.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.reference import context_anchors
from envs.contexts import describe_context
from envs.family import TaskFamily
from envs.vector import make_vec
from fileio import write_text_atomic
from reporting.findings import CEILING
from reporting.readme import not_measured, replace_readme_block
from runner.build import compose_config
from runner.family_settings import FAMILIES, HEADLINE_FAMILIES, family_settings

ROOT = Path(__file__).resolve().parents[1]


def cortex_learner(cfg) -> CorticalLearner:
    """The project's cortex, as ``agent`` of the composed config builds it."""
    return instantiate(cfg.agent)


def sb3_default_learner(cfg) -> CorticalLearner:
    """SB3 PPO with every hyperparameter at the library's default (64x64 MlpPolicy, one env)."""
    del cfg
    return CorticalLearner("ppo", net_arch=[64, 64], n_envs=1, hyperparameters={}, bounded_mean=False,
                           reset_optimizer_on_switch=False)


# learner name -> (builder from the composed config, its training steps per context for a family:
# None, the first wake budget of the family's benchmark preset, or the name of a field of its
# configs/measure/<family>.yaml)
LEARNERS: dict[str, tuple[Callable, str | None]] = {
    "cortex": (cortex_learner, None),           # the bench wake budgets
    "sb3": (sb3_default_learner, "sb3_steps"),  # slower at its defaults
}


def budget(learner: str, family_name: str, cfg) -> int:
    """Training steps per context: the learner's own, or the benchmark preset's first wake."""
    field = LEARNERS[learner][1]
    return int(cfg.protocol.phases[0].steps) if field is None else getattr(family_settings(family_name), field)


def measure(family: TaskFamily, cfg, learner: str, seeds: list[int], steps: int, n_eval: int) -> dict:
    """Train on each context for each seed, evaluate across contexts; return all numbers."""
    labels = family.labels
    anchors = {label: context_anchors(family, label, n_eval) for label in labels}
    build = LEARNERS[learner][0]
    per_seed, train_seconds = [], []
    for seed in seeds:
        matrix = np.zeros((len(labels), len(labels)))
        for i, trained in enumerate(labels):
            model = build(cfg)
            # the family's envs as the agent acts on them (actions in [-1, 1], as evaluate() sees them)
            venv = make_vec(family, [trained], model.n_envs, seed)
            model.build(venv, seed)
            start = time.perf_counter()
            model.learn(steps)
            train_seconds.append(time.perf_counter() - start)
            for j, tested in enumerate(labels):
                env = family.make_env(tested)
                result = evaluate(model.act, env, n_eval)
                matrix[i, j] = normalised_score(result.mean_return, anchors[tested]["base"],
                                                anchors[tested]["reference"])
                env.close()
            venv.close()
            print(f"  {learner} seed {seed} trained on {trained}: "
                  + ", ".join(f"{c}={matrix[i, j]:.2f}" for j, c in enumerate(labels))
                  + f" ({train_seconds[-1]:.0f} s)", flush=True)
        per_seed.append(matrix.tolist())
    return {"family": family.family, "labels": labels, "contexts": family.contexts,
            "context_cue": family.context_cue, "learner": learner, "seeds": seeds, "steps": steps,
            "n_eval": n_eval, "anchors": anchors, "per_seed": per_seed, "train_seconds": train_seconds}


def verdict(result: dict) -> tuple[bool, list[str]]:
    """Every seed: diagonal in [0.9, 1.05] and each off-diagonal <= half its row's diagonal."""
    ok, notes = True, []
    labels = result["labels"]
    for seed, m in zip(result["seeds"], np.array(result["per_seed"]), strict=True):
        for i in range(len(m)):
            if m[i, i] < 0.9:
                ok = False
                notes.append(f"seed {seed}: {labels[i]} learned only to {m[i, i]:.2f}")
            if m[i, i] > CEILING:
                ok = False
                notes.append(f"seed {seed}: {labels[i]} scores {m[i, i]:.2f} > {CEILING}: "
                             "the reference is no ceiling")
            for j in range(len(m)):
                if i != j and m[i, j] > 0.5 * m[i, i]:
                    ok = False
                    notes.append(f"seed {seed}: {labels[i]} -> {labels[j]} keeps {m[i, j]:.2f} > half of {m[i, i]:.2f}")
    return ok, notes


def markdown(result: dict) -> str:
    """Mean [min, max] over seeds of the matrix as a markdown table, with the verdict."""
    m = np.array(result["per_seed"])
    labels = result["labels"]
    names = [f"{label} ({describe_context(result['contexts'][label])})" for label in labels]
    lines = [f"**{result['family']}**, learner `{result['learner']}` ({result['steps']:,} steps per context, "
             f"cue {'on' if result['context_cue'] else 'off'}, seeds {result['seeds']}, "
             f"{result['n_eval']} episodes per score; rows: trained on, columns: evaluated on; "
             "mean [min, max] over seeds)",
             "", "| trained on \\ evaluated on | " + " | ".join(names) + " |", "|---" * (len(labels) + 1) + "|"]
    for i, name in enumerate(names):
        cells = [f"{m[:, i, j].mean():.2f} [{m[:, i, j].min():.2f}, {m[:, i, j].max():.2f}]"
                 for j in range(len(labels))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ok, notes = verdict(result)
    lines += ["", f"Criterion (every seed: diagonal in [0.9, {CEILING}], off-diagonal <= half the diagonal): "
              f"{'met' if ok else 'NOT met'}"
              + ("" if ok else " (" + "; ".join(notes) + ")")
              + f". Mean training time per context: {np.mean(result['train_seconds']):.0f} s."]
    return "\n".join(lines)


def saved_path(out: Path, family: str, learner: str) -> Path:
    return out / f"{family}_{learner}.json"


def rebuild_command(family: str, learners: list[str], block: str) -> str:
    """The command that measures ``family`` and writes README block ``block``."""
    return (f"python scripts/interference_matrix.py --family {family} --learner {' '.join(learners)} --readme "
            f"--readme-block {block}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=[*FAMILIES, "both", "all"], default="both",
                        help="a family, both (the headline's reach and balance) or all")
    parser.add_argument("--learner", nargs="+", choices=sorted(LEARNERS), default=sorted(LEARNERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="training steps per context (default: per learner and family)")
    parser.add_argument("--n-eval", type=int, default=32, help="evaluation episodes per (policy, context)")
    parser.add_argument("--override", nargs="*", default=[],
                        help="Hydra overrides of the composed config (e.g. env.context_cue=false)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "interference")
    parser.add_argument("--readme", type=Path, nargs="?", const=ROOT / "README.md",
                        help="write into this README (default README.md) between the block's markers")
    parser.add_argument("--readme-block", default="interference", help="the README block --readme replaces")
    parser.add_argument("--from-saved", nargs="*", type=Path, metavar="FILE",
                        help="no training: print/write the tables of these saved files (none given: the files of "
                             "--family and --learner under --out)")
    args = parser.parse_args(argv)
    families = {"both": list(HEADLINE_FAMILIES), "all": list(FAMILIES)}.get(args.family, [args.family])
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps={args.steps} is not allowed: expected an integer >= 1")
    torch.set_num_threads(1)
    tables, all_ok = [], True
    if args.from_saved:  # named files, in the order given
        for path in args.from_saved:
            result = json.loads(path.read_text())
            tables.append(markdown(result))
            print("\n" + tables[-1] + "\n")
            all_ok &= verdict(result)[0]
        if args.readme is not None:
            replace_readme_block(args.readme_block, "\n\n".join(tables), args.readme)
        return 0 if all_ok else 1
    for family_name in families:
        missing = [learner for learner in args.learner if not saved_path(args.out, family_name, learner).is_file()]
        if args.from_saved is not None and missing:  # not measured yet: the README block says how to measure it
            tables.append(not_measured(f"**{family_name}**, learner {', '.join(f'`{m}`' for m in missing)}",
                                       rebuild_command(family_name, args.learner, args.readme_block)))
            print(tables[-1])
            all_ok = False
        for learner in args.learner:
            saved = saved_path(args.out, family_name, learner)
            if args.from_saved is not None:
                if learner in missing:
                    continue
                result = json.loads(saved.read_text())
            else:
                # the family's benchmark preset; bad overrides fail here, before training
                cfg = compose_config([f"experiment=bench_{family_name}", *args.override])
                family = instantiate(cfg.env)
                steps = args.steps or budget(learner, family_name, cfg)
                print(f"{family_name}, {learner}: training on {family.contexts} for seeds {args.seeds}", flush=True)
                result = measure(family, cfg, learner, args.seeds, steps, args.n_eval)
                result["overrides"] = list(args.override)
                write_text_atomic(saved, json.dumps(result, indent=1))
            table = markdown(result)
            print("\n" + table + "\n")
            ok, notes = verdict(result)
            all_ok &= ok
            for note in notes:
                print("  not met:", note)
            tables.append(table)
    if args.readme is not None:
        replace_readme_block(args.readme_block, "\n\n".join(tables), args.readme)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
