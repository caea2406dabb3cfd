"""Human paradigm presets (ABA with a gap, rotation / counter-rotation, switching balance): each
composes and yields the phase list it documents; wake learning curves; savings."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from stable_baselines3.common.env_util import make_vec_env

from agents.cortex import CorticalLearner
from consolidation.curves import LearningCurveCallback
from consolidation.protocol import Protocol
from consolidation.results import savings_by_context
from envs.family import TaskFamily
from reporting.summary import format_results
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
register()

T = ("test", None)


def W(context):  # noqa: N802  (reads like the phase lists in the configs' comments)
    return ("wake", context)


S = ("sleep", None)

CURL_30 = {"A": {"curl_field": 30.0}, "B": {"curl_field": -30.0}}  # the reach family's default contexts
TILT_20 = {"A": {"gravity_tilt_deg": -20.0}, "B": {"gravity_tilt_deg": 20.0}}  # the balance family's

# preset -> (protocol option, env contexts, phases with their automatic tests, wake steps in order)
EXPECTED = {
    "paradigm_aba_gap0": ("aba_gap0", CURL_30,
                          [W("A"), T, W("B"), T, W("A"), T, S, T], [150_000, 300_000, 150_000]),
    "paradigm_aba_gap1": ("aba_gap1", CURL_30,
                          [W("A"), T, S, T, W("B"), T, W("A"), T, S, T], [150_000, 300_000, 150_000]),
    "paradigm_aba_gap2": ("aba_gap2", CURL_30,
                          [W("A"), T, S, T, S, T, W("B"), T, W("A"), T, S, T], [150_000, 300_000, 150_000]),
    "paradigm_aba_gap4": ("aba_gap4", CURL_30,
                          [W("A"), T, S, T, S, T, S, T, S, T, W("B"), T, W("A"), T, S, T],
                          [150_000, 300_000, 150_000]),
    "paradigm_rotation_counter": ("rotation_counter", {"A": "rot_plus30", "B": "rot_minus30", "N": "null"},
                                  [W("A"), T, S, T, W("B"), T, S, T, W("A"), T, S, T], [200_000, 400_000, 200_000]),
    "paradigm_rotation_washout": ("rotation_washout", {"A": "rot_plus30", "B": "rot_minus30", "N": "null"},
                                  [W("A"), T, S, T, W("N"), T, W("B"), T, S, T, W("N"), T, W("A"), T, S, T],
                                  [200_000, 100_000, 400_000, 100_000, 200_000]),
    "paradigm_rotation_2x": ("rotation_2x", {"A": "rot_plus30", "B": "rot_minus30", "N": "null"},
                             [W("A"), T, W("B"), T, S, T, W("A"), T, S, T], [400_000, 400_000, 200_000]),
    "paradigm_balance_switching": ("balance_switching", TILT_20,
                                   [W("A"), T, S, T, W("B"), T, S, T, W("A"), T, S, T, W("B"), T, S, T],
                                   [250_000] * 4),
}


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def _names(phases) -> list[str]:
    return [f"{kind}_{context}" if kind == "wake" else kind for kind, context in phases]


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset_yields_the_phase_list_it_documents(preset):
    option, contexts, phases, steps = EXPECTED[preset]
    cfg = _compose(f"experiment={preset}")
    assert cfg.protocol.phases == _compose(f"protocol={option}").protocol.phases  # the preset runs its protocol
    assert OmegaConf.to_container(cfg.env.contexts) == contexts
    protocol = instantiate(cfg.protocol, _convert_="all")
    assert isinstance(protocol, Protocol)
    assert [(p.kind, p.context) for p in protocol.phases] == phases
    assert [p.steps for p in protocol.phases if p.kind == "wake"] == steps
    # the comment block of the protocol file lists the same phases
    documented = [line for line in (CONFIGS / "protocol" / f"{option}.yaml").read_text().splitlines()
                  if line.startswith("#   wake_")]
    assert len(documented) == 1, f"{option}.yaml documents no phase list"
    assert documented[0][len("#   "):].split(", ") == _names(phases)


@pytest.mark.parametrize("k", [0, 1, 2, 4])
def test_aba_gap_presets_have_k_sleeps_between_a_and_b(k):
    protocol = instantiate(_compose(f"protocol=aba_gap{k}").protocol, _convert_="all")
    kinds = [(p.kind, p.context) for p in protocol.phases if p.kind != "test"]
    first_b = kinds.index(W("B"))
    assert kinds[0] == W("A") and kinds[1:first_b] == [S] * k
    assert kinds[first_b + 1:] == [W("A"), S]  # relearn A, then the final sleep


# -- savings ---------------------------------------------------------------------------------

def _wake_record(index, steps, scores):
    return {"index": index, "kind": "wake", "curve": {"steps": steps, "score": scores}}


def _aba_records(first, relearn, later=None):
    protocol = Protocol([{"kind": "wake", "context": "A", "steps": 1000}, {"kind": "sleep"},
                         {"kind": "wake", "context": "B", "steps": 1000},
                         {"kind": "wake", "context": "A", "steps": 1000}]
                        + ([{"kind": "wake", "context": "A", "steps": 1000}] if later else []))
    wakes = [i for i, p in enumerate(protocol.phases) if p.kind == "wake"]
    steps = [100 * (i + 1) for i in range(10)]
    records = [_wake_record(wakes[0], steps, first), _wake_record(wakes[1], steps, [0.1] * 10),
               _wake_record(wakes[2], steps, relearn)]
    if later:
        records.append(_wake_record(wakes[3], steps, later))
    return protocol, records


def test_savings_from_hand_built_curves():
    # first wake ends at 1.0 -> threshold 0.8, reached at step X = 600; relearning reaches it at Y = 200
    first = [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0, 1.0]
    relearn = [0.5, 0.85, 0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    protocol, records = _aba_records(first, relearn, later=[0.9] * 10)
    out = savings_by_context(protocol, records)
    assert set(out) == {"A"}  # B has one wake: no savings
    entry = out["A"]
    assert entry["threshold"] == pytest.approx(0.8)
    assert (entry["steps_first"], entry["steps_relearn"]) == (600.0, 200.0)
    assert entry["savings"] == pytest.approx((600 - 200) / 600)
    assert entry["reached_first"] and entry["reached_relearn"]
    third = [i for i, p in enumerate(protocol.phases) if p.kind == "wake"][-1]
    assert entry["phases"] == [0, 6] and third == 8
    assert entry["later"] == [{"phase": third, "steps": 100.0, "savings": pytest.approx(500 / 600)}]


def test_savings_are_nan_when_a_threshold_is_not_reached_or_nothing_was_learned():
    protocol, records = _aba_records([0.0] * 9 + [1.0], [0.5] * 10)
    entry = savings_by_context(protocol, records)["A"]
    assert entry["steps_first"] == 1000.0 and math.isnan(entry["steps_relearn"]) and math.isnan(entry["savings"])
    assert not entry["reached_relearn"]
    protocol, records = _aba_records([0.3] * 9 + [-0.2], [0.5] * 10)  # ended below the baseline
    entry = savings_by_context(protocol, records)["A"]
    assert all(math.isnan(entry[k]) for k in ("threshold", "steps_first", "steps_relearn", "savings"))


# -- learning curves -------------------------------------------------------------------------

def _tiny_learner(seed=0):
    family = TaskFamily("reach", {"A": "curl_cw"}, context_cue=True)
    venv = make_vec_env(family.env_id, n_envs=2, seed=seed, env_kwargs=family.env_kwargs_for("A"))
    learner = CorticalLearner("ppo", [16, 16], n_envs=2, hyperparameters={"n_steps": 64, "batch_size": 64,
                                                                          "n_epochs": 1})
    learner.build(venv, seed)
    return learner


def test_curve_callback_records_each_rollout_and_leaves_training_unchanged():
    # one after the other: building seeds the global generators, which sampling then draws from
    plain = _tiny_learner()
    plain.learn(128)
    plain.learn(512)
    watched = _tiny_learner()
    watched.learn(128)  # a first phase: the curve of the second counts from its own start
    curve = LearningCurveCallback(window=5)
    watched.learn(512, callback=curve)
    for a, b in zip(plain.model.policy.parameters(), watched.model.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    assert curve.steps == [128, 256, 384, 512]  # one point per rollout of 2 x 64 steps
    out = curve.curve(base_return=-50.0, reference_return=-10.0)
    assert len(out["score"]) == 4 and out["episodes"] == 10  # 50-step reaches: 5 per env copy in 256 steps
    assert out["score"][0] == pytest.approx((out["return"][0] + 50.0) / 40.0)


# -- an ABA run end to end ---------------------------------------------------------------------

TINY = ["agent.progress_bar=false", "agent.net_arch=[64,64]", "agent.n_envs=2", "agent.hyperparameters.n_steps=64",
        "agent.hyperparameters.batch_size=64", "agent.hyperparameters.n_epochs=2", "consolidation.updates=20",
        "student_hidden=[8,8]", "memory.capacity_per_task=512", "eval_episodes=2",
        # wakes of protocol/aba_gap1.yaml (A, sleep, B, test, A, sleep): four rollouts each
        "protocol.phases.0.steps=512", "protocol.phases.2.steps=512", "protocol.phases.4.steps=512"]


def _aba(run_dir: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
    if crash_at:
        env["MOTORSLEEP_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=paradigm_aba_gap1",
                           "seed=2", f"hydra.run.dir={run_dir}", *TINY],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def aba_run(tmp_path_factory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("aba")
    completed = _aba(run_dir)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return run_dir, completed.stdout


def test_aba_run_writes_curves_and_savings(aba_run):
    run_dir, stdout = aba_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["rows"] == ["wake_A", "sleep", "wake_B", "wake_A", "sleep"]
    wakes = [p for p in results["phases"] if p["kind"] == "wake"]
    assert [w["name"] for w in wakes] == ["wake_A", "wake_B", "wake_A"]
    for wake in wakes:
        curve = wake["curve"]
        assert curve["steps"] == [128, 256, 384, 512]  # steps since the phase began, one point per rollout
        assert len(curve["score"]) == len(curve["return"]) == 4 and np.isfinite(curve["score"]).all()
    entry = results["metrics"]["savings"]["A"]
    assert entry["phases"] == [0, 6] and entry["threshold_fraction"] == 0.8
    assert set(entry) >= {"threshold", "steps_first", "steps_relearn", "savings"}
    assert "savings (cortex" in stdout and "| A (curl_field=30) |" in stdout


def test_resumed_aba_run_has_the_same_curves_and_savings(aba_run, tmp_path):
    run_dir, _ = aba_run
    killed = _aba(tmp_path, crash_at="5:after_checkpoint")  # after wake B's test: relearning A after a reload
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _aba(tmp_path)
    assert resumed.returncode == 0 and "resuming" in resumed.stderr, resumed.stderr[-2000:]
    reference, again = (json.loads((d / "results.json").read_text()) for d in (run_dir, tmp_path))
    assert [p.get("curve") for p in again["phases"]] == [p.get("curve") for p in reference["phases"]]
    assert json.dumps(again["metrics"], sort_keys=True) == json.dumps(reference["metrics"], sort_keys=True)


def test_summary_has_no_savings_table_without_relearning():
    results = {"tasks": ["A"], "contexts": {"A": "curl_cw"}, "family": "reach", "seed": 0, "rows": ["wake_A"],
               "R": {"cortical": [[1.0]], "subcortical": [[0.5]]},
               "parameters": {"subcortical": 10, "cortical_actor": 100},
               "metrics": {p: {"average_performance": 1.0, "average_forgetting": float("nan"),
                               "backward_transfer": float("nan"), "retention": {"A": 1.0}}
                           for p in ("cortical", "subcortical")} | {"fidelity": {"A": 0.5}, "parameter_ratio": 0.1}}
    assert "savings" not in format_results(results)
    results["metrics"]["savings"] = {}
    assert "savings" not in format_results(results)
