"""The bad inputs and interruptions of issue 15, as a user meets them: each case is a real
``scripts/run.py`` process (real Hydra, real MuJoCo), its exit code, its stderr and what it left on disk.

Shared by ``tests/test_failures.py`` (which asserts every case) and ``scripts/failure_table.py``
(which prints the table for any checkout, e.g. the code before and after a change).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CONFIG, DIVERGED, FILE_SYSTEM, INTERRUPTED = 2, 3, 4, 130  # runner/failures.py's exit codes
#: Without these capabilities root obeys file permissions, so a read-only directory is read-only for root too.
DROP_ROOT_OVERRIDES = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


@dataclass(frozen=True)
class Case:
    """One bad input: the command-line arguments after ``experiment=smoke``, the exit code and the
    words the message must contain. ``prepare(tmp)`` makes the case's files and returns its extra
    arguments (by default ``hydra.run.dir=<tmp>/run``); ``stdout`` words are for a case that succeeds."""

    name: str
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    prepare: Callable[[Path], list[str]] | None = None
    read_only: bool = False      # the case makes read-only directories (root must drop its overrides)
    stdout: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # Hydra's flags (--cfg, -m, ...), given before the overrides


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    left_behind: list[str] = field(default_factory=list)  # paths under tmp that the run added or removed


def _run_dir(tmp: Path) -> list[str]:
    return [f"hydra.run.dir={tmp / 'run'}"]


def _sweep_dir(tmp: Path) -> list[str]:
    return [f"hydra.sweep.dir={tmp / 'sweep'}"]


def _file_as_run_dir(tmp: Path) -> list[str]:
    """hydra.run.dir=<a file>"""
    (tmp / "notes.txt").write_text("a file, not a directory\n")
    return [f"hydra.run.dir={tmp / 'notes.txt'}"]


def _run_dir_under_a_file(tmp: Path) -> list[str]:
    """hydra.run.dir=<a file>/run"""
    (tmp / "notes.txt").write_text("a file, not a directory\n")
    return [f"hydra.run.dir={tmp / 'notes.txt' / 'run'}"]


def _read_only_run_dir(tmp: Path) -> list[str]:
    """hydra.run.dir=<a read-only directory>"""
    (tmp / "run").mkdir()
    (tmp / "run").chmod(0o555)
    return _run_dir(tmp)


def _read_only_cache(tmp: Path) -> list[str]:
    """cache.enabled=true cache.dir=<a read-only directory>"""
    (tmp / "cache").mkdir()
    (tmp / "cache").chmod(0o555)
    return [*_run_dir(tmp), "cache.enabled=true", f"cache.dir={tmp / 'cache'}"]


def _file_as_cache(tmp: Path) -> list[str]:
    """cache.enabled=true cache.dir=<a file>"""
    (tmp / "cache").write_text("a file, not a directory\n")
    return [*_run_dir(tmp), "cache.enabled=true", f"cache.dir={tmp / 'cache'}"]


CASES = [
    # Hydra's own composition: unknown keys, options, syntax, types, missing values
    Case("unknown_key", ("consolidation.updatez=10",), CONFIG,
         ("consolidation.updatez", "did you mean", "consolidation.updates")),
    Case("unknown_key_appended", ("+consolidation.updatez=10",), CONFIG,
         ("consolidation.updatez", "did you mean", "consolidation.updates")),
    Case("unknown_top_level_key", ("sed=3",), CONFIG, ("sed", "did you mean", "seed")),
    Case("unknown_nested_key", ("agent.net_arc=[64]",), CONFIG, ("agent.net_arc", "agent.net_arch")),
    Case("unknown_phase_key", ("protocol.phases.0.kindd=wake",), CONFIG, ("kindd", "protocol.phases.0.kind")),
    Case("unknown_option_consolidation", ("consolidation=gatd",), CONFIG, ("consolidation=gatd", "gated")),
    Case("unknown_option_env", ("env=swim",), CONFIG, ("env=swim", "reach", "balance")),
    Case("unknown_option_agent", ("agent=dqn",), CONFIG, ("agent=dqn", "ppo", "sac")),
    Case("unknown_option_experiment", ("experiment=bench",), CONFIG, ("experiment=bench", "bench_reach")),
    Case("unknown_option_plasticity", ("agent/plasticity=resett",), CONFIG, ("agent/plasticity=resett", "reset")),
    Case("schema_as_option", ("env=env_schema",), CONFIG, ("env=env_schema", "schema", "reach")),
    Case("strategy_schema_as_option", ("consolidation=gated_schema",), CONFIG, ("consolidation=gated_schema", "gated")),
    Case("bad_override_syntax", ("seed=[1,",), CONFIG, ("seed=[1,", "override")),
    Case("wrong_type_int", ("seed=abc",), CONFIG, ("seed=abc", "Integer")),
    Case("wrong_type_bool", ("env.context_cue=maybe",), CONFIG, ("env.context_cue", "maybe", "bool")),
    Case("missing_mandatory_value", ("env.family=???",), CONFIG, ("env.family", "missing")),
    Case("delete_required_key", ("~env.family",), CONFIG, ("env.family",)),
    # values the experiment refuses before training (tests/test_validation.py checks the other fields' messages)
    Case("negative_seed", ("seed=-1",), CONFIG, ("seed=-1", ">= 0")),
    Case("huge_seed", ("seed=10000000000",), CONFIG, ("seed=10000000000",)),
    Case("zero_threads", ("torch_threads=0",), CONFIG, ("torch_threads=0", ">= 1")),
    Case("unknown_log_format", ("log_formats=[xml]",), CONFIG, ("log_formats", "xml", "tensorboard")),
    Case("bad_resume_mode", ("resume=maybe",), CONFIG, ("resume", "maybe", "check", "accept")),
    Case("bad_phase_kind", ("protocol.phases.1.kind=nap",), CONFIG, ("protocol.phases[1].kind", "nap", "wake")),
    Case("empty_protocol", ("protocol.phases=[]",), CONFIG, ("protocol.phases",)),
    # the file system
    Case("run_dir_is_a_file", (), FILE_SYSTEM, ("notes.txt", "not a directory", "hydra.run.dir"),
         prepare=_file_as_run_dir),
    Case("run_dir_under_a_file", (), FILE_SYSTEM, ("notes.txt", "not a directory", "hydra.run.dir"),
         prepare=_run_dir_under_a_file),
    Case("read_only_run_dir", (), FILE_SYSTEM, ("run", "hydra.run.dir", "writ"), prepare=_read_only_run_dir,
         read_only=True),
    Case("read_only_cache", (), FILE_SYSTEM, ("cache", "cache.enabled=false"), prepare=_read_only_cache,
         read_only=True),
    Case("cache_is_a_file", (), FILE_SYSTEM, ("cache", "cache.enabled=false"), prepare=_file_as_cache),
    # not a failure: the resolved config is printed (run_dir included)
    Case("sweep_with_a_bad_value", ("seed=-1",), CONFIG, ("seed=-1", ">= 0"), prepare=_sweep_dir, flags=("-m",)),
    # not failures: what must keep working
    Case("show_resolved_config", (), 0, (), stdout=("run_dir: /", "seed: 0"), flags=("--cfg", "job", "--resolve")),
    Case("help", (), 0, (), stdout=("Override anything in the config",), flags=("--help",)),
]


def command(root: Path, args: list[str], flags: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, str(root / "scripts" / "run.py"), *flags, "experiment=smoke", *args]


def environment(root: Path) -> dict[str, str]:
    """The code under ``root``, the phase cache off unless a case turns it on, no debugging tracebacks."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return {**env, "PYTHONPATH": str(root), "MOTORSLEEP_CACHE_ENABLED": "false"}


