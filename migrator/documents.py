"""Files that are not Python: configs, scripts and prose that name GPT2 ids.

Test suites and CI read YAML/JSON/TOML configs, ``.cfg``/``.ini`` files, shell scripts,
workflow files and docs. In those, an id is rewritten only where its meaning is clear and the
format can be edited without touching anything else:

- a value under a key that names a model or tokenizer (the same field names as in Python:
  ``model_name_or_path``, ``model_id``, ``tokenizer_name``, ``model``...), written on one line
  (``key: gpt2``, ``"key": "gpt2"``, ``key = "gpt2"``);
- a ``--model_name_or_path gpt2``-style token of a command line (a shell script, a workflow's
  ``run:`` line, a YAML string holding a command).

The edit is a span edit: only the id's characters change, so comments, order, quoting and
every other byte stay as they were (a round-trip YAML editor would re-emit the document and
risk its layout; a span edit cannot). The output of a JSON or TOML file must parse again, and
a YAML file's too when PyYAML is installed. Everything else (prose in Markdown or reST, values
under keys that do not say model, ids in lists) is reported as info with file and line, never
rewritten.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath

from migrator.core import FileResult, Finding, Safety, Status
from migrator.models import ModelMap, Tier, is_model_field, shape_message

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".cfg": "ini",
    ".ini": "ini",
    ".sh": "shell",
    ".md": "prose",
    ".rst": "prose",
    ".ipynb": "notebook",  # code cells through the Python rules: migrator/notebooks.py
}
RULE = "model-id"
MODEL_TYPE_KEY = re.compile(r"^(model_type|architectures?|arch|family)$", re.IGNORECASE)
# ``key: value`` (YAML, also a list item ``- key: value``), ``"key": "value"`` (JSON),
# ``key = value`` / ``key: value`` (TOML, ini): the key and where its one-line value sits.
YAML_PAIR = re.compile(
    r"^\s*(?:-\s+)?(?P<q>[\"']?)(?P<key>[\w.-]+)(?P=q)\s*:\s+(?P<vq>[\"']?)(?P<value>[^\"'#\s]+)"
    r"(?P=vq)\s*(?:#.*)?$"
)
JSON_PAIR = re.compile(r"\"(?P<key>[^\"\\]+)\"\s*:\s*\"(?P<value>[^\"\\]+)\"")
ASSIGN_PAIR = re.compile(
    r"^\s*(?P<key>[\w.-]+)\s*[=:]\s*(?P<vq>[\"']?)(?P<value>[^\"'#;\s]+)(?P=vq)\s*(?:[#;].*)?$"
)
# A hub id with gpt2 in it, as a whole token: checked against the shape rules (models.py).
SHAPED = re.compile(r"(?<![\w./-])[\w.-]+/[\w.-]*gpt2[\w.-]*(?![\w/-])", re.IGNORECASE)
# A command-line flag right before the id: ``--model_name_or_path gpt2``, ``--model=gpt2``.
FLAG_BEFORE = re.compile(r"(?P<flag>--?[\w-]+)(?:=|\s+)[\"']?$")


def kind_of(path: PurePath) -> str | None:
    """The kind of a document by its suffix; workflow files are YAML."""
    return KINDS.get(path.suffix.lower())


@dataclass(frozen=True)
class Hit:
    line: int  # 1-based
    start: int  # character offsets in the line
    end: int
    source: str
    target: str
    key: str | None  # the key or flag it sits under, if any
    rewrite: bool
    why: str


def analyse(name: str, raw: bytes, kind: str, models: ModelMap) -> FileResult:
    """Findings and the rewritten text of one document."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FileResult(name, Status.ERROR, error=f"not UTF-8 (byte {exc.start}): left as is")
    hits = list(_hits(text, kind, models))
    findings = tuple(_finding(h) for h in hits)
    new_text = _rewritten(text, [h for h in hits if h.rewrite])
    if new_text == text:
        status = Status.CLEAN
        return FileResult(name, status, findings, text, text)
    broken = _unparsable(new_text, text, kind)
    if broken:
        return FileResult(name, Status.ERROR, findings, error=f"{broken}: left as is")
    migrations = tuple(sorted({(h.source, h.target) for h in hits if h.rewrite}))
    return FileResult(
        name,
        Status.READY,
        findings,
        text,
        new_text,
        new_bytes=new_text.encode("utf-8"),
        migrations=migrations,
    )


