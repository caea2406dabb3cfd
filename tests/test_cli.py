"""The ``motorsleep`` command, the Python API and gymnasium ids made without an import (issue 15).

One smoke run with the context cue on (so that a policy's observations are not the registered
id's) is made through the API in this process; commands run as a user starts them (a fresh
``python -m motorsleep`` from another directory) where the process is what is tested: help,
exit codes, no traceback, a fresh interpreter. The rest calls :func:`motorsleep.cli.main` here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import gymnasium
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import motorsleep
from motorsleep import cli
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]


def motorsleep_process(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m motorsleep ARGS`` in ``cwd``, importing this checkout (also before ``pip install -e .``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "motorsleep", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished smoke run with the context cue on, made by ``motorsleep.run``."""
    path = tmp_path_factory.mktemp("cue_run")
    results = motorsleep.run(["experiment=smoke", "env.context_cue=true", "seed=2"], run_dir=path)
    assert results["tasks"] == ["A", "B"] and (path / "results.json").is_file()
    return path


@pytest.fixture(scope="module")
def config_only(tmp_path_factory) -> dict[bool, Path]:
    """Run directories holding only the smoke preset's config, with the cue off and on."""
    register()
    dirs = {}
    for cue in (False, True):
        path = tmp_path_factory.mktemp(f"cue_{cue}")
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            cfg = compose(config_name="config", overrides=["experiment=smoke", f"env.context_cue={str(cue).lower()}"])
        (path / ".hydra").mkdir()
        OmegaConf.save(cfg, path / ".hydra" / "config.yaml")
        dirs[cue] = path
    return dirs


