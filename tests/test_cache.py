"""The shared-phase cache: reuse gives the numbers computing gives, keys change with what
produced a phase, concurrent runs compute a phase once, and a crash leaves no entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cache import KeyChain, PhaseCache
from runner.identity import run_identity

ROOT = Path(__file__).resolve().parents[1]
# A-B-A with a reservoir that overflows on the second A: the cached wake of A must merge into
# memory rows a sleep of this run relabelled
RELEARN = ["protocol.phases=[{kind:wake,context:A,steps:256},{kind:sleep,updates:20},"
           "{kind:wake,context:B,steps:256},{kind:sleep,updates:20},{kind:wake,context:A,steps:256},"
           "{kind:sleep,updates:20}]", "memory.capacity_per_task=300"]


def _command(run_dir: Path, cache_dir: Path | None, *overrides: str) -> list[str]:
    cache = ["cache.enabled=false"] if cache_dir is None else ["cache.enabled=true", f"cache.dir={cache_dir}"]
    return [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", f"hydra.run.dir={run_dir}",
            *cache, *overrides]


def _run(run_dir: Path, cache_dir: Path | None, *overrides: str, env: dict | None = None) -> dict:
    completed = subprocess.run(_command(run_dir, cache_dir, *overrides), capture_output=True, text=True,
                               timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((run_dir / "results.json").read_text())


def _numbers(results: dict) -> str:
    return json.dumps({k: results[k] for k in ("R", "metrics", "evaluations", "anchors")}, sort_keys=True)


def _hits(results: dict) -> list[bool]:
    return [p["cache"]["hit"] for p in results["phases"]]


@pytest.fixture(scope="module")
def relearn_runs(tmp_path_factory):
    """`none` fills the cache; `gated` reuses its wakes; `gated` again; baselines reuse its first wake;
    each strategy again without the cache."""
    base = tmp_path_factory.mktemp("relearn")
    cache = base / "cache"
    runs = {"none": _run(base / "none", cache, "consolidation=none", *RELEARN)}
    for name, option in (("gated", "gated"), ("gated_again", "gated"), ("ewc", "ewc"), ("clear", "clear"),
                         ("progress_compress", "progress_compress")):
        runs[name] = _run(base / name, cache, f"consolidation={option}", *RELEARN)
    for name in ("gated", "ewc", "clear", "progress_compress"):
        runs[f"{name}_computed"] = _run(base / f"{name}_computed", None, f"consolidation={name}", *RELEARN)
    return runs, cache


def test_a_sleep_variant_reuses_the_fine_tuning_wakes_and_gets_the_same_numbers(relearn_runs):
    runs, _ = relearn_runs
    kinds = [p["kind"] for p in runs["gated"]["phases"]]
    assert not any(_hits(runs["none"]))
    # every wake comes from `none`'s run; every sleep and test of `gated` is its own
    assert _hits(runs["gated"]) == [kind == "wake" for kind in kinds]
    assert _numbers(runs["gated"]) == _numbers(runs["gated_computed"])
    assert "cache" not in runs["gated_computed"]["phases"][0]


@pytest.mark.parametrize("strategy", ["ewc", "clear", "progress_compress"])
def test_a_baseline_reuses_fine_tunings_first_wake_only_and_gets_the_same_numbers(relearn_runs, strategy):
    """Before the first task ends EWC has no anchor, CLEAR nothing to clone and P&C no active
    column to reset: that wake is plain fine-tuning, shared; their own hooks then run on the
    loaded cortex."""
    runs, _ = relearn_runs
    wakes = [p["cache"] for p in runs[strategy]["phases"] if p["kind"] == "wake"]
    assert [(w["hit"], w["shared"]) for w in wakes] == [(True, True), (False, False), (False, False)]
    assert _numbers(runs[strategy]) == _numbers(runs[f"{strategy}_computed"])


def test_the_same_run_again_hits_every_phase(relearn_runs):
    runs, _ = relearn_runs
    assert all(_hits(runs["gated_again"]))
    assert _numbers(runs["gated_again"]) == _numbers(runs["gated_computed"])


def test_a_damaged_entry_is_recomputed_not_loaded(relearn_runs, tmp_path):
    runs, cache = relearn_runs
    key = runs["gated"]["phases"][2]["cache"]["key"]  # the first sleep's entry
    entry = PhaseCache(cache).entry(key)
    with open(entry / "subcortical.pt", "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0xFF]))
    again = _run(tmp_path / "after_damage", cache, "consolidation=gated", *RELEARN)
    assert _hits(again)[2] is False and _hits(again)[0] is True
    assert _numbers(again) == _numbers(runs["gated_computed"])


def _keys(identity: dict, phases: list[dict], plain: bool = True) -> list[str]:
    """Every phase's key, every wake plain fine-tuning (``plain``) or none."""
    chain = KeyChain(identity, ["A", "B"], "consolidation.strategies.gated")
    return [chain.next(i, phase, plain and phase["kind"] == "wake")[0] for i, phase in enumerate(phases)]


IDENTITY = run_identity({"seed": 0, "env": {"family": "reach"}, "agent": {"algorithm": "ppo", "progress_bar": True},
                         "consolidation": {"_target_": "gated", "updates": 20}, "student_hidden": [8],
                         "run_dir": "/somewhere", "log_formats": ["csv"], "cache": {"dir": "/c"}})
PHASES = [{"kind": "wake", "context": "A", "steps": 256, "updates": None},
          {"kind": "sleep", "context": None, "steps": None, "updates": 20},
          {"kind": "wake", "context": "B", "steps": 256, "updates": None},
          {"kind": "test", "context": None, "steps": None, "updates": None}]


