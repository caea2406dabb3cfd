"""scripts/record.py: a saved run's policies rendered offscreen by MuJoCo into MP4, GIF and PNG files.

The run directory is built from real parts at tiny sizes (the smoke preset's composed config,
an untrained SB3 cortex and student, phase folders sealed by runner/checkpoints.py)
because a smoke run would take most of this file's time budget. The script's ``main`` runs in
this process (one test runs the command line itself); rendering is real, and the tests skip
only when no OpenGL backend works on the machine, saying why.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium
import imageio_ffmpeg
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image
from stable_baselines3.common.env_util import make_vec_env

from agents.subcortical import SubcorticalPolicy
from envs import REACH_MAX_STEPS
from envs.family import TaskFamily
from envs.rendering import gl_context
from runner import checkpoints
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "record.py"


@pytest.fixture(scope="module")
def gl() -> None:
    """Skip, with the backend's own error, when no OpenGL backend can render offscreen here."""
    try:
        gl_context(8, 8).free()
    except RuntimeError as error:
        pytest.skip(f"no offscreen OpenGL backend works here: {error}")


@pytest.fixture(scope="module")
def record_module() -> Iterator[Any]:
    """scripts/record.py as a module, loaded once."""
    spec = importlib.util.spec_from_file_location("record_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def record(record_module) -> Callable[..., int]:
    """``record(*args)``: scripts/record.py's ``main``, run in this process."""
    return lambda *args: record_module.main(list(args))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory as scripts/run.py lays it out: Hydra's config of the smoke preset, a wake
    and a sleep phase with both policies, and a test phase that saved none."""
    run = tmp_path_factory.mktemp("run")
    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke"])
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    family = TaskFamily(cfg.env.family, OmegaConf.to_container(cfg.env.contexts), cfg.env.context_cue)
    venv = make_vec_env(family.env_id, n_envs=1, seed=0, env_kwargs=family.env_kwargs_for("A"))
    learner = instantiate(cfg.agent, _convert_="all")
    learner.build(venv, seed=0)
    obs_dim, action_dim = venv.observation_space.shape[0], venv.action_space.shape[0]
    for index, name in ((0, "wake_A"), (1, "test"), (2, "sleep")):
        folder = checkpoints.phase_folder(run, index, name)
        checkpoints.begin(folder)
        if name != "test":
            learner.model.save(folder / "cortical.zip")
            SubcorticalPolicy(obs_dim, action_dim, hidden=list(cfg.student_hidden)).save(folder / "subcortical.pt")
        checkpoints.finish(folder, {"record": {"index": index, "name": name}})
    venv.close()
    return run


def test_the_command_line_writes_a_gif_of_the_requested_size_and_every_frame(gl, run_dir: Path, tmp_path: Path):
    out = tmp_path / "wake.gif"
    done = subprocess.run([sys.executable, str(SCRIPT), "video", "--run-dir", str(run_dir), "--phase", "wake_A",
                           "--context", "B", "--episodes", "2", "--fps", "25", "--width", "64",
                           "--height", "48", "--trace", "hand", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    frames = 2 * (REACH_MAX_STEPS // 2 + 1)  # 50 env fps / 25 video fps: every second step, and the reset
    with Image.open(out) as gif:
        assert gif.size == (64, 48)
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
    # Pillow merges identical consecutive frames into one longer frame: the total time is exact
    assert len(durations) <= frames and sum(durations) == frames * 40
    assert f"{frames} frames" in done.stdout


def test_mp4_has_the_requested_size_and_one_frame_per_step(gl, record, run_dir: Path, tmp_path: Path):
    out = tmp_path / "sleep.mp4"
    assert record("video", "--run-dir", str(run_dir), "--policy", "subcortical", "--context", "B",
                  "--fps", "50", "--width", "64", "--height", "48", "--out", str(out)) == 0
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = [np.frombuffer(raw, np.uint8).reshape(48, 64, 3) for raw in reader]
    assert meta["size"] == (64, 48)
    assert len(frames) == REACH_MAX_STEPS + 1  # the reset and every step (stride 1 at the env's 50 fps)
    assert frames[0].std() > 1  # a scene was drawn, not a blank buffer


def test_strip_tiles_frames_of_each_row(gl, record, run_dir: Path, tmp_path: Path):
    out = tmp_path / "strip.png"
    assert record("strip", "--run-dir", str(run_dir), "--frames", "3", "--width", "40", "--height", "32",
                  "--zoom", "3", "--lookat", "0,0.4,0", "--alpha", "0.5", "--trace", "hand", "--no-captions",
                  "--row", "phase=0,policy=cortical,context=A", "--row", "phase=02_sleep,policy=subcortical,context=B",
                  "--out", str(out)) == 0
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (2 * 32 + 2, 3 * 40 + 2 * 2, 3)  # tiles 2 px apart
    first, last = image[:32, :40], image[:32, -40:]
    assert not np.array_equal(first, last)  # the row shows the episode going on (the trace grows)


def test_captions_and_times_sit_beside_and_above_the_tiles(gl, record, run_dir: Path, tmp_path: Path):
    out = tmp_path / "captioned.png"
    assert record("strip", "--run-dir", str(run_dir), "--frames", "2", "--width", "24", "--height", "24",
                  "--row", "phase=wake_A,label=cortex, after wake A", "--out", str(out)) == 0
    image = np.asarray(Image.open(out).convert("RGB"))
    height, width = image.shape[:2]
    assert width > 2 * 24 + 2 and height > 24  # a caption column and a row of times
    # the legend under the tiles: the target's dot in its colour (reach.xml: rgba 0.9 0.1 0.1, stored as float32)
    assert (image[-12:] == (229, 26, 26)).all(axis=-1).any()


def test_the_strip_legend_names_each_marker_by_its_model_colour(record_module):
    env = gymnasium.make("motorsleep/ReachCurlCW-v0")
    try:
        traced = record_module.strip_legend(env, "hand")
        plain = record_module.strip_legend(env, None)
    finally:
        env.close()
    assert dict(plain) == {"start": (51, 51, 51), "hand": (26, 102, 229), "target": (229, 26, 26)}
    assert traced[:3] == plain and traced[3][0] == "hand path (a dot every 20 ms)"  # one env step: 20 ms


def test_the_strip_legend_sits_below_the_tiles_and_wraps_to_their_width(record_module):
    rows = [[np.zeros((32, 40, 3), np.uint8)] * 3] * 2
    legend = [("target", (229, 26, 26)), ("hand path (a dot every 20 ms)", (26, 102, 230)), ("start", (51, 51, 51))]
    bare = np.asarray(record_module.strip_image(rows, ["a row", "another row"]))
    shown = np.asarray(record_module.strip_image(rows, ["a row", "another row"], legend=legend))
    assert shown.shape[1] == bare.shape[1] and shown.shape[0] > bare.shape[0]
    assert np.array_equal(shown[:bare.shape[0]], bare)  # tiles and captions untouched
    below = shown[bare.shape[0]:]
    for _, colour in legend:
        assert (below == colour).all(axis=-1).any(), colour
    # narrower tiles: the three entries no longer fit one line, and the legend grows by lines
    narrow = [[np.zeros((32, 40, 3), np.uint8)]] * 2
    one = np.asarray(record_module.strip_image(narrow, legend=legend[:1]))
    three = np.asarray(record_module.strip_image(narrow, legend=legend))
    assert three.shape[0] > one.shape[0] and three.shape[1] == one.shape[1] == 40


@pytest.mark.parametrize(("args", "named", "allowed"), [
    (["video", "--context", "C"], "context='C'", "A (curl_field=30), B (curl_field=-30)"),
    (["video", "--policy", "thalamic"], "--policy", "'cortical', 'subcortical'"),
    (["strip", "--row", "policy=thalamic"], "policy='thalamic'", "['cortical', 'subcortical']"),
    (["video", "--phase", "01_test"], "phase='01_test'", "00_wake_A, 02_sleep"),
    (["strip", "--row", "phase=wake_A,colour=red"], "'colour=red'", "phase, policy, context, label"),
    (["video", "--trace", "elbow"], "--trace='elbow'", "'hand'"),
])
def test_a_bad_choice_is_refused_naming_the_field_and_the_allowed_values(record, run_dir, tmp_path, capsys,
                                                                          args, named, allowed):
    out = tmp_path / ("x.gif" if args[0] == "video" else "x.png")
    with pytest.raises(SystemExit) as exit_info:
        record(args[0], "--run-dir", str(run_dir), "--out", str(out), *args[1:])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert named in error and allowed in error, error
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_a_directory_without_a_saved_config_is_refused(record, tmp_path, capsys):
    with pytest.raises(SystemExit):
        record("video", "--run-dir", str(tmp_path), "--out", str(tmp_path / "x.mp4"))
    assert "has no saved config" in capsys.readouterr().err


def test_a_context_is_named_by_its_label_or_by_the_preset_it_is():
    from types import SimpleNamespace

    from runner.saved_run import SavedRun

    run = SimpleNamespace(family=SimpleNamespace(contexts={"A": "curl_cw", "B": {"curl_field": -30.0}}))
    assert SavedRun.label(run, "A") == "A" and SavedRun.label(run, "curl_cw") == "A"
    assert SavedRun.label(run, "B") == "B"
    with pytest.raises(ValueError, match=r"this run's contexts are A \(curl_cw\), B \(curl_field=-30\)"):
        SavedRun.label(run, "curl_ccw")