# -- the command ------------------------------------------------------------------------------
def test_help_describes_every_command(tmp_path):
    done = motorsleep_process("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "motor skill consolidation" in done.stdout
    for name, command in cli.COMMANDS.items():
        assert f"    {name} " in done.stdout and command.summary.split()[0] in done.stdout, name
    assert set(cli.COMMANDS) == {"run", "bench", "report", "record", "evaluate", "envs"}


def test_the_console_script_is_the_cli_main_and_its_package_is_installed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["motorsleep"].partition(":")
    assert (module, function) == ("motorsleep.cli", "main")
    main = getattr(__import__(module, fromlist=[function]), function)
    assert main is cli.main
    with pytest.raises(SystemExit) as done:  # as the console script calls it, with its arguments in sys.argv
        main(["--help"])
    assert done.value.code == 0
    assert "motorsleep*" in project["tool"]["setuptools"]["packages"]["find"]["include"]


def test_run_hands_its_arguments_to_the_hydra_app(tmp_path):
    done = motorsleep_process("run", "--cfg", "job", "experiment=smoke", "seed=7", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "seed: 7" in done.stdout and "_target_: runner.experiment.Experiment" in done.stdout


@pytest.mark.parametrize(("command", "option"), [("bench", "--strategies"), ("report", "--mean-std"),
                                                 ("record", "video")])
def test_script_commands_run_their_script_from_any_directory(command, option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"], program="motorsleep")
    assert done.value.code == 0 and option in capsys.readouterr().out


def test_envs_lists_every_registered_id_with_its_parameters(capsys):
    assert cli.main(["envs"], program="motorsleep") == 0
    out = capsys.readouterr().out
    for env_id in motorsleep.REGISTERED_IDS:
        assert f"| {env_id} |" in out
    assert "| motorsleep/ReachCurlCW-v0 | reach | curl_cw | curl_field=20, rotation_deg=0 | 50 |" in out
    assert "env=reach: reach, A (curl_field=30), B (curl_field=-30), cue off" in out


# -- gymnasium ids --------------------------------------------------------------------------------
def test_gymnasium_makes_an_id_in_a_fresh_interpreter_through_the_module_prefix(tmp_path):
    """gymnasium 1.x loads no plugins: the bare id needs an import, ``motorsleep:<id>`` makes it
    one; importing motorsleep for it loads no torch."""
    code = """
import sys, gymnasium
try:
    gymnasium.make("motorsleep/ReachCurlCW-v0")
    print("bare id: made")
except gymnasium.error.NamespaceNotFound:
    print("bare id: NamespaceNotFound")
env = gymnasium.make("motorsleep:motorsleep/ReachCurlCW-v0")
print(env.unwrapped.context.curl_field, env.observation_space.shape, "torch" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["bare id: NamespaceNotFound", "20.0 (10,) False"]


# -- the Python API and evaluate ------------------------------------------------------------------
def test_evaluate_gives_exactly_the_scores_the_test_phases_recorded(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    saved = motorsleep.load_run(run_dir)
    # test_after_every_phase: the k-th test scored the policies the k-th wake or sleep saved
    assert [p.name for p in saved.phases] == results["rows"]
    for phase, recorded in zip(saved.phases, results["evaluations"], strict=True):
        for policy in ("cortical", "subcortical"):
            scores = motorsleep.evaluate(run_dir, policy=policy, phase=phase.key)
            assert list(scores) == ["A", "B"]
            for label, score in scores.items():
                cell = recorded[policy][label]
                assert (score.score, score.mean_return, score.success_rate) == \
                    (cell["score"], cell["return"], cell["success_rate"]), (phase.key, policy, label)
                assert score.episodes == 2 and len(score.returns) == 2


def test_make_env_is_the_saved_cortex_env_cue_included(run_dir):
    saved = motorsleep.load_run(run_dir)
    env = motorsleep.make_env(run_dir, "B")
    registered = gymnasium.make("motorsleep/Reach-v0", context={"curl_field": -30.0})
    try:
        assert env.observation_space.shape == (12,) and registered.observation_space.shape == (10,)
        obs, _ = env.reset(seed=0)
        assert obs[-2:].tolist() == [0.0, 1.0]  # B's one-hot
        act = saved.load_policy(saved.phase("wake_B"), "cortical", env.observation_space.shape[0])
        assert env.action_space.contains(act(obs).astype(env.action_space.dtype))
    finally:
        env.close()
        registered.close()


def test_any_context_of_the_family_is_evaluated_only_without_a_cue(config_only):
    off, on = motorsleep.load_run(config_only[False]), motorsleep.load_run(config_only[True])
    env = off.make_env("rot_plus30")
    assert env.unwrapped.context.rotation_deg == 30.0 and env.observation_space.shape == (10,)
    env.close()
    assert off.context_family({"curl_field": 12.0})[1] == "curl_field=12"
    assert off.context_family({"curl_field": 30.0})[1] == "A"  # a run context, by its fields
    with pytest.raises(ValueError, match=r"context='rot_plus30' is not allowed: .* A \(curl_field=30\), B .*cue"):
        on.make_env("rot_plus30")


def test_evaluate_command_prints_the_scores(run_dir, tmp_path):
    done = motorsleep_process("evaluate", "--run-dir", str(run_dir), "--policy", "subcortical", "--phase",
                              "02_sleep", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = json.loads((run_dir / "results.json").read_text())["evaluations"][1]["subcortical"]
    assert "the subcortical policy of phase 02_sleep, 2 episodes per context from seed 10000" in done.stdout
    for label, cell in recorded.items():
        assert f"| {label} (curl_field={30 if label == 'A' else -30}) | {cell['score']:.3f} | " \
               f"{cell['return']:.2f} | {cell['success_rate']:.2f} | 2 |" in done.stdout


def test_a_missing_run_directory_is_one_message_and_exit_2(tmp_path):
    done = motorsleep_process("evaluate", "--run-dir", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"motorsleep: {tmp_path / 'nowhere'} is not a directory: expected a run " \
                                  "directory made by `motorsleep run` or scripts/run.py"


@pytest.mark.parametrize(("args", "words"), [
    (["--policy", "thalamic"], ["policy='thalamic'", "'cortical', 'subcortical'"]),
    (["--phase", "nap"], ["phase='nap'", "00_wake_A, 02_sleep, 04_wake_B, 06_sleep"]),
    (["--phase", "01_test"], ["phase='01_test'", "00_wake_A"]),
    (["--context", "C"], ["context='C'", "A (curl_field=30), B (curl_field=-30)", "cue"]),
    (["--context", "rot_plus30"], ["context='rot_plus30'", "A (curl_field=30)", "context cue"]),
    (["--episodes", "0"], ["episodes=0", ">= 1"]),
])
def test_bad_evaluate_arguments_name_what_is_allowed(run_dir, capsys, args, words):
    with pytest.raises(SystemExit) as done:
        cli.main(["evaluate", "--run-dir", str(run_dir), *args], program="motorsleep")
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("motorsleep: ") and len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err, (word, err)


def test_a_config_without_phases_says_so(config_only, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["evaluate", "--run-dir", str(config_only[False])], program="motorsleep")
    assert done.value.code == 2 and "has no finished phase with a saved policy" in capsys.readouterr().err
