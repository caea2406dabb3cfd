"""The ``motorsleep`` command: one subcommand per thing a user does with the testbed.

``run``, ``bench``, ``report`` and ``record`` hand every argument to the program they name
(the Hydra app, scripts/benchmark.py, scripts/report.py, scripts/record.py), so their options and
``--help`` are those programs' own; ``evaluate`` and ``envs`` are this module's. Subcommands are
a table (:data:`COMMANDS`), and each imports what it needs only when it runs, so that
``motorsleep --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"

DESCRIPTION = """\
motorsleep: a testbed for motor skill consolidation in reinforcement-learning agents.

A cortical policy (stable-baselines3 PPO or SAC) learns MuJoCo reaching and balance tasks
awake; in sleep, with no environment step, its tagged memories are replayed and distilled into
a small subcortical policy, gated by dopamine- and acetylcholine-like signals; after every phase
both policies are scored on every context of the task family."""

EPILOG = """\
examples:
  motorsleep run experiment=smoke seed=3 hydra.run.dir=runs/smoke   # one experiment, tiny budgets
  motorsleep evaluate --run-dir runs/smoke --policy subcortical       # score its student again
  motorsleep bench --experiment quick --families reach --seeds 0 1    # strategies x seeds
  motorsleep report --runs runs/benchmark --name benchmark            # tables and figures
  motorsleep envs                                                     # the gymnasium ids

`motorsleep COMMAND --help` gives each command's options. A bad input ends with one
`motorsleep: ...` line and exit code 2 (4 for a file that cannot be read or written)."""


@dataclass(frozen=True)
class Command:
    """A subcommand: its line in ``motorsleep --help``, what it does with its arguments, and the
    options it declares (None: it declares none and passes every argument on, ``--help`` too)."""

    summary: str
    handler: Callable[[argparse.Namespace, str], int | None]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    description: str = ""


# -- commands that pass their arguments on ----------------------------------------------------
def _run(args: argparse.Namespace, program: str) -> None:
    from motorsleep import app

    app.start(args.args, program)


def _script(name: str) -> Callable[[argparse.Namespace, str], None]:
    """A handler that runs ``scripts/<name>.py`` on the command's arguments, as ``python
    scripts/<name>.py`` does: as ``__main__`` (worker processes of scripts/benchmark.py are
    spawned, and a spawned worker finds its function in the main module's file)."""

    def handler(args: argparse.Namespace, program: str) -> None:
        saved = sys.argv
        sys.argv = [program, *args.args]
        try:
            runpy.run_path(str(SCRIPTS / f"{name}.py"), run_name="__main__")
        finally:
            sys.argv = saved

    return handler


# -- evaluate --------------------------------------------------------------------------------
def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, required=True, help="a run directory made by `motorsleep run`")
    parser.add_argument("--policy", default="cortical",
                        help="cortical (the SB3 cortex) or subcortical (the student); default: cortical")
    parser.add_argument("--phase", help="the phase whose saved policy plays: index (2), folder (02_sleep) or "
                        "unique name (wake_A); default: the last phase that saved one")
    parser.add_argument("--context", nargs="+", metavar="CONTEXT",
                        help="labels of the run (A B), presets they stand for (curl_cw), or, for a run without "
                        "a cue, any preset of its family (rot_plus30); default: the run's contexts")
    parser.add_argument("--episodes", type=int, help="evaluation episodes per context; default: the run's "
                        "eval_episodes, so that the scores are its test phases' own")
    parser.add_argument("--seed", type=int, help="first episode seed (default: 10000, the test phases' seed)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON (every episode's return)")


def _evaluate(args: argparse.Namespace, program: str) -> int:
    from runner import failures
    from runner.saved_run import EVAL_SEED, SavedRun

    try:  # the user's input: every argument is checked and the policy loaded before an episode plays
        run = SavedRun(args.run_dir)
        phase = run.phase(args.phase)
        seed = EVAL_SEED if args.seed is None else args.seed
        play = run.evaluation(args.policy, args.phase, args.context, args.episodes, seed)
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        failures.stop(failures.CONFIG_ERROR, str(error))
    except OSError as error:
        failures.stop(failures.FILE_SYSTEM, f"cannot read {error.filename or args.run_dir}: "
                                            f"{error.strerror or error}")
    scores = play()
    if args.json:
        print(json.dumps([asdict(score) for score in scores.values()], indent=1))
        return 0
    first = next(iter(scores.values()))
    print(f"{run.run_dir}: the {args.policy} policy of phase {phase.key}, {first.episodes} episodes per context "
          f"from seed {first.seed}")
    print("| context | score | mean return | success rate | episodes |\n|---|---|---|---|---|")
    for score in scores.values():
        named = score.context if score.context == score.description else f"{score.context} ({score.description})"
        print(f"| {named} | {score.score:.3f} | {score.mean_return:.2f} | {score.success_rate:.2f} | "
              f"{score.episodes} |")
    print("score: (R - R_base) / (R_reference - R_base), R_base and R_reference over the same episodes, "
          "as the test phases score")
    return 0


