"""Multiruns through Hydra's launchers: every job of a sweep leaves a complete run directory of its own.

Real two-seed sweeps of the smoke preset through the real entry point, with Hydra's default launcher
(`basic`, jobs one after the other), `submitit_local` (extra `submitit`, which scripts/setup.sh installs,
so CI runs it) and `ray` (extra `ray`, a local Ray instance; skipped where it is not installed).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1)
PHASES = ["00_wake_A", "01_test", "02_sleep", "03_test", "04_wake_B", "05_test", "06_sleep", "07_test"]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _phase_cache_off() -> list[str]:
    """``cache.enabled=false`` where the config has a phase cache, so that both jobs really compute."""
    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke"])
    return ["cache.enabled=false"] if "cache" in cfg else []


def _multirun(launcher: str, sweep_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``scripts/run.py -m`` over two seeds with ``launcher``, as a user would start it (one torch thread:
    the config's default)."""
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), "-m", f"hydra/launcher={launcher}",
               "experiment=smoke", "seed=" + ",".join(map(str, SEEDS)), f"hydra.sweep.dir={sweep_dir}",
               *_phase_cache_off()]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=cwd)
    assert completed.returncode == 0, completed.stderr[-3000:] + completed.stdout[-2000:]
    return completed


def _assert_one_complete_run_per_seed(sweep_dir: Path) -> None:
    cortical_R = []
    for number, seed in enumerate(SEEDS):
        job = sweep_dir / str(number)  # hydra.sweep.subdir: one directory per job number
        assert f"seed={seed}" in OmegaConf.load(job / ".hydra" / "overrides.yaml")
        run = json.loads((job / "run.json").read_text())
        assert run["seed"] == seed and run["torch_threads"] == 1
        # the job's own overrides, not the worker's argv or the whole sweep's
        assert f"seed={seed}" in run["hydra_job"]["overrides"] and run["hydra_job"]["num"] == number
        assert sorted(p.name for p in (job / "phases").iterdir()) == PHASES
        for phase in PHASES:
            assert (job / "phases" / phase / "phase.json").is_file(), (job, phase)  # sealed
        results = json.loads((job / "results.json").read_text())
        for policy in ("cortical", "subcortical"):
            R = np.array(results["R"][policy])
            assert R.shape == (4, 2) and np.isfinite(R).all(), (job, policy)
        cortical_R.append(np.array(results["R"]["cortical"]))
    assert not np.array_equal(*cortical_R), "two seeds gave the same R matrix: the jobs did not run apart"


SUBMITIT_ABSENT = ("hydra-submitit-launcher is not installed: pip install -e '.[submitit]' "
                   "(scripts/setup.sh installs it)")


@pytest.mark.skipif(not _installed("hydra_plugins.hydra_submitit_launcher"), reason=SUBMITIT_ABSENT)
@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs" / "hydra" / "launcher").glob("*.yaml")))
def test_launcher_preset_composes_over_its_plugin_config(preset):
    """Each project preset extends a plugin launcher: its own keys win, the plugin's others stay."""
    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={preset}"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.startswith("hydra_plugins.hydra_submitit_launcher.")
    preset_keys = OmegaConf.load(ROOT / "configs" / "hydra" / "launcher" / f"{preset}.yaml")
    for key, value in preset_keys.items():
        if key != "defaults":
            assert launcher[key] == value, key
    assert launcher.submitit_folder  # a key the presets leave to the plugin


def test_basic_launcher_runs_the_jobs_of_a_multirun_one_after_the_other(tmp_path):
    completed = _multirun("basic", tmp_path / "sweep", cwd=tmp_path)
    _assert_one_complete_run_per_seed(tmp_path / "sweep")
    _assert_the_sweep_ends_with_its_summary(tmp_path / "sweep", completed.stdout, tmp_path)


def _assert_the_sweep_ends_with_its_summary(sweep_dir: Path, stdout: str, tmp_path: Path) -> None:
    """A sweep ends with one mean ± std table of its jobs (motorsleep/sweep.py), and the report
    reads a plain sweep directory; a condition the sweep varied besides the seed labels its rows."""
    from reporting import runs

    assert "sweep summary (2 finished jobs" in stdout
    table = (sweep_dir / "table.md").read_text()
    assert "| gated | 2 |" in table and table.strip() in stdout
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), "--runs", str(sweep_dir), "--mean-std",
                           "--out", str(tmp_path / "report")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "| gated | 2 |" in done.stdout, done.stderr[-2000:]
    for number, controller in enumerate(("cortex", "residual")):  # as if the sweep had also varied the controller
        overrides = sweep_dir / str(number) / ".hydra" / "overrides.yaml"
        overrides.write_text(overrides.read_text() + f"- controller={controller}\n")
    assert [(r.strategy, r.seed) for r in runs.load_runs(sweep_dir)] == [
        ("gated [controller=cortex]", 0), ("gated [controller=residual]", 1)]


@pytest.mark.skipif(not _installed("hydra_plugins.hydra_submitit_launcher"), reason=SUBMITIT_ABSENT)
def test_submitit_local_runs_each_job_in_a_process_of_its_own(tmp_path):
    _multirun("submitit_local", tmp_path / "sweep", cwd=tmp_path)
    _assert_one_complete_run_per_seed(tmp_path / "sweep")
    # submitit kept one folder per job it started, each with the pickled result of a finished job
    finished = sorted((tmp_path / "sweep" / ".submitit").glob("*/*_result.pkl"))
    assert len({p.parent for p in finished}) == len(SEEDS), finished


@pytest.mark.skipif(not _installed("hydra_plugins.hydra_ray_launcher"),
                    reason="hydra-ray-launcher is not installed: pip install -e '.[ray]' (an extra of its own: "
                           "it brings Ray and pins cloudpickle<3)")
def test_ray_launcher_runs_the_jobs_on_a_local_ray_instance(tmp_path):
    _multirun("ray", tmp_path / "sweep", cwd=tmp_path)
    _assert_one_complete_run_per_seed(tmp_path / "sweep")
