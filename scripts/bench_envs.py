"""How close env.step gets to the MuJoCo physics floor, for each motorsleep task family.

The ids timed by default are every family's ``speed_ids`` (configs/measure/<family>.yaml): its
bare id and one context's.

Why: the tasks' physics is cheap (a few microseconds per control step), so the Python around
mj_step (wrappers, action clipping, observation, reward, info, resets) can dominate training
throughput. This script measures, in one run, for each env id:

- ``env``: ``gymnasium.make(id).step`` with pre-generated random actions, i.e. with the wrappers
  users get (TimeLimit, OrderEnforcing; Reacher-v5 also PassiveEnvChecker, which motorsleep's
  ids leave out), resetting on termination or truncation (resets count in the time);
- ``unwrapped``: ``env.unwrapped.step``, same procedure and resets every ``max_episode_steps``,
  so ``unwrapped - env`` is the wrappers' cost;
- ``floor``: the physics floor, a fresh MjData of the same ``env.unwrapped.model`` stepped as
  ``data.ctrl[:] = a; mujoco.mj_step(model, data, nstep=frame_skip)``;
- ``loop``: the same with ``for _ in range(frame_skip): mj_step(model, data)``, the Python loop a
  force field applied per physics step (the curl field of ReachCurl*) cannot avoid.

The ratio is env steps/s over floor steps/s. Gymnasium's Reacher-v5 goes through the same
procedure as the reference. Target: a ratio of at least Reacher-v5's, ideally 0.8. Rounds are
interleaved (every env and variant once per round, order rotated) and medians are reported.
Times are this process's CPU time by default, so other jobs on shared cores count less.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import gymnasium
import mujoco
import numpy as np

import envs  # noqa: F401  (registers the motorsleep/* ids)
from fileio import write_text_atomic
from reporting.readme import replace_readme_block
from runner.family_settings import FAMILIES, family_settings

# every family of envs/family.py, the ids of its configs/measure/<family>.yaml (its bare id and a context's)
DEFAULT_ENVS = tuple(env_id for family in FAMILIES for env_id in family_settings(family).speed_ids)
ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "Reacher-v5"
TARGET = 0.8
VARIANTS = ("env", "unwrapped", "floor", "loop")
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def time_env(env, actions, max_steps: int, clock) -> float:
    """Control steps per second of env.step, resetting on termination, truncation or max_steps."""
    step, reset, n = env.step, env.reset, 0
    start = clock()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        n += 1
        if terminated or truncated or n == max_steps:
            reset()
            n = 0
    return len(actions) / (clock() - start)


def time_floor(model, actions, frame_skip: int, clock, loop: bool) -> float:
    """Control steps per second of bare mj_step on a fresh MjData: the physics floor."""
    data = mujoco.MjData(model)
    ctrl, mj_step = data.ctrl, mujoco.mj_step
    start = clock()
    if loop:
        for action in actions:
            ctrl[:] = action
            for _ in range(frame_skip):
                mj_step(model, data)
    else:
        for action in actions:
            ctrl[:] = action
            mj_step(model, data, nstep=frame_skip)
    return len(actions) / (clock() - start)


def make_bench(env_id: str, steps: int, seed: int):
    """The env id's timed callables, one per variant, sharing one action sequence."""
    env, bare = gymnasium.make(env_id), gymnasium.make(env_id).unwrapped
    env.reset(seed=seed)
    bare.reset(seed=seed)
    space, max_steps = env.action_space, env.spec.max_episode_steps or steps
    rng = np.random.default_rng(seed)
    actions = list(rng.uniform(space.low, space.high, (steps, *space.shape)).astype(space.dtype))
    model, frame_skip = env.unwrapped.model, env.unwrapped.frame_skip
    return frame_skip, {
        "env": lambda acts, clock: time_env(env, acts, max_steps, clock),
        "unwrapped": lambda acts, clock: time_env(bare, acts, max_steps, clock),
        "floor": lambda acts, clock: time_floor(model, acts, frame_skip, clock, loop=False),
        "loop": lambda acts, clock: time_floor(model, acts, frame_skip, clock, loop=True),
    }, actions


def measure(env_ids, steps: int, repeats: int, clock, seed: int) -> dict:
    benches = {env_id: make_bench(env_id, steps, seed) for env_id in env_ids}
    for _, timers, actions in benches.values():  # warm-up: caches, the env checker's first step
        for timer in timers.values():
            timer(actions[:1000], clock)
    rates = {env_id: {v: [] for v in VARIANTS} for env_id in env_ids}
    for r in range(repeats):
        for env_id, (_, timers, actions) in benches.items():
            for variant in VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]:
                rates[env_id][variant].append(timers[variant](actions, clock))
    results = {}
    for env_id, per_variant in rates.items():
        med = {v: statistics.median(samples) for v, samples in per_variant.items()}
        results[env_id] = {
            "frame_skip": benches[env_id][0],
            "steps_per_s": med,
            "samples": per_variant,
            "ratio": med["env"] / med["floor"],
            "ratio_unwrapped": med["unwrapped"] / med["floor"],
            "overhead_us": 1e6 / med["env"] - 1e6 / med["floor"],
            "wrappers_us": 1e6 / med["env"] - 1e6 / med["unwrapped"],
        }
    return results