# -- envs ------------------------------------------------------------------------------------
def _envs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=("reach", "muscle_reach", "balance", "stand"), help="list only this family")


def _envs(args: argparse.Namespace, program: str) -> int:
    import dataclasses

    import yaml

    from envs import FAMILY_MAX_STEPS, REGISTERED_IDS
    from envs.contexts import describe_context, resolve_context

    print("| id | family | context | its parameters | steps |\n|---|---|---|---|---|")
    for env_id, (family, context) in REGISTERED_IDS.items():
        if args.family in (None, family):
            fields = dataclasses.asdict(resolve_context(family, context))
            print(f"| {env_id} | {family} | {context} | {describe_context(fields)} | {FAMILY_MAX_STEPS[family]} |")
    print('\ngymnasium.make("motorsleep:<id>") makes one in any Python, without an import; keywords such as '
          "context={...}, context_cue=True, n_contexts=2 change it (the env's docstring lists them).\n"
          "\nconfig options (env=<option>): the contexts a protocol's labels name")
    for path in sorted((ROOT / "configs" / "env").glob("*.yaml")):
        option = yaml.safe_load(path.read_text())
        if args.family in (None, option["family"]):
            contexts = ", ".join(f"{label} ({describe_context(value)})" for label, value in option["contexts"].items())
            cue = "on" if option.get("context_cue") else "off"
            print(f"  env={path.stem}: {option['family']}, {contexts}, cue {cue}")
    return 0


COMMANDS: dict[str, Command] = {
    "run": Command("run one experiment from the Hydra config: wake, sleep and test phases, then a table of "
                   "scores and metrics (every argument is Hydra's: overrides, -m for a sweep, --cfg job, --help)",
                   _run),
    "bench": Command("run an experiment preset over strategies x families x seeds on worker processes, reusing "
                     "shared phases (scripts/benchmark.py)", _script("benchmark")),
    "report": Command("tables with intervals or mean ± std over seeds, figures and README blocks from saved runs "
                      "(scripts/report.py)", _script("report")),
    "record": Command("render a saved run's cortex or student offscreen: a video of its evaluation episodes or a "
                      "frame strip (scripts/record.py)", _script("record")),
    "evaluate": Command("score a saved run's cortex or student on any context of its family: normalised score, "
                        "mean return and success rate, as its test phases score", _evaluate, _evaluate_arguments,
                        "Score a saved policy again, on the run's contexts or others of its family. With the "
                        "defaults (the run's episodes, seed 10000) the scores are those the run's test phases "
                        "recorded in results.json."),
    "envs": Command("list the registered gymnasium ids (family, context and its parameters) and the env config "
                    "options", _envs, _envs_arguments),
}


def build_parser(program: str = "motorsleep") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if command.arguments is None:
            # no option characters: every argument, `--help` and `--` included, is the named program's
            sub = commands.add_parser(name, help=command.summary, add_help=False, prefix_chars="\0")
            sub.add_argument("args", nargs=argparse.REMAINDER)
        else:
            sub = commands.add_parser(name, help=command.summary, description=command.description or command.summary)
            command.arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None, program: str | None = None) -> int:
    """Run the command line ``argv`` (default: this process's); its exit code."""
    program = program or _program()
    args = build_parser(program).parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        return COMMANDS[args.command].handler(args, f"{program} {args.command}") or 0
    except KeyboardInterrupt:
        print("motorsleep: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output was piped into a reader that stopped (e.g. | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _program() -> str:
    """How the user started this process, as usage lines and resume commands repeat it."""
    started = Path(sys.argv[0])
    return "python -m motorsleep" if started.name == "__main__.py" else started.name
