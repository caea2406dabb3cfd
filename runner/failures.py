"""How a run ends when the user's input or action stops it: one ``motorsleep: ...`` message on
stderr, an exit code per class, no traceback, and no run directory left that holds nothing.

=====  ===============================================================================
exit   class
=====  ===============================================================================
0      the run finished (or ``--help``, ``--cfg``)
1      a bug: any other exception, with its traceback (please report it)
2      config error: an override, key, option, type or value that is not allowed, whether
       Hydra finds it while composing the config or the experiment while validating it;
       also a run directory made by another config (``resume=accept`` resumes it anyway),
       and a bad argument of ``motorsleep evaluate`` (no run directory there, an unknown
       phase, policy or context)
3      diverged: a phase's training went non-finite; the finished phases are kept
4      file system: the run directory or the phase cache cannot be made or written (or,
       for ``motorsleep evaluate``, read)
130    interrupted: Ctrl-C (SIGINT) or SIGTERM; the finished phases are kept, and the
       message gives the command that resumes after them
=====  ===============================================================================

``HYDRA_FULL_ERROR=1`` shows the traceback of any of these instead. Two layers use this module:
:func:`guard` around Hydra's main (Hydra's own errors: composition, making the run directory)
and :func:`reported` around the work of the task function (where the run directory is known).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from agents.guards import DivergenceError
from runner import config_errors
from runner.build import ConfigError, compose_config
from runner.preflight import UnwritableDirectory
from runner.progress import LOG, run_log
from runner.run_dir import RunDirectoryMismatch

CONFIG_ERROR, DIVERGED, FILE_SYSTEM, INTERRUPTED = 2, 3, 4, 130
#: What a run directory may hold and still be worth nothing: Hydra's and the run's own files,
#: when no phase is sealed (``phases/<NN_name>/phase.json``) and no ``results.json`` exists.
_OWN_ENTRIES = (".hydra", "run.json", "logs", "phases")


#: A full, read-only or forbidden file system, also when the error names no file.
_FILE_SYSTEM_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                       errno.EISDIR, errno.EEXIST}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, like Ctrl-C, so the same clean-up and message follow."""


@dataclass
class Run:
    """What a failure's message needs to know of the run in progress.

    Args:
        run_dir: the run directory.
        phases: the protocol's phase names, in order (their folders are ``phases/<NN>_<name>``).
        resume_override: the override that points a rerun at this run directory
            (``hydra.run.dir=...``, or ``hydra.sweep.dir=...`` in a sweep).
        sweep_dir: the sweep's directory, for a job of a sweep (``-m``).
    """

    run_dir: Path
    phases: list[str] = field(default_factory=list)
    resume_override: str | None = None
    sweep_dir: Path | None = None

    def sealed(self) -> list[int]:
        """The leading phases whose checkpoint is sealed."""
        done = []
        for index, name in enumerate(self.phases):
            if not (self.run_dir / "phases" / f"{index:02d}_{name}" / "phase.json").is_file():
                break
            done.append(index)
        return done


def describe(error: BaseException, run: Run | None, overrides: list[str]) -> tuple[int, str] | None:
    """The exit code and message of a user-caused failure; None for a bug (or a normal exit)."""
    if isinstance(error, SystemExit):  # an exit already decided (e.g. by :func:`reported`, or --help)
        return None
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED, _interrupted(error, run)
    if isinstance(error, (ConfigError, RunDirectoryMismatch)):
        prefix = "bad config: " if isinstance(error, ConfigError) else ""
        return CONFIG_ERROR, prefix + str(error)
    if config_errors.is_config_error(error):
        return CONFIG_ERROR, "bad config: " + config_errors.describe(error, overrides, compose_config)
    if isinstance(error, DivergenceError):
        if run is not None and not run.sealed():
            return DIVERGED, f"{error}\nmotorsleep: no phase had finished: fix the config and rerun the command"
        kept = f"finished phases are kept in {run.run_dir}; " if run is not None else ""
        return DIVERGED, (f"{error}\nmotorsleep: {kept}fix the config and rerun the command with resume=accept "
                          "(same hydra.run.dir) to resume")
    found = _os_error(error)
    if found is not None:
        return FILE_SYSTEM, _file_system(found, run)
    return None


@contextlib.contextmanager
def reported(run: Run, overrides: list[str]) -> Iterator[None]:
    """Turn a user-caused failure inside the block into its message and exit code
    (``SystemExit``, which Hydra passes through); remove ``run.run_dir`` if it holds nothing."""
    try:
        yield
    except BaseException as error:
        outcome = None if _debugging() else describe(error, run, overrides)
        if outcome is None:
            raise
        _close_progress_bars()
        discard_unused_run_dir(run.run_dir)
        if not isinstance(error, RunDirectoryMismatch):  # another config's directory is left untouched
            _log_in_run(run.run_dir, outcome[1])
        if run.sweep_dir is not None and run.sweep_dir.is_dir() and \
                {p.name for p in run.sweep_dir.iterdir()} <= {"multirun.yaml"}:  # no job left anything
            shutil.rmtree(run.sweep_dir, ignore_errors=True)
        stop(*outcome)


