"""Facts that cross files: fixtures of a ``conftest.py`` and module constants used elsewhere.

A binding does not stop at the file that holds the literal: a ``conftest.py`` fixture that
returns a model loaded from ``"gpt2"`` is used by tests in other files (which may index
``model.transformer.h``), and ``MODEL_ID = "gpt2"`` in a constants module is loaded by the
files that import it. The engine runs a cheap pre-pass (``migrator/crossfile.py``) that reads
those other files; this module runs it and holds what it hands to the per-file analysis:

- to the exporting file, every outside use of an exported name (``ExternalUse``): which
  consumer it reaches and which GPT2 internals the functions using it touch;
- to each importing file, the exporter's decision for that name (``Imported``), so the same
  binding gets the same decision everywhere (a fixture's tokenizer is migrated in the tests
  that take it exactly when the fixture's id is);
- to a file that passes a GPT2 id to a function imported from the project (``from
  tests.utils import load_tokenizer``), where that function's parameter goes in its own file
  (``parameter_uses``, read when the analysis meets such a call, not in the pre-pass): a
  loader (the id migrates), a file path (a folder's name, kept), GPT2 internals (kept), or an
  unknown call (review), as for a helper of the same file.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.models import ModelMap


@dataclass(frozen=True)
class ExternalUse:
    """A use, in another file, of a name this file exports."""

    path: str
    line: int
    known: bool | None  # reaches a known consumer / an unknown one / neither (None)
    what: str  # the consumer, or the GPT2 internals its function touches
    internals: bool = False  # ``what`` is GPT2 internals (evidence to keep the binding)
    keep: str | None = None  # this use shows the id is not a checkpoint (a folder's name)


@dataclass(frozen=True)
class Imported:
    """A name another file exports, and its binding's decision."""

    name: str
    source: str  # the GPT2 id
    decision: str  # migrate | keep | review | finished (the fixture loads a known target)
    kind: str  # "id" (a constant, a fixture returning the id) or tokenizer/model/processor
    where: str  # "tests/conftest.py:12"
    # The exporter is migrated in this run too: only then may the importer drop what the
    # GPT2 binding needed (a staged rollout must not break the tests in between).
    in_run: bool = True


@dataclass(frozen=True)
class CrossFile:
    """Per file (resolved path): the outside uses of its exports, and what it imports."""

    uses: dict[str, dict[str, tuple[ExternalUse, ...]]]
    imports: dict[str, dict[str, Imported]]

    @classmethod
    def empty(cls) -> CrossFile:
        return cls({}, {})


# -- the pre-pass ---------------------------------------------------------------------------

SKIP_DIRS = frozenset(
    {".git", ".hg", ".tox", ".nox", ".venv", "venv", "build", "dist", "node_modules", "__pycache__"}
)
# A module-level assignment of a string that mentions gpt2: a constant other files may import.
CONSTANT = re.compile(rb"(?im)^[A-Za-z_]\w*\s*(?::[^=\n]*)?=\s*[rbuf]*['\"][^'\"\n]*gpt2")
MAX_PARENTS = 8


