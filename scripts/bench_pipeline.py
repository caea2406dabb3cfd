"""Pipeline figures of DESIGN.md section 5: wake tagging cost, sleep cost, student compression.

Why: sleep is worth studying only if it is cheap next to wake, and memory tagging must not slow
wake down. Each cost is measured against a baseline timed in the same process, interleaved:

1. wake: two learners as in configs/agent/ppo.yaml on reach A (env as the experiment builds it),
   same seeds and global random streams, one tagging into an EpisodicMemory, one plain SB3;
   chunks alternate, order swapped each round. Bar: tagged steps/s >= 0.95x plain.
2. sleep: a wake phase (protocol budget, tagging on), then Sleep.run (consolidation/gated.yaml):
   sleep CPU <= 5% of wake's. Student training: Sleep.run's updates/s (fixed costs, i.e. a
   1-update Sleep.run, taken out) >= 0.8x a bare torch loop (same student, data, batch and
   updates; uniform sampling, Adam on the KL; no gating, logging or checks).
3. quality, from a run's results.json (--run-dir, or --run-quick runs experiment=quick): fidelity
   on A after the first sleep >= 0.95, parameter ratio <= 0.10, retention of A after B
   (subcortical >= 0.90); the fine-tuned cortex should forget A (forgetting > 0.6).

Times are CPU time of this process with one torch thread; repeated figures report medians.

    python scripts/bench_pipeline.py --run-quick --json bench.json
    python scripts/bench_pipeline.py --wake-steps 20000 --chunk 4096 --run-dir runs/<date>/<time>
"""

from __future__ import annotations

import argparse
import copy
import json
import operator
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from stable_baselines3.common.logger import Logger

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy, gaussian_kl
from consolidation.memory import EpisodicMemory
from consolidation.novelty import ForwardModelNovelty
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily
from envs.vector import make_vec
from fileio import write_text_atomic
from reporting.readme import replace_readme_block
from runner.build import compose_config

ROOT = Path(__file__).resolve().parents[1]
BARS = {"wake": 0.95, "sleep": 0.05, "student": 0.8, "fidelity": 0.95, "params": 0.10,
        "retention": 0.90, "forgetting": 0.6}
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt}


