"""The plasticity study: how fast the cortex learns B from A's weights, per remedy, against B from scratch.

Why: from A's weights the plain cortex needed about four times the steps it needs from scratch
to bring B to 0.9, so forgetting was measured while B was still being learned (issue 12). A
remedy (agents/plasticity.py, the ``agent/plasticity`` config group) is a candidate default if
B from A's weights reaches 0.9 within 1.5x the from-scratch steps on at least 9 of 10 seeds,
while A is still forgotten (a remedy that keeps A by not learning B, or that learns B without
forgetting A, changes what the testbed can measure; both are reported).

What, for each (family, remedy, seed), with the composed config of ``env=<family>
agent/plasticity=<remedy>`` (every agent key as an experiment uses it):
1. the cortex learns A for ``--steps-a`` steps; A's score, B's zero-shot score and the
   plasticity diagnostics (agents/plasticity_diagnostics.py) are saved;
2. it switches to B (the learner's own switch: optimizer reset, then the remedy's) and trains in
   chunks of ``--chunk`` steps, scoring B after each, until B >= ``--threshold`` or ``--cap``;
   A is scored at that point (forgetting of A at the moment B is learned);
3. a fresh cortex with the same remedy learns B from scratch the same way (computed once for
   the plain learner and every remedy that acts only at a switch: the same computation).
Steps to the threshold are resolved to a chunk. Scores are normalised (agents/evaluation.py)
over ``eval_episodes`` fixed-seed episodes. Each cell is saved to ``<out>/<family>/<remedy>/
seed_<s>.json`` as it finishes, so the study resumes where it stopped; A's models and the
shared from-scratch runs are kept under ``--work``. A remedy that acts only at a context
switch (shrink_perturb, reset, head_reset) learns A and learns B from scratch exactly as the
plain learner does, so it reuses those two runs of the plain learner (recorded in the cell).

    python scripts/plasticity.py --out results/plasticity --jobs 2
    python scripts/plasticity.py --out results/plasticity --report --readme
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import set_random_seed

from agents.evaluation import evaluate, normalised_score
from agents.plasticity import PLASTICITY
from agents.plasticity_diagnostics import measure, rollout_observations
from agents.reference import context_anchors
from envs.vector import make_vec
from fileio import write_json_atomic
from runner.build import compose_config
from runner.family_settings import FAMILIES, HEADLINE_FAMILIES, family_settings
from runner.records import provenance


def budgets(families: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Per family, the steps to learn A and the most steps B may take (configs/measure/<family>.yaml:
    the cap is about 3x the from-scratch steps to 0.9, twice the 1.5x criterion, so a run stopped
    there fails it and its ratio is reported as a lower bound)."""
    settings = {f: family_settings(f) for f in families}
    return ({f: s.plasticity_steps_a for f, s in settings.items()},
            {f: s.plasticity_cap for f, s in settings.items()})


def cell_path(out: Path, family: str, remedy: str, seed: int) -> Path:
    return out / family / remedy / f"seed_{seed}.json"


_ANCHORS: dict[str, dict] = {}


def anchors(family, label: str, episodes: int) -> dict:
    """Baseline and reference returns of one context (computed once per process)."""
    key = f"{family.family}/{label}"
    if key not in _ANCHORS:
        _ANCHORS[key] = context_anchors(family, label, episodes)
    return _ANCHORS[key]


class Scorer:
    """Normalised score of a learner's deterministic policy on a context (fixed-seed episodes)."""

    def __init__(self, family, episodes: int) -> None:
        self.family, self.episodes, self.envs = family, episodes, {}

    def __call__(self, learner, label: str) -> float:
        if label not in self.envs:
            self.envs[label] = self.family.make_env(label)
        anchor = anchors(self.family, label, self.episodes)
        result = evaluate(learner.act, self.envs[label], self.episodes)
        return normalised_score(result.mean_return, anchor["base"], anchor["reference"])


def diagnostics(learner) -> dict:
    """Plasticity diagnostics on the last rollout's observations."""
    return measure(learner.model.policy, rollout_observations(learner.model, 1024)).as_dict()


def learn_until(learner, scorer: Scorer, label: str, chunk: int, cap: int, threshold: float) -> dict:
    """Train on the current env in chunks until ``label`` scores >= threshold or ``cap`` steps."""
    start_steps, start = learner.model.num_timesteps, time.perf_counter()
    curve, reached = [], None
    while reached is None and learner.model.num_timesteps - start_steps < cap:
        learner.learn(chunk)
        steps = learner.model.num_timesteps - start_steps
        score = scorer(learner, label)
        curve.append({"steps": steps, "score": score, **diagnostics(learner)})
        if score >= threshold:
            reached = steps
    return {"reached": reached is not None, "steps_to_threshold": reached, "steps": curve[-1]["steps"],
            "final_score": curve[-1]["score"], "seconds": time.perf_counter() - start, "curve": curve}