def collect(files: Sequence[Path], models: ModelMap) -> CrossFile:
    """Read the exporters among (and above) ``files`` and the files that use their exports.

    Exporters: ``conftest.py`` files of the run and of the folders above its files, and files
    with a module-level GPT2 constant. Importers: the ``.py`` files under an exporter's folder
    that mention an exported name (a test taking the fixture, a module importing the
    constant). Only ``ast`` work, and only on files whose bytes mention the name."""
    reader = _Reader(models)
    exporters = _exporters(files, reader)
    in_run = {Path(os.path.abspath(p)) for p in files}
    uses: dict[str, dict[str, tuple[ExternalUse, ...]]] = {}
    users_of: dict[str, dict[str, list[str]]] = {}
    for exporter in exporters:
        found = reader.analysis(exporter)
        if found is None:
            continue
        names = _exported(found, exporter)
        if not names:
            continue
        key = str(exporter)
        for importer in reader.below(_importers_root(exporter, names, in_run)):
            if importer == exporter:
                continue
            raw = reader.raw(importer)
            wanted = [n for n in names if n.encode() in raw]
            if not wanted:
                continue
            other = reader.analysis(importer)
            if other is None:
                continue
            for name in wanted:
                if names[name][0] == "finished":  # already loads a target: nothing to decide
                    if _seed(other, name, ("fixture", False), exporter) is not None:
                        users_of.setdefault(key, {}).setdefault(name, []).append(str(importer))
                    continue
                seed = _seed(other, name, names[name], exporter)
                if seed is None:
                    continue
                flow = other.binding_set.seeded(*seed)
                found_uses = _external(other, importer, flow)
                if found_uses:
                    uses.setdefault(key, {}).setdefault(name, ())
                    uses[key][name] += tuple(found_uses)
                users_of.setdefault(key, {}).setdefault(name, []).append(str(importer))
    imports: dict[str, dict[str, Imported]] = {}
    for key, names_users in users_of.items():
        found = reader.analysis(Path(key), uses.get(key, {}))
        if found is None:
            continue
        decided = _decisions(found, Path(key), Path(key) in in_run)
        for name, paths in names_users.items():
            if name in decided:
                for path in paths:
                    imports.setdefault(path, {})[name] = decided[name]
    return CrossFile(uses, imports)


def parameter_uses(
    importer: str, module: str, name: str, slot: int | str, models: ModelMap
) -> tuple[ExternalUse, ...]:
    """Where the argument ``slot`` of ``name``, imported by ``importer`` from ``module``
    (``"tests.utils"``, ``"..utils"``), goes in that module's file; empty when the module is
    not a file of the project or ``name`` not one of its module-level functions."""
    where = _module_file(Path(os.path.abspath(importer)), module)
    if where is None:
        return ()
    try:
        stamp = where.stat().st_mtime_ns
    except OSError:
        return ()
    key = (str(where), stamp, name, slot, id(models))
    if key not in _PARAMETERS:
        reader = _READERS.get((str(where), stamp, id(models)))
        if reader is None:  # one reader per module version: analysed once for all its helpers
            reader = _READERS[(str(where), stamp, id(models))] = _Reader(models)
        _PARAMETERS[key] = (reader.parameter_uses(where, name, slot), models)
    return _PARAMETERS[key][0]


# Read once per process (the file's mtime is part of the keys); the ModelMap is held so that
# its id is not reused while an entry names it.
_PARAMETERS: dict[
    tuple[str, int, str, int | str, int], tuple[tuple[ExternalUse, ...], ModelMap]
] = {}
_READERS: dict[tuple[str, int, int], _Reader] = {}
_MODULES: dict[tuple[Path, str], Path | None] = {}


def _module_file(importer: Path, module: str) -> Path | None:
    """The ``.py`` file of the project that ``from <module> import`` names: relative to the
    importer's package (leading dots), or under one of the importer's parent folders."""
    key = (importer.parent, module)
    if key not in _MODULES:
        level = len(module) - len(module.lstrip("."))
        parts = [p for p in module.lstrip(".").split(".") if p]
        if level:
            bases = [importer.parents[level - 1]] if level <= len(importer.parents) else []
        else:
            bases = list(importer.parents)[:MAX_PARENTS]
        found = None
        for base in bases:
            stem = base.joinpath(*parts)
            for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
                if parts and candidate.is_file() and candidate != importer:
                    found = candidate
                    break
            if found:
                break
        _MODULES[key] = found
    return _MODULES[key]