def report(results: dict, meta: dict) -> str:
    ref = results[REFERENCE]["ratio"]
    lines = [" ".join(f"{k}={v}" for k, v in meta.items()),
             "floor = bare mj_step(model, data, nstep=frame_skip); loop = per-physics-step "
             "Python loop; rates in control steps/s (median); overhead = 1/env - 1/floor",
             f"{'env id':36}{'skip':>5}{'floor':>10}{'loop':>10}{'unwrap':>10}{'env':>10}"
             f"{'ratio':>7}{'unwr.':>7}{'ovh us':>8}{'wrap us':>8}"]
    for env_id, res in results.items():
        sps = res["steps_per_s"]
        lines.append(f"{env_id:36}{res['frame_skip']:>5}{sps['floor']:>10,.0f}{sps['loop']:>10,.0f}"
                     f"{sps['unwrapped']:>10,.0f}{sps['env']:>10,.0f}{res['ratio']:>7.2f}"
                     f"{res['ratio_unwrapped']:>7.2f}{res['overhead_us']:>8.2f}"
                     f"{res['wrappers_us']:>8.2f}")
    lines.append("")
    for env_id, res in results.items():
        if env_id == REFERENCE:
            continue
        ratio = res["ratio"]
        vs_ref = "meets" if ratio >= ref else "below"
        vs_target = "meets" if ratio >= TARGET else f"{TARGET - ratio:.2f} short of"
        lines.append(f"{env_id}: {ratio:.2f}x floor, {vs_ref} {REFERENCE} ({ref:.2f}x), "
                     f"{vs_target} the {TARGET}x target")
    return "\n".join(lines)


def markdown(saved: dict) -> str:
    """README table of a saved measurement."""
    results, meta = saved["results"], saved["meta"]
    ref = results[REFERENCE]["ratio"]
    lines = [f"`env.step` throughput against the bare physics floor `mj_step(model, data, nstep=frame_skip)`"
             f" on the same model, medians of {meta['repeats']} interleaved rounds of {meta['steps']:,} "
             f"random-action steps ({meta['clock']} time; mujoco {meta['mujoco']}, gymnasium "
             f"{meta['gymnasium']}). Target: at least {REFERENCE}'s ratio in the same run, ideally {TARGET}.",
             "", "| env | frame skip | floor steps/s | env steps/s | ratio | Python overhead per step |",
             "|---|---|---|---|---|---|"]
    for env_id, res in results.items():
        sps = res["steps_per_s"]
        verdict = "" if env_id == REFERENCE else (" (>= reference)" if res["ratio"] >= ref else " (< reference)")
        lines.append(f"| {env_id} | {res['frame_skip']} | {sps['floor']:,.0f} | {sps['env']:,.0f} | "
                     f"{res['ratio']:.2f}{verdict} | {res['overhead_us']:.1f} us |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_ENVS),
                        help=f"env ids ({REFERENCE} is always added as the reference; default: every family's "
                             "ids in configs/measure/)")
    parser.add_argument("--steps", type=int, default=20_000, help="control steps per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: this process's CPU time (default); wall: perf_counter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--from-saved", type=Path, help="no measurement: report this saved JSON")
    parser.add_argument("--readme", type=Path, nargs="?", const=ROOT / "README.md",
                        help="write into this README (default README.md) between the block's markers")
    parser.add_argument("--readme-block", default="bench_envs", metavar="NAME",
                        help="the README block --readme replaces")
    args = parser.parse_args(argv)
    if args.from_saved:
        saved = json.loads(args.from_saved.read_text())
        print(report(saved["results"], saved["meta"]))
        if args.readme is not None:
            replace_readme_block(args.readme_block, markdown(saved), args.readme)
        return 0
    if args.steps < 1000 or args.repeats < 1:
        parser.error("need --steps >= 1000 and --repeats >= 1")
    env_ids = list(dict.fromkeys([*args.envs, REFERENCE]))
    meta = {"python": platform.python_version(), "mujoco": mujoco.__version__,
            "gymnasium": gymnasium.__version__, "numpy": np.__version__, "clock": args.clock,
            "steps": args.steps, "repeats": args.repeats}
    results = measure(env_ids, args.steps, args.repeats, CLOCKS[args.clock], args.seed)
    print(report(results, meta))
    saved = {"meta": meta, "target": TARGET, "reference": REFERENCE, "results": results}
    if args.json:
        write_text_atomic(args.json, json.dumps(saved, indent=2))
    if args.readme is not None:
        replace_readme_block(args.readme_block, markdown(saved), args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