def guard(main: Callable[[], None]) -> None:
    """Run a ``@hydra.main`` function so that Hydra's own errors end as :func:`describe` says.

    Hydra prints and exits 1 on errors it meets before the task runs (composition, making the run
    directory) unless ``HYDRA_FULL_ERROR`` is set, when it raises them: it is set here so that they
    reach this function. SIGTERM is turned into :class:`Terminated`. ``--cfg ... --resolve`` gets
    ``run_dir`` resolved to what ``hydra.run.dir`` would give a run.
    """
    debugging = _debugging()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors instead of printing them
    if "--resolve" in sys.argv and ("--cfg" in sys.argv or "-c" in sys.argv):
        sys.argv.append("hydra.runtime.output_dir=${hydra:run.dir}")  # Hydra sets it only for a run
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        main()
    except BrokenPipeError:  # the output was piped into a reader that stopped (e.g. | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except BaseException as error:
        outcome = None if debugging else describe(error, None, overrides())
        if outcome is None:
            raise
        stop(*outcome)


def overrides() -> list[str]:
    """The command line's overrides (its arguments that are not flags or their values)."""
    args, found = sys.argv[1:], []
    for i, arg in enumerate(args):
        if not arg.startswith("-") and not (i and args[i - 1] in ("--cfg", "-c", "--package", "-p", "--info", "-i",
                                                                  "--config-path", "-cp", "--config-name", "-cn",
                                                                  "--config-dir", "-cd")):
            found.append(arg)
    return found


def resume_command(override: str) -> str:
    """This process's command line with its run (or sweep) directory set by ``override``."""
    key = override.split("=", 1)[0]
    args = [a for a in sys.argv[1:] if not a.startswith(f"{key}=")]
    program = f"python {sys.argv[0]}" if sys.argv[0].endswith(".py") else Path(sys.argv[0]).name
    return f"{program} {shlex.join([*args, override])}"


def discard_unused_run_dir(run_dir: Path) -> None:
    """Remove ``run_dir`` if it holds nothing worth keeping: only Hydra's and the run's own files
    (``.hydra``, ``*.log``, ``run.json``, ``logs*``, ``phases``) with no sealed phase and no results.
    A resumed run's phases, and any directory holding other files, are never touched."""
    if not run_dir.is_dir():
        return
    entries = list(run_dir.iterdir())
    ours = all(p.name in _OWN_ENTRIES or p.suffix == ".log" or p.name.startswith("logs_resumed_") for p in entries)
    if ours and not any((run_dir / "phases").glob("*/phase.json")):
        shutil.rmtree(run_dir, ignore_errors=True)


def _interrupted(error: BaseException, run: Run | None) -> str:
    how = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted (Ctrl-C)"
    if run is None or not run.phases:
        return f"{how} before the run started: nothing was written"
    sealed = run.sealed()
    now = len(sealed)
    during = f" during phase {now} ({run.phases[now]})" if now < len(run.phases) else ""
    if not sealed:
        return f"{how}{during}; no phase had finished, so nothing is kept: rerun the command to start again"
    names = ", ".join(run.phases[i] for i in sealed)
    finished = f"phase 0 ({names}) finished and is" if now == 1 else f"phases 0-{now - 1} ({names}) finished and are"
    rerun = resume_command(run.resume_override) if run.resume_override else "the same command"
    return f"{how}{during}; {finished} kept in {run.run_dir}\nmotorsleep: to resume, rerun: {rerun}"


def _file_system(error: OSError, run: Run | None) -> str:
    if isinstance(error, UnwritableDirectory):
        return str(error)
    path = error.filename or ""
    reason = error.strerror or str(error)
    if isinstance(error, FileExistsError):
        reason = "it is a file, not a directory"
    elif isinstance(error, NotADirectoryError):
        reason = "a part of the path is a file, not a directory"
    if run is None:  # before the task runs, Hydra writes only the run directory and its run.log
        return (f"the run directory (hydra.run.dir) cannot be made or written: {path}: {reason}; give a "
                "directory you can write, e.g. hydra.run.dir=<path>")
    return f"cannot write {path or 'a file'}: {reason}; the run directory is {run.run_dir} (hydra.run.dir)"


def _os_error(error: BaseException) -> OSError | None:
    """The OSError of a file-system failure, also when wrapped (e.g. by logging's configuration)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and (error.filename is not None or error.errno in _FILE_SYSTEM_ERRNOS
                                           or isinstance(error, UnwritableDirectory)):
            return error
        error = error.__cause__  # not __context__: an error handled on the way is no cause
    return None


def _log_in_run(run_dir: Path, message: str) -> None:
    """The failure's message in the run's ``run.log`` too, when its directory is kept and can be written."""
    if run_dir.is_dir():
        with contextlib.suppress(OSError), run_log(run_dir):
            LOG.info(f"motorsleep: {message}")


def _close_progress_bars() -> None:
    """Close the progress bars an interrupted learner left open, so that their threads and
    finalisers print nothing after the message."""
    with contextlib.suppress(Exception):
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _debugging() -> bool:
    return _TRACEBACKS_ASKED


#: The user's own HYDRA_FULL_ERROR=1 (read before :func:`guard` sets it for Hydra): show tracebacks.
_TRACEBACKS_ASKED = os.environ.get("HYDRA_FULL_ERROR") == "1"


def stop(code: int, message: str) -> NoReturn:
    """End the process as every failure here ends: ``motorsleep: <message>`` on stderr, exit ``code``."""
    sys.stdout.flush()
    print(f"motorsleep: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)
