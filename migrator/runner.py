"""One file in, one result out; never raises for user code. Plus the parallel driver.

Per file: read bytes; a pre-filter rejects files that cannot match without decoding them; the
rules analyse the ``ast``; only a file with edits or markers is parsed by LibCST (once) and
rewritten in a single pass; the output must parse before it is accepted; ``--apply`` writes it
atomically, keeping the file mode.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import traceback
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.config import line_length
from migrator.context import FileContext
from migrator.core import FileResult, Finding, Safety, Status
from migrator.crossfile import CrossFile, collect
from migrator.documents import analyse as analyse_document
from migrator.documents import kind_of, prose_findings
from migrator.models import ModelMap
from migrator.nodes import Edit, Key
from migrator.notebooks import NotebookError, code_cells, markdown_lines, module_of, rewritten
from migrator.registry import Rule, all_rules
from migrator.source import Source, SourceError
from migrator.writer import ConcurrentChange, os_reason, write_atomic

if TYPE_CHECKING:
    import libcst as cst

# Below this many candidate files, worker start-up costs more than it saves.
PARALLEL_THRESHOLD = 8


@dataclass(frozen=True)
class RunOptions:
    models: ModelMap
    rule_ids: tuple[str, ...]
    markers: bool = True
    write: bool = False
    crossfile: CrossFile = field(default_factory=CrossFile.empty)


@cache
def _prefilter(ids: tuple[str, ...]) -> re.Pattern[bytes]:
    """Every rule needs a GPT2 id or class name in the file; all contain 'gpt2' in some case."""
    extra = [re.escape(i.encode()) for i in ids if "gpt2" not in i.lower()]
    return re.compile(b"|".join([rb"(?i:gpt2)", *extra]))


# A file that already loads an instruct target and still carries a GPT2-era workaround (a
# half-done migration): pad-token and chat-template finish it.
_WORKAROUNDS = re.compile(rb"\.(pad_token(_id)?|chat_template)\s*=")


@cache
def _target_ids(ids: frozenset[str]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(i.encode()) for i in sorted(ids)))


def _half_done(raw: bytes, models: ModelMap) -> bool:
    return bool(_WORKAROUNDS.search(raw)) and bool(_target_ids(models.known_targets).search(raw))


def _rules(ids: tuple[str, ...]) -> list[Rule]:
    wanted = set(ids)
    return [rule for rule in all_rules() if rule.id in wanted]


def display(path: Path) -> str:
    """The path as the user should read it: relative to the working directory when inside it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class Plan:
    """What the rules decided for a file that needs LibCST: plain, picklable data (the edits'
    rewrites are partials of module-level functions, see rules/_cst.py), so the decision can
    be made in one process and applied in another."""

    path: Path
    source: Source
    findings: tuple[Finding, ...]
    edits: tuple[Edit, ...]
    markers: dict[Key, list[str]]
    counts: dict[str, int]
    inside: dict[Key, dict[str, tuple[int, int]]]
    remove_imports: frozenset[tuple[str, str, str | None]]
    migrations: tuple[tuple[str, str], ...]
    suppressed: int


def process_file(path: Path, options: RunOptions, raw: bytes | None = None) -> FileResult:
    outcome = analyse(path, options, raw)
    return outcome if isinstance(outcome, FileResult) else finish(outcome, options)


def analyse(path: Path, options: RunOptions, raw: bytes | None = None) -> FileResult | Plan:
    """Decode and run the rules on the ``ast``: the result when no LibCST rewrite is needed
    (or on an error), else the plan for ``finish``. Never imports libcst. ``raw``: the bytes
    already read and let through by the pre-filter; without them the file is read here."""
    name = display(path)
    if raw is None:
        raw, settled = _read(path, options)
        if raw is None:
            assert settled is not None
            return settled
    kind = kind_of(path)
    if kind is not None:  # a config, script or doc: span edits, no ast (migrator/documents.py)
        try:
            if kind == "notebook":
                return _notebook(path, name, raw, options)
            return _document(path, name, raw, kind, options)
        except Exception:  # as below: a bug must cost one file, not the run
            return _internal_error(name)
    return _python(path, name, raw, options)


