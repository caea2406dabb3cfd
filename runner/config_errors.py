"""One-line messages for the config errors Hydra and OmegaConf raise while composing a config:
an unknown key (with the nearest valid keys), an option that does not exist (with the nearest
options), a schema chosen as an option, an override that does not parse, a wrong type, a missing value.

Hydra's own messages are several lines long and, for a misspelt key, advise appending it with
``+`` (which only fails later); these name the override and what is allowed instead. Messages
only: :mod:`runner.failures` decides the exit code. Imports nothing of ours, so that
:mod:`runner.build` can use it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

SCHEMA_SUFFIX = "_schema"  # runner/schema.py's entries: the types of a group's options, not options


def is_config_error(error: BaseException) -> bool:
    return isinstance(error, (HydraException, OmegaConfBaseException))


def describe(error: BaseException, overrides: Sequence[str],
             compose: Callable[[list[str]], DictConfig] | None = None) -> str:
    """The message for a Hydra or OmegaConf error (:func:`is_config_error`). ``overrides`` are the
    command line's; ``compose`` (overrides -> config) finds the valid keys near a misspelt one."""
    cause = error.__cause__ if isinstance(error, ConfigCompositionException) and error.__cause__ else error
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        group, _, name = error.missing_cfg_file.rpartition("/")
        return unknown_option(group, name, error.options)
    if isinstance(error, OverrideParseException):
        bad = _unparsable(overrides)
        return (f"{bad or 'an override'} is not a valid override ({_first_line(error)}): expected key=value, "
                "e.g. seed=3, agent.net_arch=[64,64] or consolidation=distill; quote values with spaces or brackets")
    full_key = _dotted(getattr(cause, "full_key", None) or "")
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and full_key:
        keys = _valid_keys(full_key, overrides, compose)
        return unknown_key(full_key, keys, free_form=getattr(cause, "object_type", None) is dict)
    if isinstance(cause, MissingMandatoryValue) and full_key:
        return f"{full_key} is missing a value (??? in the config is mandatory): set {full_key}=<value>"
    if isinstance(cause, ValidationError) and full_key:
        value = getattr(cause, "value", None)
        shown = f"={value}" if value is not None else ""
        return f"{full_key}{shown} is not allowed: {_first_line(cause)}"
    override = _override_in(str(error))
    if override:
        return f"{override} is not allowed: {_first_line(cause)}"
    where = f"{full_key}: " if full_key else ""
    return where + _first_line(cause) + (f" ({_first_line(error)})" if cause is not error else "")


def unknown_key(full_key: str, valid: Iterable[str], free_form: bool = False) -> str:
    """``full_key`` is not in the config: name the nearest valid keys (siblings first)."""
    valid = list(valid)
    parent, _, leaf = full_key.rpartition(".")
    siblings = [k for k in valid if k.rpartition(".")[0] == parent]
    leaves = {k.rpartition(".")[2]: k for k in siblings}
    near = [leaves[name] for name in difflib.get_close_matches(leaf, list(leaves), n=3, cutoff=0.6)] \
        or difflib.get_close_matches(full_key, valid, n=3, cutoff=0.8)
    message = f"{full_key} is not a key of the config"
    if near:
        message += f"; did you mean {' or '.join(near)}?"
    elif siblings:
        message += f"; {parent or 'the top level'} has {', '.join(k.rpartition('.')[2] for k in siblings)}"
    if free_form:  # a plain dict (e.g. agent.hyperparameters) takes new keys, which its class then checks
        message += f" (to add a new key to {parent}, write +{full_key}=<value>)"
    return message


def unknown_option(group: str, name: str, options: Iterable[str]) -> str:
    """``group=name`` names no option: the nearest options, then all of them."""
    options = [o for o in options if not o.endswith(SCHEMA_SUFFIX)]
    near = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(f'{group}={o}' for o in near)}? " if near else ""
    return f"{group}={name} is not an option of {group}: {hint}options are {', '.join(options)}"


def schema_choice(choices: dict[str, Any], configs: Path) -> str | None:
    """A message if one of Hydra's group choices is a schema (``env=env_schema``): a schema is the
    type of a group's options, with mandatory values left empty, not an option to run."""
    for group, name in choices.items():
        if isinstance(name, str) and name.endswith(SCHEMA_SUFFIX) and (configs / group).is_dir():
            options = sorted(p.stem for p in (configs / group).glob("*.yaml"))
            return f"{group}={name} is a schema (the type of {group}'s options), not an option: options are " \
                   + ", ".join(options)
    return None


def config_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config (list items as ``.0``), without resolving interpolations."""
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        node = OmegaConf.to_container(node, resolve=False)
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    keys = []
    for key, value in items:
        path = f"{prefix}{key}"
        keys.append(path)
        keys.extend(config_keys(value, f"{path}."))
    return keys


def _valid_keys(full_key: str, overrides: Sequence[str],
                compose: Callable[[list[str]], DictConfig] | None) -> list[str]:
    """The keys of the config the other overrides compose (empty if it cannot be composed)."""
    if compose is None:
        return []
    others = [o for o in overrides if not o.startswith("-")
              and not (_dotted(_key_of(o)) + ".").startswith(full_key + ".")]
    try:
        return config_keys(compose(others))
    except Exception:  # another bad override: no suggestion rather than a second error
        return []


def _key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _dotted(key: str) -> str:
    return re.sub(r"\[(\d+)\]", r".\1", key)


def _unparsable(overrides: Sequence[str]) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_override(override)
        except Exception:
            return override
    return None


def _override_in(text: str) -> str | None:
    found = re.search(r"override (\S+)", text)
    return found.group(1) if found else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