def test_same_key_for_the_same_run_and_paths_logging_and_cache_do_not_count():
    moved = run_identity({**IDENTITY, "run_dir": "/elsewhere", "log_formats": ["log"], "cache": {"dir": "/d"},
                          "agent": {"algorithm": "ppo", "progress_bar": False}})
    assert _keys(IDENTITY, PHASES) == _keys(moved, PHASES)


def test_a_change_in_an_earlier_phase_or_the_seed_misses_every_later_phase():
    base = _keys(IDENTITY, PHASES)
    longer = [{**PHASES[0], "steps": 512}, *PHASES[1:]]
    assert all(a != b for a, b in zip(base, _keys(IDENTITY, longer), strict=True))
    assert all(a != b for a, b in zip(base, _keys({**IDENTITY, "seed": 1}, PHASES), strict=True))
    other_sleep = [PHASES[0], {**PHASES[1], "updates": 40}, *PHASES[2:]]
    changed = _keys(IDENTITY, other_sleep)
    assert changed[0] == base[0]  # what came before the change is the same phase
    assert changed[1] != base[1] and changed[3] != base[3]
    assert changed[2] == base[2]  # a sleep never changes the cortex: wake B is shared


def test_a_wake_that_is_not_plain_leaves_the_lane_for_good():
    chain = KeyChain(IDENTITY, ["A", "B"], "consolidation.strategies.ewc")
    third = {"kind": "wake", "context": "A", "steps": 256, "updates": None}
    plain = [True, False, False, True]  # e.g. EWC: nothing to protect in its first wake only
    keys = [chain.next(i, phase, flag) for i, (phase, flag) in enumerate(zip([*PHASES[:3], third], plain, strict=True))]
    sharing = _keys(IDENTITY, [*PHASES[:3], third])
    assert keys[0] == (sharing[0], True)
    assert keys[2][1] is False and keys[2][0] != sharing[2]
    assert keys[3][1] is False and keys[3][0] != sharing[3]  # the lane is not rejoined


def test_only_wake_sharing_strategies_share_wakes_across_strategies():
    other = {**IDENTITY, "consolidation": {"_target_": "full", "updates": 20}}
    shared, mine = _keys(IDENTITY, PHASES), _keys(other, PHASES)
    assert shared[0] == mine[0] and shared[2] == mine[2] and shared[1] != mine[1]
    own, own_other = _keys(IDENTITY, PHASES, plain=False), _keys(other, PHASES, plain=False)
    assert own[0] != own_other[0] and own[0] != shared[0]


def test_two_processes_needing_the_same_phases_compute_each_once(tmp_path):
    cache = tmp_path / "cache"
    procs = [subprocess.Popen(_command(tmp_path / name, cache, "consolidation=gated", "seed=3"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for name in "ab"]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    first, second = (json.loads((tmp_path / n / "results.json").read_text()) for n in "ab")
    computed = [(not x) + (not y) for x, y in zip(_hits(first), _hits(second), strict=True)]
    assert computed == [1] * len(computed)
    assert _numbers(first) == _numbers(second)


def test_a_crash_while_storing_leaves_no_entry_and_the_next_run_completes(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "MOTORSLEEP_CRASH_AT": "cache:before_rename"}
    crashed = subprocess.run(_command(tmp_path / "crashed", cache, "consolidation=none"), capture_output=True,
                             text=True, timeout=300, env=env)
    assert crashed.returncode == -9
    assert not list((cache / "entries").rglob("phase.json"))
    assert list((cache / "staging").iterdir())  # the half-copied entry, never under its key
    done = _run(tmp_path / "after", cache, "consolidation=none")
    assert not any(_hits(done))
    assert len(list((cache / "entries").rglob("phase.json"))) == len(done["phases"])


def test_protocols_that_begin_alike_share_their_first_phases():
    """The phases before are in each key's chain: the protocol's later phases do not count (the ABA
    gap presets share A's wake, and a protocol extended later reuses what it had computed)."""
    def identity(phases: list) -> dict:
        return run_identity({**IDENTITY, "protocol": {"phases": phases, "test_after_every_phase": True}})
    base = _keys(identity(PHASES), PHASES)
    longer = [*PHASES, {"kind": "wake", "context": "A", "steps": 256, "updates": None}]
    other = _keys(identity(longer), longer)
    assert other[: len(PHASES)] == base


def test_the_wake_lane_covers_what_a_wake_runs_and_not_the_sleep():
    """A shared wake's key follows the imports of the schedule: memory, tagging and the strategy
    base class are in it, the sleep and the strategies' own modules are not (editing a sleep
    variant keeps every shared wake); the full chain of gated adds its sleep."""
    from runner.cache import PACKAGES, WAKE_ROOT
    from runner.code_digest import module_closure

    lane = {str(p.relative_to(ROOT)) for p in module_closure((WAKE_ROOT,), ROOT, PACKAGES)}
    assert {"consolidation/memory.py", "consolidation/tagging.py", "consolidation/strategies/base.py",
            "agents/cortex.py", "envs/reach.py", "runner/phase_store.py"} <= lane
    sleep = {"consolidation/sleep.py", "consolidation/neuromodulation.py", "consolidation/strategies/gated.py"}
    assert not sleep & lane
    full = {str(p.relative_to(ROOT)) for p in module_closure((WAKE_ROOT, "consolidation.strategies.gated"), ROOT,
                                                            PACKAGES)}
    assert sleep <= full