def config(*overrides: str) -> dict:
    """The run config of these overrides (runner.build, as scripts/run.py composes it), as plain
    dicts without ``_target_`` keys."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "_target_"}
        return node
    cfg = compose_config([*overrides, "run_dir=unused"])
    return strip(OmegaConf.to_container(cfg, resolve=True))


def clocked(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``fn()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def swap_rng(state=None):
    """Global (torch, numpy, random) generator states before setting them to ``state``."""
    old = torch.get_rng_state(), np.random.get_state(), random.getstate()
    if state is not None:
        torch.set_rng_state(state[0]), np.random.set_state(state[1]), random.setstate(state[2])
    return old


def make_learner(agent: dict, family: TaskFamily, seed: int) -> CorticalLearner:
    learner = CorticalLearner(**{**agent, "progress_bar": False})  # every key of the agent config
    learner.build(make_vec(family, [family.labels[0]], learner.n_envs, seed), seed)
    learner.model.set_logger(Logger(folder=None, output_formats=[]))  # no output, no temp dir
    return learner


def dims(learner: CorticalLearner) -> tuple[int, int]:
    return learner.model.observation_space.shape[0], learner.model.action_space.shape[0]


def bench_wake(agent: dict, family: TaskFamily, capacity: int, rounds: int, chunk: int,
               warmup: int, seed: int) -> dict:
    """Tagged vs plain learner, same seeds and random streams, chunks alternating."""
    learners, states = {}, {}
    for name in ("tagged", "plain"):
        learners[name] = make_learner(agent, family, seed)
        states[name] = swap_rng()
    memory = EpisodicMemory(capacity, *dims(learners["plain"]), seed=seed)
    novelty, tagging = ForwardModelNovelty(), []

    def train(name: str, steps: int):
        mine = swap_rng(states[name])
        callback = MemoryTaggingCallback(memory, 0, 0, novelty) if name == "tagged" else None
        times = clocked(lambda: learners[name].learn(steps, callback=callback))
        states[name] = swap_rng(mine)
        return times, callback

    for name in learners:
        train(name, warmup)
    cpu, wall = {n: [] for n in learners}, {n: [] for n in learners}
    for r in range(rounds):
        for name in ("tagged", "plain") if r % 2 == 0 else ("plain", "tagged"):
            (c, w), callback = train(name, chunk)
            cpu[name].append(c)
            wall[name].append(w)
            if callback is not None:
                tagging.append(callback.seconds_tagging)
    params = [m.model.policy.state_dict() for m in learners.values()]
    return {
        "algorithm": agent["algorithm"], "chunk": chunk, "rounds": rounds, "warmup": warmup,
        "steps_per_s": {n: statistics.median(chunk / c for c in cpu[n]) for n in learners},
        "ratio": statistics.median(np.divide(cpu["plain"], cpu["tagged"])),
        "ratio_wall": statistics.median(np.divide(wall["plain"], wall["tagged"])),
        "tagging_share": sum(tagging) / sum(wall["tagged"]), "tagging_seconds": sum(tagging),
        "identical_weights": all(torch.equal(params[0][k], params[1][k]) for k in params[0]),
        "cpu_seconds": cpu, "wall_seconds": wall}


def bare_loop(student, tensors, updates: int, batch: int, lr: float, seed: int) -> None:
    """The floor: uniform batches, KL to the teacher, Adam; no gating, logging or checks."""
    obs, mean, log_std = tensors
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    for _ in range(updates):
        index = torch.randint(len(obs), (batch,), generator=generator)
        m, s = student(obs[index])
        loss = gaussian_kl(mean[index], log_std[index], m, s).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def bench_sleep(agent: dict, family: TaskFamily, root: dict, wake_steps: int, repeats: int,
                seed: int) -> dict:
    learner = make_learner(agent, family, seed)
    memory = EpisodicMemory(root["memory"]["capacity_per_task"], *dims(learner), seed=seed)
    callback = MemoryTaggingCallback(memory, task=0, phase=0, novelty=ForwardModelNovelty())
    wake_cpu, wake_wall = clocked(lambda: learner.learn(wake_steps, callback=callback))
    strategy = instantiate(compose_config(["consolidation=gated", "run_dir=unused"]).consolidation)
    sleep, updates = strategy.phase, strategy.sleep_updates  # the Sleep of the gated strategy
    student = SubcorticalPolicy(*dims(learner), root["student_hidden"])
    memory.relabel(0, *learner.action_distribution(memory.arrays([0])["obs"]))  # as Sleep.run
    arrays = memory.arrays([0])
    data = [torch.as_tensor(arrays[k]) for k in ("obs", "action_mean", "action_log_std")]
    runs = {"sleep": lambda f: sleep.run(f, memory, 0, learner, seed + 1, updates=updates),
            "one_update": lambda f: sleep.run(f, memory, 0, learner, seed + 1, updates=1),
            "bare": lambda f: bare_loop(f, data, updates, sleep.settings.batch_size,
                                        sleep.settings.learning_rate, seed)}
    times = {k: [] for k in (*runs, "sleep_wall")}
    for r in range(repeats):  # interleaved, order reversed every other round; fresh students
        for kind in list(runs)[:: 1 if r % 2 == 0 else -1]:
            fresh = copy.deepcopy(student)
            c, w = clocked(lambda kind=kind, fresh=fresh: runs[kind](fresh))
            times[kind].append(c)
            times["sleep_wall"] += [w] if kind == "sleep" else []
    med = {k: statistics.median(v) for k, v in times.items()}
    loop = med["sleep"] - med["one_update"]  # updates 2..N of Sleep.run, fixed costs out
    sleep_rate, bare_rate = (updates - 1) / loop, updates / med["bare"]
    return {"wake_steps": wake_steps, "wake_cpu": wake_cpu, "wake_wall": wake_wall,
            "memory": len(memory), "updates": updates, "batch_size": sleep.settings.batch_size,
            "sleep_cpu": med["sleep"], "sleep_wall": med["sleep_wall"],
            "ratio": med["sleep"] / wake_cpu, "fixed_cpu": med["one_update"] - 1 / sleep_rate,
            "sleep_updates_per_s": sleep_rate, "bare_updates_per_s": bare_rate,
            "student_ratio": sleep_rate / bare_rate, "samples": times}


def run_quick(seed: int) -> Path:
    run_dir = Path(tempfile.mkdtemp(prefix="bench_pipeline_quick_"))
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=quick",
               "agent.progress_bar=false", f"seed={seed}", f"hydra.run.dir={run_dir}"]
    print("running:", " ".join(command), flush=True)
    with open(run_dir / "bench_stdout.txt", "w") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"quick experiment failed ({done.returncode}); see {run_dir}/bench_stdout.txt")
    return run_dir


def quality(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    metrics, first = results["metrics"], results["tasks"][0]
    return {"run_dir": str(run_dir), "task": first, "fidelity": metrics["fidelity"][first],
            "parameter_ratio": metrics["parameter_ratio"],
            "retention": {p: metrics[p]["retention"][first] for p in ("cortical", "subcortical")},
            # the bounded drop (A learned minus A at the end, scores clipped to [-1, 1]), not the raw
            # forgetting, which has no upper bound (issue 12)
            "cortical_forgetting": metrics["cortical"]["retention_drop"][first]}


def table(out: dict) -> list[tuple]:
    """(figure, value, bar, status) rows; a bar of None is reported, not judged."""
    rows = [(f"wake {w['algorithm']}: tagged/plain steps/s", w["ratio"], (">=", BARS["wake"]))
            for w in (out.get("wake"), out.get("wake_sac")) if w]
    if s := out.get("sleep"):
        rows += [("sleep CPU / wake CPU", s["ratio"], ("<=", BARS["sleep"])),
                 ("Sleep.run updates/s / bare loop", s["student_ratio"], (">=", BARS["student"]))]
    if q := out.get("quality"):
        a = q["task"]
        rows += [(f"fidelity on {a} after 1st sleep", q["fidelity"], (">=", BARS["fidelity"])),
                 ("parameter ratio student/cortex", q["parameter_ratio"], ("<=", BARS["params"])),
                 (f"retention {a} after B: subcortical", q["retention"]["subcortical"],
                  (">=", BARS["retention"])),
                 (f"retention {a} after B: cortical", q["retention"]["cortical"], None),
                 (f"{a} lost, bounded: cortical (tasks interfere)", q["cortical_forgetting"],
                  (">", BARS["forgetting"]))]
    return [(name, value, f"{bar[0]} {bar[1]}" if bar else "-",
             "info" if bar is None else "PASS" if OPS[bar[0]](value, bar[1]) else "FAIL")
            for name, value, bar in rows]


def markdown(out: dict) -> str:
    """README table of a saved measurement."""
    lines = ["| figure | value | bar | status |", "|---|---|---|---|"]
    lines += [f"| {name} | {value:.3f} | {bar} | {status} |" for name, value, bar, status in out["table"]]
    if q := out.get("quality"):
        lines += ["", f"Quality figures from `{Path(q['run_dir']).name}/results.json` (the quick experiment)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", nargs="+", choices=("wake", "sleep", "quality"),
                        default=["wake", "sleep", "quality"])
    parser.add_argument("--rounds", type=int, default=4, help="wake: alternating rounds")
    parser.add_argument("--chunk", type=int, default=20480, help="wake: steps per chunk (PPO)")
    parser.add_argument("--sac", action="store_true", help="wake: also SAC (smaller budget)")
    parser.add_argument("--sac-chunk", type=int, default=1000, help="wake: steps per SAC chunk")
    parser.add_argument("--wake-steps", type=int, help="sleep: wake budget (default: protocol)")
    parser.add_argument("--repeats", type=int, default=5, help="sleep: interleaved repeats")
    parser.add_argument("--run-dir", type=Path, help="quality: a finished run directory")
    parser.add_argument("--run-quick", action="store_true", help="quality: run experiment=quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--merge", action="store_true",
                        help="with --json: keep the saved file's figures that this run does not measure")
    parser.add_argument("--from-saved", type=Path, help="no measurement: report this saved JSON")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md between markers")
    args = parser.parse_args(argv)
    if args.from_saved:
        out = json.loads(args.from_saved.read_text())
        print(markdown(out))
        if args.readme:
            replace_readme_block("bench_pipeline", markdown(out))
        return 0
    if min(args.rounds, args.chunk, args.sac_chunk, args.repeats, args.wake_steps or 1) < 1:
        parser.error("--rounds, --chunk, --sac-chunk, --repeats and --wake-steps must be >= 1")
    torch.set_num_threads(1)
    root = config("agent=ppo", "env=reach", "protocol=ab")
    ppo = root["agent"]
    family = TaskFamily(**root["env"])
    wake_steps = args.wake_steps or root["protocol"]["phases"][0]["steps"]
    out: dict = {"meta": {"clock": "process_time", "torch_threads": 1, "seed": args.seed,
                          "torch": torch.__version__, "numpy": np.__version__}}
    if "wake" in args.figures:
        rollout = ppo["n_envs"] * ppo["hyperparameters"]["n_steps"]
        out["wake"] = bench_wake(ppo, family, root["memory"]["capacity_per_task"], args.rounds, args.chunk,
                                 rollout, args.seed)
        if args.sac:
            sac = config("agent=sac")["agent"]
            warm = sac["hyperparameters"]["learning_starts"] + args.sac_chunk
            out["wake_sac"] = bench_wake(sac, family, root["memory"]["capacity_per_task"], args.rounds,
                                         args.sac_chunk, warm, args.seed)
    if "sleep" in args.figures:
        out["sleep"] = bench_sleep(ppo, family, root, wake_steps, args.repeats, args.seed)
    if "quality" in args.figures and (args.run_dir or args.run_quick):
        out["quality"] = quality(args.run_dir or run_quick(args.seed))
    for w in (out.get("wake"), out.get("wake_sac")):
        if w:
            print(f"wake {w['algorithm']}: {w['rounds']} rounds x {w['chunk']} steps, CPU steps/s "
                  f"tagged {w['steps_per_s']['tagged']:.0f}, plain {w['steps_per_s']['plain']:.0f}"
                  f" (wall ratio {w['ratio_wall']:.3f}); tagging {w['tagging_seconds']:.2f} s = "
                  f"{w['tagging_share']:.1%} of tagged wall time; identical weights after "
                  f"training: {w['identical_weights']}")
    if s := out.get("sleep"):
        print(f"sleep: wake {s['wake_steps']} steps {s['wake_cpu']:.1f} s CPU ({s['wake_wall']:.1f}"
              f" s wall); Sleep.run {s['updates']} x {s['batch_size']} on {s['memory']} memories "
              f"{s['sleep_cpu']:.2f} s CPU ({s['sleep_wall']:.2f} s wall), fixed costs "
              f"{s['fixed_cpu']:.3f} s; updates/s: Sleep.run {s['sleep_updates_per_s']:.0f}, bare "
              f"{s['bare_updates_per_s']:.0f}")
    print(f"quality: {out['quality']['run_dir']}/results.json" if "quality" in out else
          "quality: not measured (pass --run-dir PATH or --run-quick)")
    out["table"] = table(out)
    print(f"\n{'figure':46}{'value':>8}  {'bar':9}status")
    for name, value, bar, status in out["table"]:
        print(f"{name:46}{value:>8.3f}  {bar:9}{status}")
    if args.json:
        if args.merge and args.json.is_file():  # keep the saved figures this run did not measure
            out = {**json.loads(args.json.read_text()), **out}
            out["table"] = table(out)
        write_text_atomic(args.json, json.dumps(out, indent=1))
    if args.readme:
        replace_readme_block("bench_pipeline", markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