def _hits(text: str, kind: str, models: ModelMap) -> Iterator[Hit]:
    pattern = _id_pattern(tuple(sorted(models.targets, key=len, reverse=True)))
    for number, line in enumerate(text.splitlines(), start=1):
        if "gpt2" not in line.lower() and not any(s in line for s in models.targets):
            continue
        for match in SHAPED.finditer(line):
            shaped = models.by_shape(match.group(0))
            if shaped is not None:
                yield Hit(
                    number,
                    match.start(),
                    match.end(),
                    match.group(0),
                    shaped[1],
                    None,
                    False,
                    f"shape:{shaped[0].value}",
                )
        for match in pattern.finditer(line):
            source = match.group(0)
            target = models.target_of(source)
            if target is None:
                continue
            key, rewrite, why = _context(line, match.start(), match.end(), source, kind)
            yield Hit(number, match.start(), match.end(), source, target, key, rewrite, why)


def prose_findings(lines: list[tuple[int, str]], models: ModelMap, where: str) -> list[Finding]:
    """Info findings for the ids mentioned in prose lines (a notebook's Markdown cells)."""
    pattern = _id_pattern(tuple(sorted(models.targets, key=len, reverse=True)))
    out = []
    for number, line in lines:
        for match in pattern.finditer(line):
            message = f"GPT2 id {match.group(0)!r} mentioned in {where}: update it by hand"
            out.append(Finding(RULE, Safety.INFO, number, 0, number, 0, message))
    return out


@cache
def _id_pattern(sources: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sources)
    # A whole token: not part of a longer name, path or id ("gpt2-medium", "x/gpt2", "gpt2.py").
    return re.compile(rf"(?<![\w./-])(?:{alternatives})(?![\w/-]|\.\w)")


def _context(
    line: str, start: int, end: int, source: str, kind: str
) -> tuple[str | None, bool, str]:
    """(key or flag, rewrite it?, why) for the id at ``line[start:end]``."""
    if kind != "prose":
        flag = FLAG_BEFORE.search(line[:start])
        if flag and kind in ("shell", "yaml"):
            name = flag.group("flag")
            if is_model_field(name):
                return name, True, f"the command-line flag {name}"
            return name, False, f"the flag {name} does not name a model"
        pair = {"yaml": YAML_PAIR, "json": JSON_PAIR, "toml": ASSIGN_PAIR, "ini": ASSIGN_PAIR}.get(
            kind
        )
        if pair is not None:
            for match in pair.finditer(line):
                if match.start("value") == start and match.end("value") == end:
                    key = match.group("key")
                    last = key.rsplit(".", 1)[-1]
                    if MODEL_TYPE_KEY.match(last):
                        return key, False, f"the value of {key!r}, a model type, not a checkpoint"
                    if is_model_field(last):
                        return key, True, f"the value of {key!r}, a field named for a model"
                    return key, False, f"the value of {key!r}, a field not named for a model"
        return None, False, f"not the whole value of a field named for a model ({kind})"
    return None, False, "prose"


def _finding(hit: Hit) -> Finding:
    col = hit.start
    if hit.rewrite:
        message = f"{hit.source!r} -> {hit.target!r} ({hit.why})"
        safety = Safety.FIX
    elif hit.why.startswith("shape:"):
        message = shape_message(hit.source, Tier(hit.why[len("shape:") :]), hit.target)
        safety = Safety.INFO
    elif hit.why == "prose":
        message = "GPT2 id mentioned in prose: update it by hand"
        safety = Safety.INFO
    else:
        message = (
            f"{hit.source!r} left as is: {hit.why}; if it is a checkpoint the tests load, "
            f"change it by hand (to {hit.target!r})"
        )
        safety = Safety.INFO
    return Finding(
        RULE,
        safety,
        hit.line,
        col,
        hit.line,
        hit.end,
        message,
        fixed=hit.rewrite,
        source_id=hit.source if hit.why != "prose" else None,
    )


def _rewritten(text: str, hits: list[Hit]) -> str:
    if not hits:
        return text
    lines = text.splitlines(keepends=True)
    for hit in sorted(hits, key=lambda h: (h.line, -h.start)):
        line = lines[hit.line - 1]
        lines[hit.line - 1] = line[: hit.start] + hit.target + line[hit.end :]
    return "".join(lines)


def _unparsable(new: str, old: str, kind: str) -> str | None:
    """Why the rewritten document no longer parses when the original did, or None."""
    loaders = {"json": json.loads, "toml": tomllib.loads}
    if kind == "yaml":
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - optional: a span edit of a scalar is safe
            return None
        loaders["yaml"] = yaml.safe_load
    loader = loaders.get(kind)
    if loader is None:
        return None
    try:
        loader(old)
    except Exception:  # the original does not parse: nothing to compare
        return None
    try:
        loader(new)
    except Exception as exc:  # any parser error means: do not write
        return f"the rewritten {kind.upper()} would not parse ({type(exc).__name__})"
    return None
