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
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.context import FileContext
from migrator.core import FileResult, Safety, Status
from migrator.discovery import TEMP_FILE, TEMP_MARK
from migrator.models import ModelMap
from migrator.registry import Rule, all_rules
from migrator.source import Source, SourceError

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


@cache
def _prefilter(ids: tuple[str, ...]) -> re.Pattern[bytes]:
    """Every rule needs a GPT2 id or class name in the file; all contain 'gpt2' in some case."""
    extra = [re.escape(i.encode()) for i in ids if "gpt2" not in i.lower()]
    return re.compile(b"|".join([rb"(?i:gpt2)", *extra]))


def _rules(ids: tuple[str, ...]) -> list[Rule]:
    wanted = set(ids)
    return [rule for rule in all_rules() if rule.id in wanted]


def display(path: Path) -> str:
    """The path as the user should read it: relative to the working directory when inside it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def process_file(path: Path, options: RunOptions) -> FileResult:
    name = display(path)
    raw, settled = _read(path, options)
    if raw is None:
        assert settled is not None
        return settled
    try:
        source = Source.decode(name, raw)
        if source.directives.skip_file:
            return FileResult(name, Status.SKIPPED, error="skip-file comment")
        return _migrate(source, options, path)
    except SourceError as exc:
        return FileResult(name, Status.ERROR, error=str(exc))
    except Exception:  # one catch point: a bug in a rule must not take the run down
        return FileResult(
            name,
            Status.ERROR,
            error="internal error, file left unchanged (please report):\n" + traceback.format_exc(),
        )


def _migrate(source: Source, options: RunOptions, path: Path) -> FileResult:
    source.tree  # noqa: B018 - raises SourceError (syntax error with its line) before any rule runs
    ctx = FileContext(source=source, models=options.models, markers_enabled=options.markers)
    for rule in _rules(options.rule_ids):
        rule.check(ctx.for_rule(rule.id))
    findings = tuple(sorted(ctx.findings, key=lambda f: (f.line, f.col, f.rule)))
    new_text, markers = source.text, 0
    if ctx.edits or ctx.markers:
        new_text, markers = _rewrite(ctx)
    new_bytes = source.encode(new_text)
    changed = new_bytes != source.raw
    if any(f.safety is Safety.REVIEW for f in findings):
        status = Status.REVIEW
    elif changed:
        status = Status.READY
    else:
        status = Status.CLEAN
    result = FileResult(
        source.path,
        status,
        findings=findings,
        old_text=source.text,
        new_text=new_text,
        new_bytes=new_bytes if changed else None,
        suppressed=ctx.suppressed,
        markers=markers,
        migrations=tuple(sorted(ctx.migrations)),
    )
    if changed and options.write:
        try:
            write_atomic(path, source.raw, new_bytes)
        except OSError as exc:
            return FileResult(source.path, Status.ERROR, findings=findings, error=_os_reason(exc))
        except ConcurrentChange as exc:
            return FileResult(source.path, Status.ERROR, findings=findings, error=str(exc))
        return FileResult(**{**result.__dict__, "written": True})
    return result


# LibCST recurses once per level of nesting, and an implicit concatenation of n strings is
# n levels deep: a long one (pydoc's topics.py) exceeds Python's default limit.
RECURSION_LIMIT = 20_000


def _rewrite(ctx: FileContext) -> tuple[str, int]:
    import libcst as cst  # deferred: a run where no file needs a rewrite never imports libcst

    from migrator.apply import apply_edits

    text = ctx.source.text
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
        # (``except E :`` loses its space): never let a rewrite change bytes it did not mean to.
        original = module.code
        if original != text:
            raise SourceError(
                f"LibCST does not reproduce this file byte for byte (line "
                f"{_first_difference(text, original)}){hand}"
            )
        index = ctx.index
        edits = list(ctx.edits.values())
        module, markers = apply_edits(module, edits, ctx.markers, index.counts, index.inside())
        if ctx.remove_imports:
            module = _fix_imports(ctx, module)
        code = module.code
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


def _fix_imports(ctx: FileContext, module: cst.Module) -> cst.Module:
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import RemoveImportsVisitor

    # LibCST resolves relative imports against the module's package, which a test file does
    # not know; a stand-in package deep enough for any relative import resolves them the same
    # way for the removals asked here and for the imports found in the file.
    package = ".".join(f"_migrate_tests_{i}" for i in range(8))
    context = CodemodContext(full_module_name=f"{package}.module", full_package_name=package)
    for module_name, obj, asname in sorted(ctx.remove_imports, key=str):
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


class ConcurrentChange(Exception):
    """The file changed on disk after it was read: never clobber someone else's edit."""