def new_learner(cfg, family, label: str, seed: int):
    set_random_seed(seed)
    learner = instantiate(cfg.agent, _convert_="all")
    learner.build(make_vec(family, [label], learner.n_envs, seed), seed)
    learner.model.set_logger(Logger(folder=None, output_formats=[]))
    return learner


def _learn_a(out: Path, cfg, shared: str, shared_cfg, family, seed: int, scorer, steps: int):
    """The cortex after learning A, read back from its saved model (so that B starts the same way
    whether A was trained in this process or before), with the remedy of ``cfg``. A is learned
    by ``shared_cfg``, the learner that learns A exactly as this remedy does (see ``run_cell``)."""
    folder = out / family.family / "a_models"
    model, info_path = folder / f"{shared}_seed_{seed}.zip", folder / f"{shared}_seed_{seed}.json"
    if not info_path.exists():
        learner = new_learner(shared_cfg, family, "A", seed)
        learner.learn(steps)
        info = {"key": shared, "steps": steps, "a_trained": scorer(learner, "A"),
                "b_zero_shot": scorer(learner, "B"), "diagnostics": diagnostics(learner)}
        folder.mkdir(parents=True, exist_ok=True)
        partial = model.with_name(f"{model.stem}.{os.getpid()}.partial.zip")
        learner.model.save(partial)
        partial.replace(model)
        write_json_atomic(info_path, info)   # written last: the model beside it is complete
    learner = instantiate(cfg.agent, _convert_="all")
    learner.load(model)
    learner.model.set_logger(Logger(folder=None, output_formats=[]))
    return learner, json.loads(info_path.read_text())


def _scratch(out: Path, shared: str, shared_cfg, family, seed: int, scorer, chunk: int, cap: int,
             threshold: float) -> dict:
    """B learned from scratch by ``shared_cfg`` (see ``run_cell``), computed once per ``shared``
    learner and saved under ``<out>/<family>/scratch/<shared>/``."""
    path = out / family.family / "scratch" / shared / f"seed_{seed}.json"
    if path.exists():
        return {**json.loads(path.read_text()), "shared_from": shared}
    scratch = learn_until(new_learner(shared_cfg, family, "B", seed + 1), scorer, "B", chunk, cap, threshold)
    write_json_atomic(path, scratch)
    return {**scratch, "shared_from": shared}


def run_cell(family_name: str, remedy: str, seed: int, args_dict: dict) -> dict:
    """One (family, remedy, seed): A, then B from A's weights, then B from scratch."""
    torch.set_num_threads(1)
    overrides = list(args_dict["overrides"])
    cfg = compose_config([f"env={family_name}", f"agent/plasticity={remedy}", f"seed={seed}", *overrides])
    family = instantiate(cfg.env, _convert_="all")
    scorer = Scorer(family, int(cfg.eval_episodes))
    chunk, threshold, work = args_dict["chunk"], args_dict["threshold"], Path(args_dict["work"])
    steps_a, cap = args_dict["steps_a"][family_name], args_dict["cap"][family_name]
    started = time.perf_counter()

    # A remedy that acts only at a context switch learns A, and learns B from scratch, exactly as
    # the plain learner does (same seed, same computation): those two runs are the plain learner's
    shared = "none" if PLASTICITY[remedy].only_at_switch else remedy
    shared_cfg = cfg if shared == remedy else compose_config([f"env={family_name}", "agent/plasticity=none",
                                                              f"seed={seed}", *overrides])
    learner, a_info = _learn_a(work, cfg, shared, shared_cfg, family, seed, scorer, steps_a)
    set_random_seed(seed + 1)   # B from here on, whether A was trained now or read back
    learner.set_env(make_vec(family, ["B"], learner.n_envs, seed + 1), context_changed=True)
    a_at_switch = scorer(learner, "A")   # what the switch itself (the remedy) left of A, before any B step
    from_a = learn_until(learner, scorer, "B", chunk, cap, threshold)
    a_at_end = scorer(learner, "A")
    scratch = _scratch(work, shared, shared_cfg, family, seed, scorer, chunk, cap, threshold)
    return {"family": family_name, "remedy": remedy, "seed": seed, "overrides": overrides,
            "settings": {"steps_a": steps_a, "cap": cap, "chunk": chunk, "threshold": threshold,
                         "eval_episodes": int(cfg.eval_episodes)},
            "agent": OmegaConf.to_container(cfg.agent), "env": OmegaConf.to_container(cfg.env),
            "a_trained": a_info["a_trained"], "b_zero_shot": a_info["b_zero_shot"], "a_after_b": a_at_end,
            "a_at_switch": a_at_switch,
            "diagnostics_after_a": a_info["diagnostics"], "a_shared_from": a_info["key"],
            "from_a": from_a, "scratch": scratch,
            "seconds": time.perf_counter() - started, "meta": provenance(seed)}