def _python(path: Path, name: str, raw: bytes, options: RunOptions) -> FileResult | Plan:
    try:
        source = Source.decode(name, raw)
        if source.directives.skip_file:
            return FileResult(name, Status.SKIPPED, error="skip-file comment")
        source.tree  # noqa: B018 - raises SourceError (syntax error with its line) before any rule runs
        where = os.path.abspath(path)
        ctx = FileContext(
            source=source,
            models=options.models,
            markers_enabled=options.markers,
            line_length=line_length(Path(where).parent),
            external=options.crossfile.uses.get(where, {}),
            imported=options.crossfile.imports.get(where, {}),
        )
        for rule in _rules(options.rule_ids):
            rule.check(ctx.for_rule(rule.id))
        findings = tuple(sorted(ctx.findings, key=lambda f: (f.line, f.col, f.rule)))
        migrations = tuple(sorted(ctx.migrations))
        if not (ctx.edits or ctx.markers):
            text = source.text
            status = _status(findings, changed=False)
            return FileResult(
                name, status, findings, text, text, suppressed=ctx.suppressed, migrations=migrations
            )
        return Plan(
            path,
            source.detached(),
            findings,
            tuple(ctx.edits.values()),
            ctx.markers,
            ctx.index.counts,
            ctx.index.inside(),
            frozenset(ctx.remove_imports),
            migrations,
            ctx.suppressed,
        )
    except SourceError as exc:
        return FileResult(name, Status.ERROR, error=str(exc))
    except Exception:  # one catch point: a bug in a rule must not take the run down
        return _internal_error(name)


def _document(path: Path, name: str, raw: bytes, kind: str, options: RunOptions) -> FileResult:
    result = analyse_document(name, raw, kind, options.models)
    if result.new_bytes is None or not options.write:
        return result
    return _written(path, raw, result)


def _notebook(path: Path, name: str, raw: bytes, options: RunOptions) -> FileResult:
    """The code cells, joined, through the Python rules; the changed cells written back."""
    try:
        text = raw.decode("utf-8")
        cells = code_cells(text)
    except (UnicodeDecodeError, NotebookError) as exc:
        return FileResult(name, Status.ERROR, error=f"{exc}: left as is")
    module, lines = module_of(cells)
    outcome = _python(path, name, module.encode("utf-8"), options)
    if isinstance(outcome, Plan):
        outcome = finish(outcome, replace(options, write=False))
    if outcome.status is Status.ERROR:
        return outcome

    def located(finding: Finding) -> Finding:
        line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else finding.line
        return replace(finding, line=line, end_line=line)

    prose = prose_findings(markdown_lines(text), options.models, "a Markdown cell")
    findings = tuple(sorted((*map(located, outcome.findings), *prose), key=lambda f: f.line))
    if not outcome.changed:
        return FileResult(name, outcome.status, findings, text, text, migrations=outcome.migrations)
    try:
        new_text = rewritten(text, cells, outcome.new_text)
    except NotebookError as exc:
        return FileResult(name, Status.ERROR, findings, error=str(exc))
    new_bytes = new_text.encode("utf-8")
    result = FileResult(
        name,
        _status(findings, changed=new_bytes != raw),
        findings,
        text,
        new_text,
        new_bytes=new_bytes if new_bytes != raw else None,
        markers=outcome.markers,
        migrations=outcome.migrations,
    )
    if result.new_bytes is None or not options.write:
        return result
    return _written(path, raw, result)


def finish(plan: Plan, options: RunOptions) -> FileResult:
    """Apply a plan with LibCST, check the output, and write it under ``--apply``."""
    source, findings = plan.source, plan.findings
    try:
        new_text, markers = _rewrite(plan)
        new_bytes = source.encode(new_text)
    except SourceError as exc:
        return FileResult(source.path, Status.ERROR, error=str(exc))
    except Exception:  # as in analyse: a bug must cost one file, not the run
        return _internal_error(source.path)
    changed = new_bytes != source.raw
    result = FileResult(
        source.path,
        _status(findings, changed),
        findings=findings,
        old_text=source.text,
        new_text=new_text,
        new_bytes=new_bytes if changed else None,
        suppressed=plan.suppressed,
        markers=markers,
        migrations=plan.migrations,
    )
    if changed and options.write:
        return _written(plan.path, source.raw, result)
    return result


def _written(path: Path, raw: bytes, result: FileResult) -> FileResult:
    """Write ``result.new_bytes`` over ``path`` (which held ``raw``): the written result, or
    the error that kept the file as it was."""
    assert result.new_bytes is not None
    try:
        write_atomic(path, raw, result.new_bytes)
    except (OSError, ConcurrentChange) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        return FileResult(result.path, Status.ERROR, findings=result.findings, error=reason)
    return replace(result, written=True)


def _status(findings: Sequence[Finding], changed: bool) -> Status:
    if any(f.safety is Safety.REVIEW for f in findings):
        return Status.REVIEW
    return Status.READY if changed else Status.CLEAN


def _internal_error(name: str) -> FileResult:
    return FileResult(
        name,
        Status.ERROR,
        error="internal error, file left unchanged (please report):\n" + traceback.format_exc(),
    )


# LibCST recurses once per level of nesting, and an implicit concatenation of n strings is
# n levels deep: a long one (pydoc's topics.py) exceeds Python's default limit.
RECURSION_LIMIT = 20_000