def write_atomic(path: Path, expected: bytes, data: bytes) -> None:
    """Write ``data`` over ``path`` via a temp file in the same directory (fsync, rename),
    keeping the mode, and only if the file still holds ``expected``."""
    target = path.resolve()  # write through a symlink, keep the link
    mode = target.stat().st_mode & 0o7777
    # No write bit at all: the owner marked it read-only; respect that even as root.
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(13, "Permission denied (read-only file)", str(path))
    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}{TEMP_MARK}{os.getpid()}-", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if target.read_bytes() != expected:
            raise ConcurrentChange(
                "the file changed on disk while it was being migrated; not written"
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clean_temp_files(candidates: Sequence[Path]) -> int:
    """Remove temp files of killed runs: only those whose writing process no longer exists
    (a concurrent run, e.g. parallel pre-commit hooks, may own the others)."""
    removed = 0
    for path in candidates:
        match = TEMP_FILE.match(path.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    try:  # a killed writer not yet reaped by its parent is a zombie: it writes nothing more
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        return f"permission denied ({reason})" if "denied" not in reason.lower() else reason
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if exc.errno == 40:
        return "symlink loop (too many levels of symbolic links)"
    if isinstance(exc, FileNotFoundError):
        return "file not found (broken symlink or removed during the run)"
    return reason


def run(
    files: Sequence[Path],
    options: RunOptions,
    jobs: int,
    on_done: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Process ``files``; results come back in the order of ``files`` whatever the workers do.

    The pre-filter runs here first (reading bytes is cheap): files that cannot match never
    reach a worker. Only when enough files remain are workers started, forked after libcst
    and the rules are imported so that no worker pays for those imports again.
    """
    results: list[FileResult | None] = [None] * len(files)
    todo: list[int] = []
    for index, path in enumerate(files):
        _raw, quick = _read(path, options)
        if quick is None:
            todo.append(index)
        else:
            results[index] = quick
            if on_done is not None:
                on_done(quick)
    for index, result in zip(
        todo, _iter_results([files[i] for i in todo], options, jobs), strict=True
    ):
        results[index] = result
        if on_done is not None:
            on_done(result)
    return [r for r in results if r is not None]


def _read(path: Path, options: RunOptions) -> tuple[bytes | None, FileResult | None]:
    """The file's bytes, or the result when reading or the pre-filter settles it already
    (unreadable, or cannot match)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, FileResult(display(path), Status.ERROR, error=_os_reason(exc))
    if not _prefilter(tuple(options.models.targets)).search(raw):
        return None, FileResult(display(path), Status.CLEAN)
    return raw, None


def _iter_results(files: Sequence[Path], options: RunOptions, jobs: int) -> Iterator[FileResult]:
    if jobs <= 1 or len(files) < PARALLEL_THRESHOLD:
        for path in files:
            yield process_file(path, options)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import libcst  # noqa: F401  # imported once here, inherited by the forked workers

    import migrator.apply  # noqa: F401

    all_rules()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=context) as pool:
        chunk = max(1, len(files) // (jobs * 4))
        yield from pool.map(process_file, files, [options] * len(files), chunksize=chunk)
