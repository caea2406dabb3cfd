"""Bad configs fail at start, before any training, naming the field, the bad value and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
register()

BAD_CONFIGS = [
    # (override, words the message must contain: field, bad value, what is allowed)
    ("consolidation.gating.mode=sometimes", ["mode", "sometimes", "on", "shuffled_within_task", "matched"]),
    ("consolidation.gating.td_source=later", ["td_source", "later", "stored", "recomputed"]),
    ("consolidation.learning_rate=-0.001", ["consolidation.learning_rate", "-0.001", "> 0"]),
    ("consolidation.updates=0", ["consolidation.updates", "0", ">= 1"]),
    ("consolidation.loss=huber", ["consolidation.loss", "huber", "kl", "mse"]),
    ("consolidation.downscaling=1.5", ["consolidation.downscaling", "1.5", "(0, 1]"]),
    ("agent.algorithm=dqn", ["agent.algorithm", "dqn", "ppo", "sac"]),
    ("agent.hyperparameters.learning_rate=-0.1", ["agent.hyperparameters.learning_rate", "-0.1", "> 0"]),
    ("agent.net_arch=[0,64]", ["agent.net_arch", "[0, 64]", ">= 1"]),
    ("agent=sac", ["agent.hyperparameters", "n_epochs", "unknown to SAC", "learning_starts"]),
    ("env.family=swim", ["env.family", "swim", "balance", "reach"]),
    ("env.contexts.A=curl_sideways", ["env.contexts.A", "curl_sideways", "curl_cw"]),
    ("+env.contexts.C={curl_field:nan}", ["env.contexts.C", "curl_field", "finite"]),
    ("student_hidden=[512,512]", ["student_hidden", "[512, 512]", "no larger than its teacher"]),
    ("protocol.phases.0.context=C", ["protocol.phases[0].context", "C", "env.contexts has"]),
    ("protocol.phases.0.steps=0", ["protocol.phases[0].steps", "0", ">= 1"]),
    ("protocol.phases.1.kind=nap", ["protocol.phases[1].kind", "nap", "wake", "sleep", "test"]),
    ("memory.capacity_per_task=0", ["capacity_per_task", "0", ">= 1"]),
    ("eval_episodes=0", ["eval_episodes", "0", ">= 1"]),
]


@pytest.mark.parametrize("override,words", BAD_CONFIGS, ids=[o for o, _ in BAD_CONFIGS])
def test_bad_config_fails_at_instantiation_with_a_clear_message(override, words):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke", override, "run_dir=/tmp/unused"])
    with pytest.raises(InstantiationException) as caught:
        instantiate(cfg)
    message = str(caught.value.__cause__ or caught.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_recomputed_td_errors_with_sac_are_refused_before_training():
    overrides = ["experiment=smoke", "agent=sac", "agent.hyperparameters.learning_starts=10",
                 "~agent.hyperparameters.n_steps", "~agent.hyperparameters.n_epochs",
                 "consolidation.gating.td_source=recomputed", "run_dir=/tmp/unused"]
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    with pytest.raises(InstantiationException) as caught:
        instantiate(cfg)
    message = str(caught.value.__cause__ or caught.value)
    for word in ("consolidation.gating.td_source", "recomputed", "'sac'", "'ppo'", "'stored'"):
        assert word in message, f"{word!r} missing from: {message}"


def test_entry_point_rejects_a_bad_config_before_training_and_leaves_no_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "consolidation.gating.mode=sometimes",
         f"hydra.run.dir={run_dir}"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "bad config" in completed.stderr and "sometimes" in completed.stderr
    assert not run_dir.exists()


def test_bad_config_on_resume_keeps_the_finished_phases(tmp_path):
    """A later attempt with a broken config must not delete what an earlier attempt made."""
    (tmp_path / "phases" / "00_wake_A").mkdir(parents=True)
    (tmp_path / "phases" / "00_wake_A" / "phase.json").write_text("{}")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "memory.capacity_per_task=0",
         f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert (tmp_path / "phases" / "00_wake_A" / "phase.json").is_file()


def test_resource_guard_warns_before_start_when_memory_or_disk_would_not_fit(tmp_path, capsys):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke", "memory.capacity_per_task=4000000000",
                                                       f"run_dir={tmp_path}"])
    experiment = instantiate(cfg)
    experiment._check_resources(obs_dim=12, action_dim=2)
    err = capsys.readouterr().err
    assert "episodic memory may reach" in err and "checkpoints may need" in err
    assert experiment.resources["memory_bytes_max"] == 4_000_000_000 * 2 * (4 * (12 + 6 + 3) + 12)


def test_resource_guard_is_quiet_for_the_defaults(tmp_path, capsys):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"run_dir={tmp_path}"])
    instantiate(cfg)._check_resources(obs_dim=12, action_dim=2)
    assert "warning" not in capsys.readouterr().err
