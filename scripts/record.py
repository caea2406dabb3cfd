"""Render a saved run's policy offscreen: a video (MP4 or GIF) of its episodes, or a frame strip (PNG).

Any phase that saved a policy, either policy (``cortical`` or ``subcortical``), any context of
the run's task family. Episodes are the evaluation episodes (seed 10000 + k, reach target k;
see agents/evaluation.py) played with deterministic actions: a video shows what the R matrix scored.

    # one MP4 of the student after the last phase, on context A, two episodes
    python scripts/record.py video --run-dir runs/RUN --policy subcortical --context A --episodes 2 --out a.mp4
    # a GIF of the cortex after the first wake, on B (a label or the context's name), hand path traced
    python scripts/record.py video --run-dir runs/RUN --phase wake_A --context curl_ccw --trace hand --out b.gif

    # a frame strip: one row per --row, each row FRAMES frames evenly spread over one episode; a legend
    # below names the markers (the model's sites by their colours, and the traced path)
    python scripts/record.py strip --run-dir runs/RUN --frames 6 --trace hand --out strip.png \\
        --row "phase=wake_A,policy=cortical,context=A,label=cortex after wake A, on A" \\
        --row "phase=06_sleep,policy=subcortical,context=A"

    # the README's strip (results/figures/reach_strip.png): reaches under fields A and B before and
    # after sleep, zoomed on the start, the arm half transparent, frames over the first 20 steps.
    # runs/ is not committed: the run is scripts/run.py experiment=quick consolidation=gated seed=0
    # hydra.run.dir=runs/compare_reach/gated/seed0
    python scripts/record.py strip --run-dir runs/compare_reach/gated/seed0 --trace hand --alpha 0.5 \\
        --zoom 4 --lookat 0.04,0.4,0 --frames 6 --steps 20 --width 100 --height 100 \\
        --out results/figures/reach_strip.png \\
        --row "phase=wake_A,policy=cortical,context=A,label=cortex after wake A, field A" \\
        --row "phase=02_sleep,policy=subcortical,context=A,label=student after sleep 1, field A" \\
        --row "phase=wake_B,policy=cortical,context=A,label=cortex after wake B, field A" \\
        --row "phase=wake_B,policy=cortical,context=B,label=cortex after wake B, field B" \\
        --row "phase=06_sleep,policy=subcortical,context=A,label=student after sleep 2, field A" \\
        --row "phase=06_sleep,policy=subcortical,context=B,label=student after sleep 2, field B"

``--phase`` (and ``phase=`` in a row) is an index (``2``), a folder (``02_sleep``) or a name
that occurs once (``wake_A``); the default is the last phase that saved a policy. A row's
keys are phase, policy (default cortical), context (default the first) and label (default
"phase, policy, context"; it may contain commas but not ``key=``). Every choice is checked
against the run before anything is loaded or rendered.

Rendering is MuJoCo's, offscreen, with ``MUJOCO_GL``'s backend (default ``egl``; see :mod:`envs.rendering`).
Videos sample the episode every round(env fps / --fps) steps, so they play at about real time.
A GIF stores times in 1/100 s, and identical consecutive frames are merged (Pillow), keeping
the total time. Files are written to a temporary file and renamed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import envs  # noqa: F401  (registers the ids)
from agents.evaluation import episode_options
from envs.contexts import describe_context
from envs.rendering import TRACE_RGBA, FrameRenderer, site_names
from runner.saved_run import EVAL_SEED, POLICY_FILES, SavedPhase, SavedRun  # recorded episodes are the scored ones

VIDEO_SUFFIXES = (".mp4", ".gif")
ROW_KEYS = ("phase", "policy", "context", "label")


@dataclass(frozen=True)
class Shot:
    """What to render: one policy of one phase on one context, checked against the run."""

    phase: SavedPhase
    policy: str
    label: str
    caption: str


# -- episodes --------------------------------------------------------------------------------
def episode_frames(env: gymnasium.Env, policy: Callable[[np.ndarray], np.ndarray], renderer: FrameRenderer,
                   episode: int, stride: int = 1, returns: list[float] | None = None) -> Iterator[np.ndarray]:
    """Frames of evaluation episode ``episode``: the reset state, every ``stride``-th step and the last.

    The episode's return is appended to ``returns`` when one is given.
    """
    obs, _ = env.reset(seed=EVAL_SEED + episode, options=episode_options(env, episode))
    renderer.reset_trace()
    yield renderer.frame()
    step, total, done = 0, 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        step, total, done = step + 1, total + float(reward), terminated or truncated
        if step % stride == 0 or done:
            yield renderer.frame()
        elif renderer.traces:
            renderer.track()  # the traced path keeps every step
    if returns is not None:
        returns.append(total)


def frames_per_episode(steps: int, stride: int) -> int:
    """How many frames :func:`episode_frames` yields for an episode of ``steps`` steps."""
    return 1 + steps // stride + (1 if steps % stride else 0)


# -- files -----------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers know the format), renamed over it
    once the body succeeded, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private; the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, width: int, height: int) -> int:
    """Write ``frames`` as an H.264 MP4 (streamed through imageio-ffmpeg's ffmpeg) or a looping GIF;
    returns the number of frames."""
    count = 0
    with atomic_path(path) as tmp:
        if path.suffix == ".mp4":
            # macro_block_size=1: keep the requested size (H.264 with yuv420p needs it even, checked earlier)
            writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps, codec="libx264", quality=7,
                                                 macro_block_size=1, ffmpeg_log_level="error")
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
                count += 1
            writer.close()
        else:
            images = [Image.fromarray(frame) for frame in frames]
            count = len(images)
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=round(1000 / fps), loop=0)
    return count


def strip_legend(env: gymnasium.Env, trace: str | None) -> list[tuple[str, tuple[int, int, int]]]:
    """What the markers in the frames are: every site the model draws (alpha > 0), by name and
    colour, and the traced path (one dot per env step) when ``trace`` names a site."""
    model = env.unwrapped.model
    entries = [(model.site(i).name, _rgb(model.site_rgba[i])) for i in range(model.nsite) if model.site_rgba[i][3] > 0]
    if trace is not None:
        entries.append((f"{trace} path (a dot every {env.unwrapped.dt * 1000:g} ms)", _rgb(TRACE_RGBA)))
    return entries


def _rgb(rgba) -> tuple[int, int, int]:
    return tuple(int(round(255 * float(c))) for c in rgba[:3])


def strip_image(rows: list[list[np.ndarray]], captions: list[str] | None = None,
                titles: list[str] | None = None, gap: int = 2,
                legend: list[tuple[str, tuple[int, int, int]]] | None = None) -> Image.Image:
    """Frames tiled into rows (one per shot), ``gap`` white pixels apart, with optional captions
    in a column on the left, titles above the columns and a legend line (a coloured dot and a
    name per entry, wrapped to the image's width) below the tiles."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    font = ImageFont.load_default(size=max(10, min(14, height // 8)))
    text_height = int(font.getbbox("Ag")[3]) + 2 * gap
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 0
    if captions:
        left = max(int(measure.textlength(text, font=font)) for text in captions) + 4 * gap
    head = text_height if titles else 0
    total = left + columns * (width + gap) - gap
    dot = text_height // 3
    # legend entries laid out left to right, a new line when the next would pass the right edge
    places, x, line = [], 2 * gap, 0
    for label, _ in legend or []:
        size = 2 * dot + 2 * gap + int(measure.textlength(label, font=font)) + 6 * gap
        if x > 2 * gap and x + size > total:
            x, line = 2 * gap, line + 1
        places.append((x, line))
        x += size
    foot = (line + 1) * text_height + gap if legend else 0
    body = len(rows) * (height + gap) - gap
    image = Image.new("RGB", (total, head + body + foot), "white")
    draw = ImageDraw.Draw(image)
    ink = (40, 40, 40)
    for c, title in enumerate(titles or []):
        draw.text((left + c * (width + gap) + width // 2, head // 2), title, fill=ink, font=font, anchor="mm")
    for r, row in enumerate(rows):
        top = head + r * (height + gap)
        for c, frame in enumerate(row):
            image.paste(Image.fromarray(frame), (left + c * (width + gap), top))
        if captions:
            draw.text((2 * gap, top + height // 2), captions[r], fill=ink, font=font, anchor="lm")
    for (label, colour), (x, line) in zip(legend or [], places, strict=True):
        middle = head + body + gap + line * text_height + text_height // 2
        draw.ellipse((x, middle - dot, x + 2 * dot, middle + dot), fill=colour, outline=ink)
        draw.text((x + 2 * dot + 2 * gap, middle), label, fill=ink, font=font, anchor="lm")
    return image


# -- arguments -------------------------------------------------------------------------------
def parse_row(text: str) -> dict[str, str]:
    """``phase=wake_A,policy=cortical,context=A,label=...`` -> dict (a label may hold commas)."""
    row: dict[str, str] = {}
    key = None
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() in ROW_KEYS:
            key = name.strip()
            if key in row:
                raise ValueError(f"--row {text!r} gives {key}= twice")
            row[key] = value.strip()
        elif key == "label":
            row[key] += "," + part
        else:
            raise ValueError(f"--row {text!r}: {part.strip()!r} is not allowed: expected key=value with keys "
                             f"{', '.join(ROW_KEYS)}")
    return row


def shot(run: SavedRun, phase: str | None, policy: str, context: str | None, caption: str | None) -> Shot:
    """Check one (phase, policy, context) against the run: every error names its field and the choices."""
    saved = run.phase(phase)
    label = run.label(context if context is not None else run.family.labels[0])
    SavedRun.check_policy(saved, policy)
    named = f"{label} ({describe_context(run.family.contexts[label])})"
    return Shot(saved, policy, label, caption or f"{saved.name}, {policy}, on {named}")


def _point(text: str) -> tuple[float, float, float]:
    """``x,y,z`` -> a 3-tuple of floats (argparse names the option when this raises)."""
    values = tuple(float(v) for v in text.split(","))
    if len(values) != 3:
        raise ValueError(text)
    return values


def check_size(parser: argparse.ArgumentParser, args: argparse.Namespace, suffixes: tuple[str, ...]) -> None:
    if args.out.suffix not in suffixes:
        parser.error(f"--out {args.out}: suffix {args.out.suffix!r} is not allowed: expected {' or '.join(suffixes)}")
    for name in ("width", "height"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} is not allowed: expected an integer >= 1 (pixels)")
    if args.zoom <= 0:
        parser.error(f"--zoom={args.zoom} is not allowed: expected a number > 0")
    if not 0 < args.alpha <= 1:
        parser.error(f"--alpha={args.alpha} is not allowed: expected a number in (0, 1]")
    if args.out.suffix == ".mp4" and (args.width % 2 or args.height % 2):
        parser.error(f"--width={args.width} --height={args.height} is not allowed for MP4: H.264 needs even sizes")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and its two commands' parsers (errors print the command's own usage)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", type=Path, required=True, help="a run directory made by scripts/run.py")
    common.add_argument("--out", type=Path, required=True, help="the file to write")
    common.add_argument("--trace", metavar="SITE", help="draw the path of this site (reach: hand)")
    common.add_argument("--zoom", type=float, default=1.0, help="camera zoom over the env's default view")
    common.add_argument("--alpha", type=float, default=1.0, help="opacity of the moving bodies (the arm), in (0, 1]")
    common.add_argument("--lookat", type=_point, metavar="X,Y,Z", help="point the camera looks at (m); "
                        "default: the env's view (reach: 0,0.3,0; the start is 0,0.4,0)")
    video = commands.add_parser("video", parents=[common], help="episodes as an MP4 or GIF")
    video.add_argument("--phase", help="index, folder (02_sleep) or unique name (wake_A); default: the last")
    video.add_argument("--policy", choices=sorted(POLICY_FILES), default="cortical")
    video.add_argument("--context", help="a label of the run (A) or its context's name (curl_cw); default: the first")
    video.add_argument("--episodes", type=int, default=1, help="evaluation episodes 0..N-1, one after another")
    video.add_argument("--width", type=int, default=320)
    video.add_argument("--height", type=int, default=240)
    video.add_argument("--fps", type=float, default=25.0, help="video frames per second")
    strip = commands.add_parser("strip", parents=[common], help="rows of frames across one episode, as a PNG")
    strip.add_argument("--row", action="append", required=True, metavar="SPEC",
                       help="phase=...,policy=...,context=...,label=... (repeat for more rows)")
    strip.add_argument("--frames", type=int, default=6, help="frames per row, evenly spread over the episode")
    strip.add_argument("--steps", type=int, help="spread the frames over the first STEPS steps (default: all)")
    strip.add_argument("--episode", type=int, default=0, help="which evaluation episode (reach: target index)")
    strip.add_argument("--width", type=int, default=160)
    strip.add_argument("--height", type=int, default=160)
    strip.add_argument("--no-captions", action="store_true", help="leave out the captions, times and legend")
    return parser, {"video": video, "strip": strip}


# -- commands ----------------------------------------------------------------------------------
class Scene:
    """The env of one shot's context with its renderer and the shot's policy, closed together."""

    def __init__(self, run: SavedRun, chosen: Shot, args: argparse.Namespace) -> None:
        self.env = run.family.make_env(chosen.label)
        self.policy = run.load_policy(chosen.phase, chosen.policy, self.env.observation_space.shape[0])
        self.renderer = FrameRenderer(self.env, args.width, args.height, trace_site=args.trace, zoom=args.zoom,
                                      lookat=args.lookat, body_alpha=args.alpha)

    def close(self) -> None:
        self.renderer.close()
        self.env.close()


def record_video(run: SavedRun, chosen: Shot, args: argparse.Namespace) -> str:
    scene = Scene(run, chosen, args)
    try:
        stride = max(1, round(scene.env.unwrapped.metadata.get("render_fps", 1 / scene.env.unwrapped.dt) / args.fps))
        returns: list[float] = []
        frames = (frame for episode in range(args.episodes)
                  for frame in episode_frames(scene.env, scene.policy, scene.renderer, episode, stride, returns))
        count = write_video(args.out, frames, args.fps, args.width, args.height)
    finally:
        scene.close()
    return (f"wrote {args.out}: {count} frames of {args.width}x{args.height} at {args.fps:g} fps; "
            f"{chosen.caption}; episode returns {', '.join(f'{r:.2f}' for r in returns)}")


def record_strip(run: SavedRun, shots: list[Shot], args: argparse.Namespace) -> str:
    rows, steps, dt, legend = [], [], 0.0, []
    for chosen in shots:
        scene = Scene(run, chosen, args)
        try:
            frames = list(episode_frames(scene.env, scene.policy, scene.renderer, args.episode))
            dt = scene.env.unwrapped.dt
            legend = strip_legend(scene.env, args.trace)
        finally:
            scene.close()
        last = len(frames) - 1 if args.steps is None else min(args.steps, len(frames) - 1)
        picks = np.linspace(0, last, args.frames).round().astype(int)
        rows.append([frames[i] for i in picks])
        steps.append(picks.tolist())
    # times over the columns only when every row shows the same steps (episodes may end early)
    titles = None if args.no_captions or any(s != steps[0] for s in steps) else [f"{i * dt:.2f} s" for i in steps[0]]
    image = strip_image(rows, None if args.no_captions else [s.caption for s in shots], titles,
                        legend=None if args.no_captions else legend)
    with atomic_path(args.out) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return f"wrote {args.out}: {len(rows)} rows x {args.frames} frames of {args.width}x{args.height}"


def main(argv: list[str] | None = None) -> int:
    top, commands = build_parser()
    args = top.parse_args(argv)
    parser = commands[args.command]
    if args.command == "video":
        check_size(parser, args, VIDEO_SUFFIXES)
        for name in ("episodes", "fps"):
            if getattr(args, name) < 1:
                parser.error(f"--{name}={getattr(args, name)} is not allowed: expected a number >= 1")
    else:
        check_size(parser, args, (".png",))
        if args.frames < 1 or args.episode < 0 or (args.steps is not None and args.steps < 1):
            parser.error(f"--frames={args.frames} --episode={args.episode} --steps={args.steps} is not allowed: "
                         "expected frames >= 1, episode >= 0 and steps >= 1")
    try:
        run = SavedRun(args.run_dir)
        if args.command == "video":
            chosen = [shot(run, args.phase, args.policy, args.context, None)]
        else:
            specs = [parse_row(text) for text in args.row]
            chosen = [shot(run, s.get("phase"), s.get("policy", "cortical"), s.get("context"), s.get("label"))
                      for s in specs]
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if args.trace is not None:
        probe = run.family.make_env(run.family.labels[0])
        sites = site_names(probe)
        probe.close()
        if args.trace not in sites:
            parser.error(f"--trace={args.trace!r} is not allowed: this family's sites are {sites}")
    message = record_video(run, chosen[0], args) if args.command == "video" else record_strip(run, chosen, args)
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
