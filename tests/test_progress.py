"""What a run says while it runs (runner/progress.py) and what it logs (runner/logs.py): labelled
progress lines per phase, run.log, and progress.csv / TensorBoard at one global step."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import re
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from consolidation.protocol import Phase
from runner.build import ConfigError, build_experiment
from runner.identity import run_identity
from runner.logs import phase_offset
from runner.progress import Progress

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A smoke run whose first wake's budget (200) is not a whole number of rollouts (128 steps):
    PPO takes 256. Output to pipes, as in a file or CI."""
    run_dir = tmp_path_factory.mktemp("progress")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "protocol.phases.0.steps=200",
         "cache.enabled=false", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return run_dir, completed


def test_each_phase_has_labelled_plain_lines_that_never_show_more_than_the_budget(smoke):
    _, completed = smoke
    assert "\r" not in completed.stderr and "\r" not in completed.stdout
    lines = completed.stderr.splitlines()
    assert "motorsleep: phase 0 (wake_A): 200/200 steps (+56 to finish the rollout), training score" \
        in "\n".join(lines)
    assert any(re.fullmatch(r"motorsleep: phase 4 \(wake_B\): 256/256 steps, training score -?\d+\.\d\d", x)
               for x in lines)
    assert any(re.fullmatch(r"motorsleep: phase 2 \(sleep\): 20/20 updates, loss \S+", x) for x in lines)
    assert any(re.fullmatch(r"motorsleep: phase 7 \(test\): cortical A -?\d\.\d\d, B -?\d\.\d\d; "
                            r"subcortical A -?\d\.\d\d, B -?\d\.\d\d", x) for x in lines)
    for done, total in re.findall(r"([\d,]+)/([\d,]+) (?:steps|updates)", completed.stderr):
        assert int(done.replace(",", "")) <= int(total.replace(",", ""))


def test_run_log_carries_the_run_s_messages_and_its_table(smoke):
    run_dir, completed = smoke
    log = (run_dir / "run.log").read_text()
    for line in completed.stderr.splitlines():
        if line.startswith("motorsleep: phase"):
            assert line in log
    assert "| A lost (learned - at the end) |" in log and f"run directory: {run_dir}" in log


def test_progress_csv_has_the_test_scores_a_phase_column_and_one_increasing_global_step(smoke):
    run_dir, _ = smoke
    frame = pd.read_csv(run_dir / "logs" / "progress.csv")
    assert frame["global_step"].is_monotonic_increasing and frame["global_step"].is_unique
    assert set(frame["phase"]) == {"wake_A", "wake_B", "sleep", "test"}
    sleeps = frame[frame["phase"] == "sleep"]
    assert sorted(set(sleeps["phase_index"])) == [2, 6] and sleeps["sleep/loss"].notna().all()
    tests = frame[frame["phase"] == "test"]
    assert len(tests) == 4 and tests[["test/cortical/A", "test/subcortical/B"]].notna().all().all()
    wakes = frame[frame["phase"].str.startswith("wake")]
    # a wake's step is the env steps so far plus the sleep updates and tests before it
    assert wakes["global_step"].iloc[-1] == wakes["time/total_timesteps"].iloc[-1] + (20 + 1) + 2


def test_tensorboard_has_the_test_scores_and_sleep_losses_that_do_not_restart(smoke):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = smoke
    events = EventAccumulator(str(next((run_dir / "logs").glob("events.out.tfevents.*")))).Reload()
    assert "test/cortical/A" in events.Tags()["scalars"] and "phase" not in events.Tags()["scalars"]
    assert len(events.Scalars("test/subcortical/B")) == 4
    steps = [e.step for e in events.Scalars("sleep/loss")]
    assert len(steps) == 4 and steps == sorted(steps) and len(set(steps)) == 4  # two sleeps, not from 0 twice


def test_plain_lines_come_per_tenth_capped_at_the_total_and_without_carriage_returns(monkeypatch):
    clock = iter(range(0, 1000, 3))  # 3 s between calls: every tenth passed gets its line
    monkeypatch.setattr("runner.progress.time.monotonic", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress("auto", stream=stream)  # not a terminal: plain lines
    progress.start("phase 0 (wake_A)", 100, "steps")
    for done in range(0, 130, 5):
        progress.update(done, lambda: "training score 0.50")
    progress.finish(128, "training score 0.60", "to finish the rollout")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) == 11
    assert lines[0] == "motorsleep: phase 0 (wake_A): 10/100 steps, training score 0.50"
    assert lines[-2] == "motorsleep: phase 0 (wake_A): 100/100 steps, training score 0.50"
    assert lines[-1] == "motorsleep: phase 0 (wake_A): 100/100 steps (+28 to finish the rollout), training score 0.60"


