"""Wall time for the cortical learner to reach a score: PPO against SAC on each task family.

Why: the default of ``agent`` (configs/config.yaml) must be the algorithm that reaches the score
fastest in wall time on 2 cores, on every family, measured rather than assumed (a prototype had
PPO 10-30x faster than SAC). SAC needs fewer env steps; what matters here is seconds.

What: for each family (context A of configs/env/<family>.yaml, context cue as configured) and
algorithm (configs/agent/<algorithm>.yaml, every key as the experiment uses it), a fresh
CorticalLearner trains in chunks. After each chunk its deterministic policy is evaluated on the
fixed-seed episodes of configs/config.yaml (eval_episodes) and the mean return is normalised
with the family's anchors (agents.reference.context_anchors; computed once per family). A run
stops at the first score >= --threshold or when its training wall time reaches --cap-seconds (it
may overrun by one chunk). Training time excludes evaluation, which is timed separately; CPU time
of this process is kept beside wall time, since another job may share the cores. Steps and
seconds to the threshold are resolved to a chunk (an upper bound within one chunk).

    python scripts/time_to_score.py --json results/learner_choice/time_to_score.json
    python scripts/time_to_score.py --from-saved results/learner_choice/time_to_score.json --readme
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import set_random_seed

from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.reference import context_anchors
from envs.family import TaskFamily
from envs.vector import make_vec
from fileio import write_text_atomic
from reporting.readme import replace_readme_block
from runner.family_settings import FAMILIES, HEADLINE_FAMILIES
from runner.records import provenance

ROOT = Path(__file__).resolve().parents[1]


def config(name: str) -> dict:
    """A config file of configs/ as a plain dict (without its Hydra ``defaults``)."""
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "configs" / f"{name}.yaml"))
    cfg.pop("defaults", None)
    return cfg





def measure(family: TaskFamily, label: str, agent: dict, anchor: dict, chunk: int, args, episodes: int) -> dict:
    """Train in chunks until the score reaches the threshold or training time reaches the cap."""
    set_random_seed(args.seed)
    learner = CorticalLearner(**{**agent, "progress_bar": False})
    learner.build(make_vec(family, [label], learner.n_envs, args.seed), args.seed)
    learner.model.set_logger(Logger(folder=None, output_formats=[]))
    env = family.make_env(label)
    wall = cpu = evaluation = 0.0
    chunks, reached = [], None
    while wall < args.cap_seconds and reached is None:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        learner.learn(chunk)
        wall += time.perf_counter() - start_wall
        cpu += time.process_time() - start_cpu
        start = time.perf_counter()
        result = evaluate(learner.act, env, episodes)
        evaluation += time.perf_counter() - start
        score = normalised_score(result.mean_return, anchor["base"], anchor["reference"])
        chunks.append({"steps": int(learner.model.num_timesteps), "train_seconds": wall, "train_cpu_seconds": cpu,
                       "eval_seconds": evaluation, "score": score, "return": result.mean_return,
                       "success_rate": result.success_rate})
        print(f"  {family.family} {agent['algorithm']}: {chunks[-1]['steps']:>8} steps {wall:7.1f} s "
              f"(CPU {cpu:7.1f} s) score {score:6.3f}", flush=True)
        reached = chunks[-1] if score >= args.threshold else None
    env.close()
    best = max(chunks, key=lambda c: c["score"])
    return {"family": family.family, "algorithm": agent["algorithm"], "context": label, "chunk": chunk,
            "reached": reached is not None, "steps_to_threshold": reached and reached["steps"],
            "seconds_to_threshold": reached and reached["train_seconds"],
            "cpu_seconds_to_threshold": reached and reached["train_cpu_seconds"],
            "train_seconds": wall, "train_cpu_seconds": cpu, "eval_seconds": evaluation,
            "best_score": best["score"], "best_steps": best["steps"], "chunks": chunks}


def ratio(runs: dict) -> tuple[str, float] | None:
    """SAC/PPO wall time to the threshold: ('=', r), or a bound ('>' or '<') when one side never got there."""
    ppo, sac = runs.get("ppo"), runs.get("sac")
    if not (ppo and sac) or not (ppo["reached"] or sac["reached"]):
        return None
    if ppo["reached"] and sac["reached"]:
        return "=", sac["seconds_to_threshold"] / ppo["seconds_to_threshold"]
    if ppo["reached"]:
        return ">", sac["train_seconds"] / ppo["seconds_to_threshold"]
    return "<", sac["seconds_to_threshold"] / ppo["train_seconds"]


def markdown(out: dict) -> str:
    """Table, ratios and conclusion of a measurement (stdout and README)."""
    t = out["settings"]["threshold"]
    lines = [f"| family | algorithm | steps to {t} | training s to {t} (CPU s) | evaluation s | best score |",
             "|---|---|---|---|---|---|"]
    by_family: dict[str, dict] = {}
    for run in out["runs"]:
        by_family.setdefault(run["family"], {})[run["algorithm"]] = run
        if run["reached"]:
            steps, secs = f"{run['steps_to_threshold']:,}", (f"{run['seconds_to_threshold']:.0f} "
                                                             f"({run['cpu_seconds_to_threshold']:.0f})")
        else:
            steps = f"> {run['chunks'][-1]['steps']:,}"
            secs = f"not reached in {run['train_seconds']:.0f} s, best score {run['best_score']:.2f}"
        lines.append(f"| {run['family']} | {run['algorithm']} | {steps} | {secs} | {run['eval_seconds']:.0f} | "
                     f"{run['best_score']:.3f} |")
    ratios, winners = [], set()
    for name, runs in by_family.items():
        r = ratio(runs)
        ratios.append(f"{name} {r[0].replace('=', '')}{r[1]:.1f}x" if r else f"{name} n/a")
        winners.add(None if r is None else "ppo" if r[0] == ">" or (r[0] == "=" and r[1] > 1) else "sac")
    lines += ["", f"SAC/PPO training wall time to {t}: " + "; ".join(ratios) + "."]
    if winners == {"ppo"}:
        conclusion = "the measurement supports PPO as the default: it reached the score sooner on every family"
    elif winners == {"sac"}:
        conclusion = "the measurement supports SAC as the default: it reached the score sooner on every family"
    else:
        conclusion = "the measurement supports no single default (mixed, or not measured on both algorithms)"
    lines.append(f"Conclusion: {conclusion}.")
    s = out["settings"]
    lines.append(f"(seed {s['seed']}, {s['eval_episodes']} evaluation episodes, chunks PPO {s['ppo_chunk']:,} / "
                 f"SAC {s['sac_chunk']:,} steps, cap {s['cap_seconds']:.0f} s training per run, torch threads "
                 f"{s['torch_threads']}, load average {out['meta']['loadavg_start'][0]:.1f} at start)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(HEADLINE_FAMILIES),
                        help="families of envs/family.py (default: the headline's)")
    parser.add_argument("--algorithms", nargs="+", choices=("ppo", "sac"), default=["ppo", "sac"])
    parser.add_argument("--context", default="A", help="protocol label of the context to learn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.9, help="normalised score to reach")
    parser.add_argument("--cap-seconds", type=float, default=600.0, help="training wall time cap per run")
    parser.add_argument("--ppo-chunk", type=int, default=20480, help="PPO steps between evaluations")
    parser.add_argument("--sac-chunk", type=int, default=2000, help="SAC steps between evaluations")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument("--from-saved", type=Path, help="no measurement: report this saved JSON")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md between markers")
    args = parser.parse_args(argv)
    if args.from_saved:
        out = json.loads(args.from_saved.read_text())
    else:
        if min(args.ppo_chunk, args.sac_chunk) < 1 or args.cap_seconds <= 0:
            parser.error("--ppo-chunk and --sac-chunk must be >= 1, --cap-seconds > 0")
        root = config("config")
        torch.set_num_threads(root["torch_threads"])
        episodes, chunks = root["eval_episodes"], {"ppo": args.ppo_chunk, "sac": args.sac_chunk}
        settings = {**{k: v for k, v in vars(args).items() if k not in ("json", "from_saved", "readme")},
                    "eval_episodes": episodes, "torch_threads": torch.get_num_threads()}
        out = {"meta": {**provenance(args.seed), "loadavg_start": os.getloadavg()}, "settings": settings,
               "configs": {}, "anchors": {}, "runs": []}
        for name in args.families:
            env_cfg = config(f"env/{name}")
            family = TaskFamily(**env_cfg)
            out["configs"][f"env/{name}"] = env_cfg
            out["anchors"][name] = anchor = context_anchors(family, args.context, episodes)
            print(f"{name} {args.context}: baseline {anchor['base']:.2f}, reference {anchor['reference']:.2f}")
            for algorithm in args.algorithms:
                agent = out["configs"][f"agent/{algorithm}"] = config(f"agent/{algorithm}")
                out["runs"].append(measure(family, args.context, agent, anchor, chunks[algorithm], args, episodes))
                out["meta"]["loadavg_end"] = os.getloadavg()
                if args.json:  # after every run: a late failure keeps the finished runs
                    write_text_atomic(args.json, json.dumps(out, indent=1))
        print()
    print(markdown(out))
    if args.readme:
        replace_readme_block("learner_choice", markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