def _rewrite(plan: Plan) -> tuple[str, int]:
    import libcst as cst  # deferred: a run where no file needs a rewrite never imports libcst

    from migrator.apply import apply_edits

    text = plan.source.text
    hand = "; left unchanged: migrate it by hand"
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, RECURSION_LIMIT))
    try:
        try:
            module = cst.parse_module(text)
        except cst.ParserSyntaxError as exc:
            raise SourceError(
                f"LibCST cannot parse this file (line {exc.raw_line}, column {exc.raw_column}: "
                f"{exc.message}){hand}"
            ) from None
        # LibCST promises an exact round trip, but a few spellings come back normalized
        # (``except E :`` loses its space, a form feed before a statement goes): never let a
        # rewrite change bytes it did not mean to. (A line diff limited to the edited lines
        # was tried instead of this second codegen: it let such changes through on edited
        # lines and grew quadratically on long files.)
        original = module.code
        if original != text:
            raise SourceError(
                f"LibCST does not reproduce this file byte for byte (line "
                f"{_first_difference(text, original)}){hand}"
            )
        new, markers = apply_edits(module, plan.edits, plan.markers, plan.counts, plan.inside)
        if plan.remove_imports:
            new = _fix_imports(plan.remove_imports, new)
        code = new.code
    except RecursionError:
        raise SourceError(f"nested too deeply for LibCST{hand}") from None
    finally:
        sys.setrecursionlimit(previous)
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise RuntimeError(f"the rewrite would not parse (line {exc.lineno}: {exc.msg})") from None
    return code, markers


def _first_difference(old: str, new: str) -> int:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), 1):
        if a != b:
            return number
    return min(old.count("\n"), new.count("\n")) + 1


def _fix_imports(
    removals: Collection[tuple[str, str, str | None]], module: cst.Module
) -> cst.Module:
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import RemoveImportsVisitor

    # LibCST resolves relative imports against the module's package, which a test file does
    # not know; a stand-in package deep enough for any relative import resolves them the same
    # way for the removals asked here and for the imports found in the file.
    package = ".".join(f"_migrate_tests_{i}" for i in range(8))
    context = CodemodContext(full_module_name=f"{package}.module", full_package_name=package)
    for module_name, obj, asname in sorted(removals, key=str):
        RemoveImportsVisitor.remove_unused_import(
            context, _absolute(module_name, package), obj, asname
        )
    return RemoveImportsVisitor(context).transform_module(module)


def _absolute(module: str, package: str) -> str:
    level = len(module) - len(module.lstrip("."))
    if not level:
        return module
    base = package.split(".")[: len(package.split(".")) - (level - 1)]
    rest = module[level:]
    return ".".join([*base, rest] if rest else base)


def run(
    files: Sequence[Path],
    options: RunOptions,
    jobs: int,
    on_done: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Process ``files``; results come back in the order of ``files`` whatever the workers do.

    The pre-filter runs here first (reading bytes is cheap): files that cannot match never
    reach a worker. With few files left, or one job, everything runs in this process;
    otherwise in two overlapping stages (``migrator/parallel.py``).
    """
    results: list[FileResult | None] = [None] * len(files)

    def done(index: int, result: FileResult) -> None:
        results[index] = result
        if on_done is not None:
            on_done(result)

    if not options.crossfile.uses and not options.crossfile.imports:
        options = replace(options, crossfile=collect(files, options.models))
    # Files that take a fixture or constant from another file are analysed even when they
    # never mention GPT2 themselves: the binding reaches them.
    importers = set(options.crossfile.imports)
    todo: list[int] = []
    raws: list[bytes] = []  # of the files in todo, read once
    for index, path in enumerate(files):
        raw, quick = _read(path, options, force=os.path.abspath(path) in importers)
        if raw is not None:
            todo.append(index)
            raws.append(raw)
        else:
            assert quick is not None
            done(index, quick)
    if jobs <= 1 or len(todo) < PARALLEL_THRESHOLD:
        for index, raw in zip(todo, raws, strict=True):
            done(index, process_file(files[index], options, raw))
    else:
        from migrator.parallel import run_parallel  # the runner is imported by it

        for position, result in run_parallel([files[i] for i in todo], raws, options, jobs):
            done(todo[position], result)
    return [r for r in results if r is not None]


def _read(
    path: Path, options: RunOptions, force: bool = False
) -> tuple[bytes | None, FileResult | None]:
    """The file's bytes, or the result when reading or the pre-filter settles it already
    (unreadable, or cannot match; ``force``: the pre-filter does not apply)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, FileResult(display(path), Status.ERROR, error=os_reason(exc))
    if (
        not force
        and not _prefilter((*options.models.targets, *options.models.legacy_ids)).search(raw)
        and not _half_done(raw, options.models)
    ):
        return None, FileResult(display(path), Status.CLEAN)
    return raw, None