def failures(out: Path, family: str, remedy: str) -> int:
    """Seeds on which B from A's weights missed the 1.5x bar (or never reached the threshold)."""
    from reporting.plasticity import cell_row
    return sum(not cell_row(json.loads(p.read_text()))["within"] for p in (out / family / remedy).glob("seed_*.json"))


def run(args) -> None:
    """Run the missing cells, two at a time, seed by seed. A (family, remedy) gets no further
    seed once it missed the 1.5x bar on ``--drop-after`` seeds: it can no longer qualify (9 of
    10), and its failing runs are the most expensive (they run to the cap)."""
    steps_a, caps = budgets(args.families)
    settings = {"chunk": args.chunk, "threshold": args.threshold, "steps_a": steps_a, "cap": caps,
                "work": str(args.work), "overrides": list(args.override)}
    # plain learner first, so that the remedies acting only at a switch find its A and from-scratch runs
    remedies = sorted(args.remedies, key=lambda r: (r != "none", r))
    queue = [(f, r, s) for s in args.seeds for f in args.families for r in remedies
             if not cell_path(args.out, f, r, s).exists()]
    print(f"{len(queue)} cells at most, on {args.jobs} worker(s)", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        running: dict = {}
        while queue or running:
            while queue and len(running) < args.jobs:
                f, r, s = queue.pop(0)
                if failures(args.out, f, r) >= args.drop_after:
                    print(f"{f:8s} {r:24s} seed {s}: skipped ({args.drop_after} seeds missed the bar)", flush=True)
                    continue
                running[pool.submit(run_cell, f, r, s, settings)] = (f, r, s)
            if not running:
                break
            done = next(as_completed(running))
            f, r, s = running.pop(done)
            cell = done.result()
            write_json_atomic(cell_path(args.out, f, r, s), cell)
            print(f"{f:8s} {r:24s} seed {s}: A {cell['a_trained']:.2f}, B from A "
                  f"{_steps(cell['from_a'])} (A then {cell['a_after_b']:.2f}), scratch {_steps(cell['scratch'])}, "
                  f"{cell['seconds']:.0f} s", flush=True)


def _steps(part: dict) -> str:
    return f"{part['steps_to_threshold']:,}" if part["reached"] else f">{part['steps']:,}"


def load(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/*/seed_*.json")) if p.parent.name in PLASTICITY]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/plasticity"))
    parser.add_argument("--work", type=Path, default=Path("runs/plasticity"),
                        help="A's trained models and the shared from-scratch runs (not committed)")
    parser.add_argument("--override", nargs="*", default=[],
                        help="further Hydra overrides of every cell, e.g. env.context_cue=false (use another --out "
                             "and --work)")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(HEADLINE_FAMILIES),
                        help="families of envs/family.py (default: the headline's); budgets from configs/measure/")
    parser.add_argument("--remedies", nargs="+", choices=sorted(PLASTICITY), default=sorted(PLASTICITY))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--drop-after", type=int, default=2,
                        help="give a (family, remedy) no further seed once this many missed the 1.5x bar")
    parser.add_argument("--chunk", type=int, default=10_240, help="steps between two scores of B (5 rollouts)")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--report", action="store_true", help="no training: the table of the saved cells")
    parser.add_argument("--readme", action="store_true", help="with --report: write the table into README.md")
    parser.add_argument("--readme-block", default="plasticity", help="the README block --readme replaces")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.chunk < 1 or not 0 < args.threshold <= 1.5:
        parser.error("--jobs and --chunk must be >= 1 and --threshold in (0, 1.5]")
    if not args.report:
        run(args)
    from reporting.plasticity import markdown
    table = markdown(load(args.out))
    print(table)
    if args.readme:
        from reporting.readme import replace_readme_block
        replace_readme_block(args.readme_block, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