def test_off_prints_nothing_and_a_bad_mode_is_refused():
    stream = io.StringIO()
    progress = Progress("off", stream=stream)
    progress.start("phase 2 (sleep)", 10, "updates")
    progress.finish(10, "loss 0.1")
    progress.line("phase 3 (test)", "cortical A 0.50")
    assert stream.getvalue() == ""
    with pytest.raises(ValueError, match="progress.mode='loud' is not allowed"):
        Progress("loud")


def test_the_global_step_of_each_phase_starts_after_the_last_of_the_phase_before():
    phases = [Phase("wake", "A", steps=200), Phase("test"), Phase("sleep", updates=20), Phase("test"),
              Phase("wake", "B", steps=256)]
    assert phase_offset(phases, 0, 0) == 0                # a wake dumps at the learner's step count
    assert phase_offset(phases, 1, 256) == 257            # the test's dump, after the wake's last (256)
    assert phase_offset(phases, 2, 256) == 258            # sleep updates 0..20 at 258..278
    assert phase_offset(phases, 3, 256) == 279
    assert phase_offset(phases, 4, 256) == 1 + 21 + 1     # then wake B from 256 + 23 + its steps


def test_a_sleep_whose_last_update_said_its_final_line_does_not_say_it_again():
    stream = io.StringIO()
    progress = Progress("plain", stream=stream)
    progress.start("phase 2 (sleep)", 10, "updates")
    for done in range(1, 11):
        progress.update(done, "loss 0.1")
    progress.finish(10, "loss 0.1")
    final = "motorsleep: phase 2 (sleep): 10/10 updates, loss 0.1"
    assert stream.getvalue().splitlines().count(final) == 1
    progress.start("phase 4 (sleep)", 10, "updates")
    progress.finish(10, "loss 0.2")  # no update said it: finish does
    assert stream.getvalue().splitlines()[-1] == "motorsleep: phase 4 (sleep): 10/10 updates, loss 0.2"


def test_progress_settings_are_not_part_of_a_run_s_identity():
    config = {"seed": 0, "agent": {"algorithm": "ppo", "progress_bar": True}, "progress": {"mode": "plain"}}
    assert run_identity(config) == {"seed": 0, "agent": {"algorithm": "ppo"}}


def test_on_a_terminal_one_live_line_then_the_last_plain_line_stays():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress("auto", stream=stream)
    progress.start("phase 2 (sleep)", 1000, "updates")
    progress.update(500, "loss 0.1")
    progress.finish(1000, "loss 0.05")
    text = stream.getvalue()
    assert "\r" in text and "motorsleep: phase 2 (sleep)" in text.split("\r")[1]  # the live line
    assert text.endswith("\rmotorsleep: phase 2 (sleep): 1,000/1,000 updates, loss 0.05\n")


class FakeWandb(types.ModuleType):
    """Stands in for the wandb package (an optional extra, not installed by setup): records the calls."""

    def __init__(self) -> None:
        super().__init__("wandb")
        self.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
        self.inits, self.logged, self.finished = [], [], 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        return self

    def log(self, values, step):
        self.logged.append((step, values))

    def finish(self):
        self.finished += 1


def test_the_wandb_output_gets_every_dump_at_the_global_step_and_ends_its_run(tmp_path, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_PROJECT", "sleepy")
    build_experiment(["experiment=smoke", "log_formats=[csv,wandb]", "cache.enabled=false", "progress.mode=off"],
                     run_dir=tmp_path / "run").run()
    assert len(fake.inits) == 1 and fake.inits[0]["project"] == "sleepy" and fake.inits[0]["name"] == "run"
    assert fake.inits[0]["config"]["seed"] == 0 and fake.finished == 1
    steps = [step for step, _ in fake.logged]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    frame = pd.read_csv(tmp_path / "run" / "logs" / "progress.csv")
    assert steps == frame["global_step"].tolist()
    tests = [values for _, values in fake.logged if values.get("phase") == "test"]
    assert len(tests) == 4 and all(isinstance(v["test/cortical/A"], float) for v in tests)


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_wandb_without_the_package_is_a_config_error_naming_the_extra(tmp_path):
    with pytest.raises(ConfigError, match=r'wandb package is not installed: expected pip install -e "\.\[wandb\]"'):
        build_experiment(["experiment=smoke", "log_formats=[csv,wandb]"], run_dir=tmp_path / "run")
