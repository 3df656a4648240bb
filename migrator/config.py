"""``[tool.migrate-tests]`` in pyproject.toml, validated strictly: a typo is an error, not a no-op."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from migrator.models import SOURCE_SETS, ModelFacts, Tier

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """A malformed configuration; the message names the file and the key."""


@dataclass(frozen=True)
class FileConfig:
    path: Path | None = None
    target: str | None = None
    targets: Mapping[str, str] = field(default_factory=dict)
    map: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, ModelFacts] = field(default_factory=dict)
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    markers: bool = True
    consumers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("gpt2",)  # "legacy": also the legacy base test models

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


_KEYS = {
    "target",
    "targets",
    "map",
    "models",
    "select",
    "ignore",
    "exclude",
    "markers",
    "consumers",
    "sources",
}
_FACT_KEYS: dict[str, type | tuple[type, ...]] = {
    "label": str,
    "pad_token": (str, bool),  # false: the model has no pad token
    "pad_token_id": int,
    "eos_token": str,
    "eos_token_id": int,
    "bos_token": str,
    "chat_template": bool,
    "params_millions": (int, float),
}


def find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if _is_file(candidate):
            return candidate
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a directory we may not look into: discovery reports it
        return False


DEFAULT_LINE_LENGTH = 88  # ruff's and black's default


def line_length(directory: Path) -> int:
    """The line length the project's formatter holds files in ``directory`` to.

    Found as ruff finds its settings, walking up from ``directory``: in each folder
    ``.ruff.toml``, then ``ruff.toml`` (``line-length``), then a ``pyproject.toml`` with a
    ``[tool.ruff]`` or ``[tool.black]`` table (ruff's ``line-length``, else black's); a
    ``pyproject.toml`` with neither (a subpackage's metadata) does not stop the walk. The first
    one found decides, with the default when it sets no length. Formatting is cosmetic: an
    unreadable or malformed file is passed over, never an error.
    """
    return _line_length(Path(os.path.abspath(directory)))


@cache  # per directory, once per process: each folder of a suite is read once (as black does)
def _line_length(directory: Path) -> int:
    for name in (".ruff.toml", "ruff.toml", "pyproject.toml"):
        candidate = directory / name
        if not _is_file(candidate):
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        tables = [data] if name != "pyproject.toml" else []
        tool = data.get("tool")
        if isinstance(tool, dict):
            tables += [t for t in (tool.get("ruff"), tool.get("black")) if isinstance(t, dict)]
        if not tables:
            continue
        for table in tables:
            value = table.get("line-length", table.get("line_length"))
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return DEFAULT_LINE_LENGTH
    if directory.parent == directory:
        return DEFAULT_LINE_LENGTH
    return _line_length(directory.parent)


def load(path: Path | None) -> FileConfig:
    """Read ``[tool.migrate-tests]`` from ``path``; no file or no section means defaults."""
    if path is None:
        return FileConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    section = data.get("tool", {}).get("migrate-tests")
    if section is None:
        return FileConfig(path=path)
    where = f"{path}: [tool.migrate-tests]"
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(_KEYS))})"
        )
    targets = _str_table(section, "targets", where)
    bad_tiers = sorted(set(targets) - {t.value for t in Tier})
    if bad_tiers:
        raise ConfigError(f"{where}: targets.{bad_tiers[0]}: unknown tier (use 'real' or 'tiny')")
    return FileConfig(
        path=path,
        target=_opt_str(section, "target", where),
        targets=targets,
        map=_str_table(section, "map", where),
        models=_models(section.get("models", {}), where),
        select=_rule_list(section, "select", where) if "select" in section else None,
        ignore=_rule_list(section, "ignore", where) or (),
        exclude=_str_list(section, "exclude", where),
        markers=_bool(section, "markers", where, default=True),
        consumers=_str_list(section, "consumers", where),
        sources=_sources(section, where),
    )


def _sources(section: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if "sources" not in section:
        return ("gpt2",)
    sources = _str_list(section, "sources", where)
    unknown = sorted(set(sources) - set(SOURCE_SETS))
    if unknown:
        raise ConfigError(
            f"{where}: sources: unknown source set {unknown[0]!r} (known: {', '.join(SOURCE_SETS)})"
        )
    return sources


def _type_error(where: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{where}: {key!r} must be {expected}, got {value!r}")


def _opt_str(section: Mapping[str, Any], key: str, where: str) -> str | None:
    value = section.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _type_error(where, key, "a non-empty string", value)
    return value


def _bool(section: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise _type_error(where, key, "true or false", value)
    return value


def _str_list(section: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(where, key, "a list of strings", value)
    return tuple(value)


def _rule_list(section: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = section.get(key)
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return _str_list(section, key, where)


def _str_table(section: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = section.get(key, {})
    if not isinstance(value, dict):
        raise _type_error(where, key, "a table", value)
    for name, item in value.items():
        if not isinstance(item, str) or not item.strip():
            raise _type_error(where, f"{key}.{name}", "a non-empty string", item)
    return dict(value)


def _models(value: Any, where: str) -> dict[str, ModelFacts]:
    if not isinstance(value, dict):
        raise _type_error(
            where, "models", 'a table of tables ([tool.migrate-tests.models."org/name"])', value
        )
    out = {}
    for model_id, facts in value.items():
        here = f'models."{model_id}"'
        if not isinstance(facts, dict):
            raise _type_error(where, here, "a table", facts)
        for key, item in facts.items():
            if key not in _FACT_KEYS:
                raise ConfigError(
                    f"{where}: {here}.{key}: unknown fact (known: {', '.join(_FACT_KEYS)})"
                )
            expected = _FACT_KEYS[key]
            if not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
                kind = expected.__name__ if isinstance(expected, type) else "a number"
                raise _type_error(where, f"{here}.{key}", kind, item)
        pad = facts.get("pad_token")
        if pad is True:
            raise _type_error(where, f"{here}.pad_token", "the pad token text, or false", pad)
        has_pad = False if pad is False else True if pad or "pad_token_id" in facts else None
        out[model_id] = ModelFacts(
            model_id,
            label=facts.get("label"),
            pad_token=pad or None,
            pad_token_id=facts.get("pad_token_id"),
            has_pad_token=has_pad,
            eos_token=facts.get("eos_token"),
            eos_token_id=facts.get("eos_token_id"),
            bos_token=facts.get("bos_token"),
            chat_template=facts.get("chat_template"),
            params_millions=facts.get("params_millions"),
        )
    return out