class _Reader:
    """Bytes, directory listings and analyses, each computed once per path."""

    def __init__(self, models: ModelMap) -> None:
        self.models = models
        self._raw: dict[Path, bytes] = {}
        self._below: dict[Path, list[Path]] = {}
        self._modules: dict[Path, Any] = {}  # helper modules read for their parameters

    def raw(self, path: Path) -> bytes:
        if path not in self._raw:
            try:
                self._raw[path] = path.read_bytes()
            except OSError:
                self._raw[path] = b""
        return self._raw[path]

    def below(self, folder: Path) -> list[Path]:
        if folder not in self._below:
            found: list[Path] = []
            for top, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                found.extend(Path(top) / n for n in sorted(names) if n.endswith(".py"))
            self._below[folder] = found
        return self._below[folder]

    def analysis(
        self, path: Path, external: dict[str, tuple[ExternalUse, ...]] | None = None
    ) -> Any:
        from migrator.context import FileContext
        from migrator.source import Source, SourceError

        raw = self.raw(path)
        try:
            source = Source.decode(str(path), raw)
            source.tree  # noqa: B018 - a syntax error: the file is reported by its own run
        except (SourceError, ValueError):
            return None
        ctx = FileContext(source=source, models=self.models, external=external or {})
        helpers = importlib.import_module("migrator.rules._analysis")
        return helpers.analysis(ctx.for_rule("cross-file"))

    def parameter_uses(self, path: Path, name: str, slot: int | str) -> tuple[ExternalUse, ...]:
        """Where the argument ``slot`` of the module-level function ``name`` of ``path`` goes."""
        if name.encode() not in self.raw(path):
            return ()
        if path not in self._modules:  # once for every helper of the module
            self._modules[path] = self.analysis(path)
        found = self._modules[path]
        if found is None:
            return ()
        funcs = [f for f in found.functions_named.get(name, []) if f in found.tree.body]
        if len(funcs) != 1:
            return ()
        args = funcs[0].args
        positional = [a.arg for a in [*args.posonlyargs, *args.args]]
        if isinstance(slot, int):
            if slot >= len(positional):
                return ()
            param = positional[slot]
        elif slot in positional or slot in [a.arg for a in args.kwonlyargs]:
            param = slot
        else:
            return ()
        flow = found.binding_set.seeded((found.qualname(funcs[0]), param), True)
        shown = _display(path)
        out = []
        for use in flow.uses:
            line = getattr(use.node, "lineno", 0)
            if use.keep is not None:
                out.append(ExternalUse(shown, line, None, use.keep, keep=use.keep))
            elif use.verdict is not None:
                out.append(ExternalUse(shown, line, use.verdict.known, use.verdict.what))
        for func in flow.users.values():
            internals = found.internals_in(func)
            if internals:
                out.append(ExternalUse(shown, func.lineno, None, f"{func.name}: {internals}", True))
        return tuple(out)


def _exporters(files: Sequence[Path], reader: _Reader) -> list[Path]:
    found: dict[Path, None] = {}
    folders: set[Path] = set()
    for path in files:
        resolved = Path(os.path.abspath(path))
        folders.add(resolved.parent)
        if resolved.suffix != ".py":
            continue
        raw = reader.raw(resolved)
        # The case-insensitive regex is slow over a whole suite: most files never mention gpt2.
        if resolved.name == "conftest.py" or (b"gpt2" in raw.lower() and CONSTANT.search(raw)):
            found[resolved] = None
    seen: set[Path] = set()
    for folder in folders:
        for parent in [folder, *folder.parents][:MAX_PARENTS]:
            if parent in seen:
                break
            seen.add(parent)
            conftest = parent / "conftest.py"
            if conftest.is_file():
                found[conftest] = None
    targets = _target_bytes(reader.models)
    return [p for p in found if targets.search(reader.raw(p))]


def _target_bytes(models: ModelMap) -> re.Pattern[bytes]:
    """A GPT2 id, or a known target (a conftest that already serves one: its users' GPT2-era
    workarounds can go, the half-done migration across files)."""
    known = [re.escape(t.encode()) for t in sorted(models.known_targets)]
    return re.compile(b"|".join([rb"(?i:gpt2)", *known]))


