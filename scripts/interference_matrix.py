"""Measure how much the contexts of a task family interfere: the cross-context score matrix.

For each seed, a short cortical learner (SB3 PPO, 64x64, tanh-bounded mean) is trained from scratch on each
context; every trained policy is then evaluated on every context. Entry [A, B] is the
normalised score (DESIGN.md section 4) on B of the policy trained on A: 0 is the better of a
random and a zero-action policy, 1 the outside reference (reach: the iLQR planner of
agents/reference.py, a PD controller with exact field compensation before issue 12; balance:
upright for the whole episode). The testbed needs
[A, B] <= 0.5 [A, A] for its default pairs, with [A, A] >= 0.9.

    python scripts/interference_matrix.py --family reach --seeds 0 1 2
    python scripts/interference_matrix.py --family both --readme   # measure, then rebuild README tables
    python scripts/interference_matrix.py --from-saved --readme     # README tables from results/, no training
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env

import envs
from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.reference import baseline_return, reference_return
from fileio import write_text_atomic
from reporting.readme import replace_readme_block

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTEXTS = {"reach": ["curl_cw", "curl_ccw"], "balance": ["tilt_left", "tilt_right"]}
# a short policy: 64x64 PPO, enough to learn each context to >= 0.9 in these budgets
NET_ARCH = [64, 64]
DEFAULT_TRAIN_STEPS = {"reach": 200_000, "balance": 150_000}
PPO_HYPERPARAMETERS = {
    "reach": {"n_steps": 256, "batch_size": 256, "n_epochs": 10, "gamma": 0.99, "learning_rate": 3e-4,
              "policy_kwargs": {"log_std_init": -1.0}},
    "balance": {"n_steps": 256, "batch_size": 256, "n_epochs": 10, "gamma": 0.99, "learning_rate": 3e-4,
                "policy_kwargs": {"log_std_init": -0.5}},
}
SAC_HYPERPARAMETERS = {"learning_starts": 1000, "batch_size": 256, "gamma": 0.99}


def measure(family: str, contexts: list[str], seeds: list[int], steps: int, algorithm: str,
            n_envs: int, n_eval: int) -> dict:
    """Train on each context for each seed, evaluate across contexts; return all numbers."""
    anchors = {}
    for ctx in contexts:  # the normalisation anchors of each evaluated context
        env = gymnasium.make(envs.env_id_for(family, ctx))
        anchors[ctx] = {"base": baseline_return(env, n_eval)[0], "reference": reference_return(family, env, n_eval)}
        env.close()
    per_seed, train_seconds = [], []
    for seed in seeds:
        matrix = np.zeros((len(contexts), len(contexts)))
        for i, trained in enumerate(contexts):
            venv = make_vec_env(envs.env_id_for(family, trained), n_envs=n_envs, seed=seed)
            hyperparameters = PPO_HYPERPARAMETERS[family] if algorithm == "ppo" else SAC_HYPERPARAMETERS
            learner = CorticalLearner(algorithm, NET_ARCH, n_envs, hyperparameters)
            learner.build(venv, seed)
            start = time.perf_counter()
            learner.learn(steps)
            train_seconds.append(time.perf_counter() - start)
            for j, tested in enumerate(contexts):
                env = gymnasium.make(envs.env_id_for(family, tested))
                result = evaluate(learner.act, env, n_eval)
                a = anchors[tested]
                matrix[i, j] = normalised_score(result.mean_return, a["base"], a["reference"])
                env.close()
            print(f"  seed {seed} trained on {trained}: "
                  + ", ".join(f"{c}={matrix[i, j]:.2f}" for j, c in enumerate(contexts))
                  + f" ({train_seconds[-1]:.0f} s)", flush=True)
        per_seed.append(matrix.tolist())
    return {"family": family, "contexts": contexts, "seeds": seeds, "steps": steps, "algorithm": algorithm,
            "anchors": anchors, "per_seed": per_seed, "train_seconds": train_seconds}


def verdict(result: dict) -> tuple[bool, list[str]]:
    """Check every seed: diagonal >= 0.9 and each off-diagonal <= half its row's diagonal."""
    ok, notes = True, []
    for seed, m in zip(result["seeds"], np.array(result["per_seed"]), strict=True):
        for i in range(len(m)):
            if m[i, i] < 0.9:
                ok = False
                notes.append(f"seed {seed}: {result['contexts'][i]} learned only to {m[i, i]:.2f}")
            for j in range(len(m)):
                if i != j and m[i, j] > 0.5 * m[i, i]:
                    ok = False
                    notes.append(f"seed {seed}: {result['contexts'][i]} -> {result['contexts'][j]} "
                                 f"keeps {m[i, j]:.2f} > half of {m[i, i]:.2f}")
    return ok, notes


def markdown(result: dict) -> str:
    """Mean (min..max over seeds) matrix as a markdown table."""
    m = np.array(result["per_seed"])
    ctx = result["contexts"]
    lines = [f"**{result['family']}** ({result['algorithm'].upper()}, {result['steps']:,} steps per context, "
             f"seeds {result['seeds']}; rows: trained on, columns: evaluated on; mean [min, max] over seeds)",
             "", "| trained on \\ evaluated on | " + " | ".join(ctx) + " |", "|---" * (len(ctx) + 1) + "|"]
    for i, c in enumerate(ctx):
        cells = [f"{m[:, i, j].mean():.2f} [{m[:, i, j].min():.2f}, {m[:, i, j].max():.2f}]" for j in range(len(ctx))]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    ok, _ = verdict(result)
    lines += ["", f"Criterion (every seed: diagonal >= 0.9, off-diagonal <= half the diagonal): "
              f"{'met' if ok else 'NOT met'}. Mean training time per context: "
              f"{np.mean(result['train_seconds']):.0f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["reach", "balance", "both"], default="both")
    parser.add_argument("--contexts", nargs="+", help="context names (default: the family's interfering pair)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="training steps per context (default: per family)")
    parser.add_argument("--algorithm", choices=["ppo", "sac"], default="ppo")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-eval", type=int, default=16, help="evaluation episodes per (policy, context)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "interference")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md between markers")
    parser.add_argument("--from-saved", action="store_true",
                        help="no training: read the saved results under --out (default pairs) and print/write tables")
    args = parser.parse_args(argv)
    families = ["reach", "balance"] if args.family == "both" else [args.family]
    if args.contexts and len(families) > 1:
        parser.error("--contexts needs a single --family")
    torch.set_num_threads(1)
    tables, all_ok = [], True
    for family in families:
        contexts = args.contexts or DEFAULT_CONTEXTS[family]
        saved = args.out / f"{family}_{'_'.join(contexts)}.json"
        if args.from_saved:
            result = json.loads(saved.read_text())
            tables.append(markdown(result))
            print("\n" + tables[-1] + "\n")
            all_ok &= verdict(result)[0]
            continue
        for ctx in contexts:  # fail on a bad name before any training
            envs.env_id_for(family, ctx)
        print(f"{family}: training on {contexts} for seeds {args.seeds}", flush=True)
        result = measure(family, contexts, args.seeds, args.steps or DEFAULT_TRAIN_STEPS[family],
                         args.algorithm, args.n_envs, args.n_eval)
        write_text_atomic(saved, json.dumps(result, indent=1))
        table = markdown(result)
        print("\n" + table + "\n")
        ok, notes = verdict(result)
        all_ok &= ok
        for note in notes:
            print("  not met:", note)
        tables.append(table)
    if args.readme:
        replace_readme_block("interference", "\n\n".join(tables))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