def _snapshot(tmp: Path) -> dict[str, int]:
    return {str(p.relative_to(tmp)): p.stat().st_mode for p in sorted(tmp.rglob("*"))}


def run_case(case: Case, root: Path, tmp: Path) -> Outcome:
    """Prepare ``tmp``, run the case, and report what it added to or removed from ``tmp``."""
    args = [*case.args, *(case.prepare or _run_dir)(tmp)]
    before = _snapshot(tmp)
    prefix = DROP_ROOT_OVERRIDES if case.read_only and os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *command(root, args, case.flags)], capture_output=True, text=True, timeout=300,
                          env=environment(root))
    after = _snapshot(tmp)
    changed = sorted(set(before.items()) ^ set(after.items()))
    for path in tmp.rglob("*"):  # let pytest remove what a read-only case made
        if path.is_dir():
            path.chmod(0o755)
    return Outcome(done.returncode, done.stdout, done.stderr, [p for p, _ in changed])


# -- interruptions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interruption:
    """A real run stopped by ``signum`` once ``sealed`` (a phase folder's ``phase.json``) exists, or
    once the run directory's ``run.json`` exists when ``sealed`` is None (nothing sealed yet)."""

    name: str
    signum: int
    sealed: str | None
    words: tuple[str, ...]
    args: tuple[str, ...] = ()


#: Wake B takes a few seconds, so that the signal lands inside it.
LONG_WAKE_B = ("protocol.phases.2.steps=8192",)

INTERRUPTIONS = [
    Interruption("ctrl_c_during_wake", signal.SIGINT, "03_test",
                 ("interrupted (Ctrl-C)", "during phase 4 (wake_B)", "phases 0-3 (wake_A, test, sleep, test)",
                  "kept in", "to resume, rerun:", "hydra.run.dir="), LONG_WAKE_B),
    Interruption("ctrl_c_with_progress_bar", signal.SIGINT, "03_test",
                 ("interrupted", "phase 4 (wake_B)", "to resume"), (*LONG_WAKE_B, "agent.progress_bar=true")),
    Interruption("sigterm_during_wake", signal.SIGTERM, "03_test", ("terminated", "phase 4 (wake_B)", "to resume"),
                 LONG_WAKE_B),
    Interruption("ctrl_c_before_any_phase", signal.SIGINT, None, ("interrupted", "no phase had finished"),
                 ("protocol.phases.0.steps=8192",)),
]


def run_interruption(case: Interruption, root: Path, run_dir: Path, timeout: float = 240) -> Outcome:
    """Start the run, send the signal once the marker exists, and wait for the process to end."""
    args = [*case.args, f"hydra.run.dir={run_dir}"]
    marker = run_dir / ("run.json" if case.sealed is None else f"phases/{case.sealed}/phase.json")
    # A shell that starts a job in the background (``cmd &``, also CI's) makes it ignore SIGINT, and
    # the ignoring is inherited: Python then never raises KeyboardInterrupt. The run gets Ctrl-C's
    # default disposition back, as it has when started from a terminal.
    process = subprocess.Popen(command(root, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment(root),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    start = time.monotonic()
    while not marker.exists() and process.poll() is None and time.monotonic() - start < timeout:
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(case.signum)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Outcome(process.returncode, stdout, stderr)


def resume_command(stderr: str) -> list[str] | None:
    """The arguments after ``scripts/run.py`` of the resume command the message gives, if any."""
    import shlex

    for line in stderr.splitlines():
        if "to resume" in line and "run.py" in line:
            words = shlex.split(line.split(":", 2)[-1])
            at = next(i for i, w in enumerate(words) if w.endswith("run.py"))
            return words[at + 1:]
    return None


def clean(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