def _importers_root(exporter: Path, names: dict[str, tuple[str, bool]], run: set[Path]) -> Path:
    """Where the users of ``exporter``'s names can be: a conftest's fixtures are seen only
    below its folder; a module constant is imported from anywhere in its package
    (``from .utils.constants import X``) or in the run."""
    if all(kind in ("fixture", "finished") for kind, _ in names.values()):
        return exporter.parent
    folder = exporter.parent
    for _ in range(MAX_PARENTS):
        if not (folder / "__init__.py").is_file() or folder.parent == folder:
            break
        folder = folder.parent
    return Path(os.path.commonpath([folder, *(p.parent for p in run)]))


def _exported(found: Any, path: Path) -> dict[str, tuple[str, bool]]:
    """Exported name -> ("fixture", "constant" or "finished", whether it holds the id itself
    rather than an object loaded from it), for the names that hold a binding; "finished": a
    conftest fixture that already loads a known target."""
    out: dict[str, tuple[str, bool]] = {}
    for binding in found.binding_set.all:
        for keys, id_valued in ((binding.keys, True), (binding.objects, False)):
            for scope, name in keys:
                if scope == "fixture" and path.name == "conftest.py":
                    out[name] = ("fixture", id_valued)
                elif scope == "" and not name.startswith("self."):
                    out[name] = ("constant", id_valued)
    if path.name == "conftest.py":
        for name in _finished(found):
            out.setdefault(name, ("finished", False))
    return out


def _finished(found: Any) -> dict[str, Any]:
    """The conftest's fixtures returning a tokenizer or model loaded from a known target."""
    objects = importlib.import_module("migrator.rules._analysis.objects").objects(found.ctx)
    out = {}
    for (scope, name), loaded in objects.bindings.items():
        origin = loaded[-1].origin if loaded else None
        if scope == "fixture" and origin is not None and origin.finished:
            out[name] = origin
    return out


def _seed(
    found: Any, name: str, export: tuple[str, bool], exporter: Path
) -> tuple[tuple[str, str], bool] | None:
    """Where ``name`` enters the importer: as fixture parameters, or as an imported name."""
    kind, id_valued = export
    if kind == "fixture":
        if name in found.functions_named:  # the importer defines its own fixture of that name
            return None
        return ("fixture", name), id_valued
    module = found.imports.get(name)
    if module is None or module[0].rsplit(".", 1)[-1] != exporter.stem:
        return None
    return ("", name), id_valued


def _external(found: Any, path: Path, flow: Any) -> list[ExternalUse]:
    out: list[ExternalUse] = []
    shown = _display(path)
    for use in flow.uses:
        if use.verdict is not None:
            line = getattr(use.node, "lineno", 0)
            out.append(ExternalUse(shown, line, use.verdict.known, use.verdict.what))
    for func in flow.users.values():
        internals = found.internals_in(func)
        if internals:
            out.append(ExternalUse(shown, func.lineno, None, f"{func.name}: {internals}", True))
    return out


def _decisions(found: Any, path: Path, in_run: bool) -> dict[str, Imported]:
    objects = importlib.import_module("migrator.rules._analysis.objects").objects(found.ctx)
    out: dict[str, Imported] = {}
    for binding in found.binding_set.all:
        for scope, name in sorted(binding.keys | binding.objects):
            if scope not in ("fixture", "") or name.startswith("self."):
                continue
            kind = "id"
            if scope == "fixture":
                loaded = objects.bindings.get(("fixture", name))
                if loaded and loaded[-1].origin is not None:
                    kind = loaded[-1].origin.kind
            where = f"{_display(path)}:{binding.first_line}"
            out[name] = Imported(name, binding.source, binding.decision, kind, where, in_run)
    if path.name == "conftest.py":
        for name, origin in _finished(found).items():
            source = min(origin.sources)
            where = f"{_display(path)}"
            out.setdefault(name, Imported(name, source, "finished", origin.kind, where))
    return out


def _display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
