"""What the README cites exists: every script it names (``scripts/NAME.py``, ``scripts/NAME.sh``),
every config option it gives as a Hydra override (``experiment=quick``, ``consolidation=none,gated``,
``hydra/launcher=slurm``) or to ``scripts/benchmark.py --experiment``, and every file or folder
under ``results/`` (a ``<placeholder>`` matches any name). Its numbers are test_readme_numbers.py's."""

from __future__ import annotations

import re
from pathlib import Path

from runner.family_settings import FAMILIES  # every family of envs/family.py

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONFIGS = ROOT / "configs"
SCRIPT = re.compile(r"(?<![\w/.])scripts/([\w-]+\.(?:py|sh))")
# group=option[,option...] where the group is a folder of configs/ (seed=0,1 and key.path=value are not groups)
OVERRIDE = re.compile(r"(?<![\w./+~-])([a-z_]+(?:/[a-z_]+)*)=([\w,<>*]+)")
BENCH_EXPERIMENT = re.compile(r"benchmark\.py\b[^\n`]*?--experiment\s+(\w+)")
RESULTS = re.compile(r"(?<![\w/.])(results/[\w./<>*-]*[\w>/*])")
# options that come with an optional extra of pyproject.toml, not installed by scripts/setup.sh
OPTIONAL = {("hydra/launcher", "ray"): "hydra-ray-launcher"}


def _text() -> str:
    return README.read_text()


def cited_scripts(text: str) -> set[str]:
    return set(SCRIPT.findall(text))


def cited_options(text: str) -> set[tuple[str, str]]:
    """(group, option) for every override of a config group, a sweep's options one by one."""
    found = set()
    for group, options in OVERRIDE.findall(text):
        if (CONFIGS / group).is_dir():
            found.update((group, option) for option in options.split(",") if option)
    return found


def cited_results(text: str) -> set[str]:
    """``results/...`` paths, without the punctuation that ends a sentence."""
    return {path.rstrip(".") for path in RESULTS.findall(text)}


def missing_results(paths: set[str], root: Path = ROOT) -> list[str]:
    """The cited paths nothing under ``root`` matches (``<name>`` and ``*`` match any one name)."""
    missing = []
    for path in sorted(paths):
        pattern = re.sub(r"<[^>]*>", "*", path).rstrip("/")
        if not any(root.glob(pattern)):
            missing.append(path)
    return missing


def test_every_script_the_readme_names_exists():
    names = cited_scripts(_text())
    assert {"run.py", "report.py", "setup.sh", "reproduce.sh"} <= names  # the parser still sees them
    assert sorted(n for n in names if not (ROOT / "scripts" / n).is_file()) == []


def group_options(group: str) -> set[str]:
    """The options Hydra finds for ``group``: the project's files and those of installed plugins
    (``hydra/launcher=basic`` is Hydra's own, ``submitit_local`` the submitit launcher's)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return set(GlobalHydra.instance().config_loader().get_group_options(group))


def unknown_options(options: set[tuple[str, str]]) -> list[str]:
    """``group=option`` for every cited option Hydra does not find (``<name>`` and ``*`` in an
    option match any text), optional plugins aside when pyproject.toml declares their extra."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    unknown = []
    for group, option in sorted(options):
        pattern = re.compile(re.sub(r"<[^>]*>|\\\*", ".+", re.escape(option)) + "$")
        if (group, option) in OPTIONAL and f'"{OPTIONAL[(group, option)]}' in pyproject:
            continue
        if not any(pattern.match(name) for name in group_options(group)):
            unknown.append(f"{group}={option}")
    return unknown


def test_every_config_option_the_readme_gives_exists():
    options = cited_options(_text())
    assert ("experiment", "quick") in options and ("hydra/launcher", "slurm") in options
    assert ("experiment", "paradigm_<name>") in options  # placeholders are read too
    assert unknown_options(options) == []


def test_every_benchmark_experiment_the_readme_gives_is_a_preset_for_each_family():
    # scripts/benchmark.py takes <experiment>_<family> when it exists, else <experiment> itself
    for name in set(BENCH_EXPERIMENT.findall(_text())):
        for family in FAMILIES:
            assert any((CONFIGS / "experiment" / f"{stem}.yaml").is_file() for stem in (f"{name}_{family}", name)), \
                f"scripts/benchmark.py --experiment {name}: no preset for {family}"


def test_every_results_path_the_readme_cites_exists():
    paths = cited_results(_text())
    assert "results/benchmark/runs.csv" in paths and len(paths) > 30
    assert missing_results(paths) == []


def test_the_parsers_see_what_they_should(tmp_path):
    text = ("Run `scripts/run.py experiment=quick consolidation=none,gated seed=0,1 env.context_cue=true` "
            "and `motorsleep/Reach-v0`; see results/a/<family>_R.png and results/b/x.csv.")
    assert cited_scripts(text) == {"run.py"}
    assert cited_options(text) == {("experiment", "quick"), ("consolidation", "none"), ("consolidation", "gated")}
    assert cited_results(text) == {"results/a/<family>_R.png", "results/b/x.csv"}
    assert unknown_options({("experiment", "bench"), ("experiment", "bench_<family>"), ("env", "reach")}) == [
        "experiment=bench"]
    (tmp_path / "results" / "a").mkdir(parents=True)
    (tmp_path / "results" / "a" / "reach_R.png").touch()
    assert missing_results({"results/a/<family>_R.png", "results/b/x.csv"}, tmp_path) == ["results/b/x.csv"]
