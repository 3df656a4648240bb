"""Real-code robustness run: the tool and its ast/LibCST bridge on code no one here wrote.

Usage: ``python tests/robustness.py [--limit N] [--every K] [ROOTS...]``

Default roots: the standard library directory of the running interpreter and its site-packages
(``sysconfig`` purelib/platlib). Below a root, ``__pycache__`` and any nested
``site-packages``/``dist-packages`` directory are skipped (a pyenv stdlib holds the base
interpreter's third-party packages: they are not the standard library). ``.py`` files over
1 MB are skipped, and so are files this interpreter cannot ``ast.parse`` (counted apart as "not
valid Python for this interpreter", e.g. lib2to3's Python 2 test data). The default is the full
run over every remaining file, and ``tests/test_robustness.py`` runs it (a ``slow`` test, left
out of the default ``python -m pytest``; ``-m slow`` runs it): about 4,200 files here,
7.5 CPU-minutes, 4 minutes on a 2-core machine. ``--every K`` checks every K-th file of
the sorted list and ``--limit N`` at most N files spread evenly over it: deterministic subsets
(``--every 3`` takes about 1.5 minutes), should the full run outgrow the test suite.

Two checks:

1. The tool as users run it: the files are copied to a temporary directory and the installed
   ``migrate-tests`` runs on the copy in subprocesses (``--check``, ``--apply -j 2``, then
   ``--check`` again, which must exit 0, or 2 only for files already reported as errors). Every changed file must still ``ast.parse`` and is
   printed with its findings and diff: in this code almost any change is a false positive.
2. The ast/LibCST bridge, in-process on every file (whatever the pre-filter says), in a pool of
   two processes: ``libcst.parse_module(text).code`` must be ``text``, and ``apply_edits``
   (called as the runner calls it, with ``AstIndex.inside()`` so that statements without edits
   are skipped) must raise no ``MappingDrift`` and give back the identical code in each of
   these passes: no edits; one identity ``Edit`` (fingerprint from ``ast_fingerprint``) per
   indexed "str" node, then per "call" node, then per "int" node, which proves every such node
   maps to its twin; and identity edits on the first, middle and last node of every kind, which
   makes the applier skip most statements and so checks the skipped ranges add up. On a drift
   the report says where the ast and LibCST sequences first disagree.

Exit status 0 when there are no crashes, parse failures, non-idempotent files or mapping
drifts; changed files are printed but do not fail the run.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migrator.apply import MappingDrift, apply_edits, cst_fingerprint, cst_kind
from migrator.nodes import CALL, INT, STR, AstIndex, Edit, ast_fingerprint
from migrator.runner import RECURSION_LIMIT
from migrator.source import Source, SourceError

MAX_BYTES = 1_000_000
WORKERS = 2
EDIT_KINDS = (STR, CALL, INT)
NESTED_PACKAGE_DIRS = frozenset({"site-packages", "dist-packages"})
DIFF_LINES = 120  # per changed file, so one runaway rewrite cannot bury the rest of the report

CRASH, PARSE, IDEMPOTENCE, DRIFT = "crash", "parse failure", "non-idempotent", "mapping drift"
# Valid Python that LibCST cannot round-trip; the tool refuses it cleanly (listed, not failing).
LIMIT = "libcst limitation"
KINDS = (CRASH, PARSE, IDEMPOTENCE, DRIFT, LIMIT)
LIBCST_REFUSALS = (
    "LibCST cannot parse",
    "LibCST does not reproduce",
    "nested too deeply for LibCST",
)


@dataclass(frozen=True)
class Root:
    label: str
    path: Path


@dataclass(frozen=True)
class Item:
    label: str  # the root's
    path: Path
    rel: Path  # below the root


@dataclass(frozen=True)
class Failure:
    kind: str
    path: str
    detail: str


@dataclass(frozen=True)
class BridgeResult:
    path: str
    valid: bool
    failures: tuple[Failure, ...] = ()


@dataclass(frozen=True)
class Changed:
    path: str
    findings: tuple[str, ...]
    diff: str


@dataclass
class Report:
    files: int = 0
    by_root: dict[str, int] = field(default_factory=dict)
    not_valid: list[str] = field(default_factory=list)
    too_large: int = 0
    failures: list[Failure] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    bridge_seconds: float = 0.0
    tool_seconds: float = 0.0

    def count(self, kind: str) -> int:
        """Distinct files with at least one failure of ``kind``."""
        return len({f.path for f in self.failures if f.kind == kind})

    @property
    def ok(self) -> bool:
        return not [f for f in self.failures if f.kind != LIMIT]

    def summary(self) -> str:
        roots = ", ".join(f"{n} from {label}" for label, n in self.by_root.items())
        return (
            f"robustness: {self.files} files ({roots}), {self.count(CRASH)} crashes, "
            f"{self.count(PARSE)} parse failures, {self.count(IDEMPOTENCE)} non-idempotent, "
            f"{self.count(DRIFT)} mapping drifts, {len(self.changed)} changed files (listed above); "
            f"{self.count(LIMIT)} files LibCST cannot round-trip, refused cleanly by the tool"
        )


# -- collecting files ------------------------------------------------------------------------


def default_roots() -> list[Root]:
    paths = sysconfig.get_paths()
    roots = [Root("stdlib", Path(paths["stdlib"]))]
    seen = {Path(paths["stdlib"]).resolve()}
    for key in ("purelib", "platlib"):
        path = Path(paths[key])
        if path.is_dir() and path.resolve() not in seen:
            seen.add(path.resolve())
            roots.append(Root("site-packages", path))
    return roots


def collect(roots: Sequence[Root], report: Report) -> list[Item]:
    """Every ``.py`` file of at most MAX_BYTES, sorted, no duplicates."""
    other_roots = {root.path.resolve() for root in roots}
    seen: set[Path] = set()
    out: list[Item] = []
    for root in roots:
        top = root.path.resolve()
        for dirpath, dirnames, filenames in os.walk(root.path):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d != "__pycache__"
                and d not in NESTED_PACKAGE_DIRS
                and (here / d).resolve() not in other_roots - {top}
            )
            for name in sorted(filenames):
                path = here / name
                if not name.endswith(".py") or not path.is_file():
                    continue
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                if path.stat().st_size > MAX_BYTES:
                    report.too_large += 1
                    continue
                out.append(Item(root.label, path, path.relative_to(root.path)))
    return out


def spread(items: list[Item], limit: int | None) -> list[Item]:
    """A deterministic subset of ``limit`` items spread evenly over the list."""
    if limit is None or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


# -- the ast/LibCST bridge, in-process -------------------------------------------------------


def _same(node: cst.CSTNode) -> cst.CSTNode:
    return node


def check_bridge(name: str) -> BridgeResult:
    """Runs in a worker process; never raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarning/DeprecationWarning from old code
        try:
            raw = Path(name).read_bytes()
            ast.parse(raw)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            return BridgeResult(name, valid=False)
        try:
            return BridgeResult(name, valid=True, failures=tuple(_bridge(name, raw)))
        except Exception as exc:
            return BridgeResult(name, True, (Failure(CRASH, name, f"{type(exc).__name__}: {exc}"),))


def _bridge(name: str, raw: bytes) -> list[Failure]:
    try:
        source = Source.decode(name, raw)
        tree = ast.parse(source.text)
    except (SourceError, SyntaxError, ValueError) as exc:
        return [Failure(PARSE, name, f"the tool cannot read a file Python parses: {exc}")]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))  # as the tool does
    try:
        module = cst.parse_module(source.text)
        code = module.code
    except Exception as exc:  # a LibCST limitation: the tool must refuse the file cleanly
        return _limitation(name, raw, f"libcst: {type(exc).__name__}: {str(exc)[:200]}")
    failures = []
    if code != source.text:
        return _limitation(
            name, raw, f"libcst round trip is not exact:\n{_first_diff(source, code)}"
        )
    index = AstIndex(tree)
    inside = index.inside()
    sparse = {
        (kind, ordinal)
        for kind, count in index.counts.items()
        for ordinal in {0, count // 2, count - 1}
        if count
    }
    passes = [
        ("no edits", []),
        *(
            (f"identity edits on every {k}", [key for key in index.nodes if key[0] == k])
            for k in EDIT_KINDS
        ),
        ("identity edits on the first, middle and last node of every kind", sorted(sparse)),
    ]
    drifts: list[str] = []
    for label, keys in passes:
        edits = [Edit(key, ast_fingerprint(index.nodes[key]), _same) for key in keys]
        for kind, message in _pass(
            lambda e: apply_edits(module, e, {}, index.counts, inside), edits, code
        ):
            if kind == DRIFT:
                drifts.append(f"{label}: MappingDrift: {message}")
            else:
                failures.append(Failure(kind, name, f"{label}: {message}"))
    if drifts:
        lines = [*drifts, *_divergences(module, index, source)]
        failures.append(Failure(DRIFT, name, "\n    ".join(lines)))
    return failures


def _limitation(name: str, raw: bytes, what: str) -> list[Failure]:
    """LibCST cannot parse, regenerate or exactly reproduce this (valid) file. That is
    acceptable only if the tool, asked to rewrite it, refuses with a clear message and leaves
    it byte-identical: checked here on a copy with a GPT2 id appended."""
    from migrator.models import ModelMap
    from migrator.registry import rule_ids
    from migrator.runner import RunOptions, process_file

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "test_copy.py"
        data = raw + (b"" if raw.endswith(b"\n") else b"\n") + b'MODEL = "gpt2"\n'
        copy.write_bytes(data)
        options = RunOptions(ModelMap.build(), tuple(rule_ids()), write=True)
        result = process_file(copy, options)
        intact = copy.read_bytes() == data
    if result.status.value == "error" and "Traceback" not in (result.error or "") and intact:
        return [Failure(LIMIT, name, f"{what}\n    tool: {result.error}")]
    return [Failure(CRASH, name, f"{what}\n    tool did not refuse cleanly: {result.error}")]


def _pass(
    apply: Callable[[list[Edit]], tuple[cst.Module, int]], edits: list[Edit], code: str
) -> list[tuple[str, str]]:
    """(failure kind, message) of one ``apply_edits``; identity edits must leave ``code``."""
    try:
        new, _ = apply(edits)
        same = new.code == code
    except MappingDrift as exc:
        return [(DRIFT, str(exc))]
    except Exception as exc:
        return [(CRASH, f"{type(exc).__name__}: {exc}")]
    return [] if same else [(CRASH, "apply_edits changed the code")]


def _first_diff(source: Source, code: str) -> str:
    lines = difflib.unified_diff(source.text.splitlines(True), code.splitlines(True), n=0)
    return "".join(f"    {line}" for line in list(lines)[2:5])


class _Positions(cst.CSTVisitor):
    """Indexed nodes in the order ``EditApplier`` numbers them, with positions and fingerprints."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[tuple[int, int, str]]] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = cst_kind(node)
        if kind is not None:
            start = self.get_metadata(PositionProvider, node).start
            item = (start.line, start.column, _short(cst_fingerprint(node)))
            self.found.setdefault(kind, []).append(item)
        return not isinstance(node, (cst.FormattedString, cst.ConcatenatedString))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def _divergences(module: cst.Module, index: AstIndex, source: Source) -> list[str]:
    """For each kind, where the ast and LibCST sequences first disagree (line or fingerprint)."""
    visitor = _Positions()
    MetadataWrapper(module).visit(visitor)
    ast_sides: dict[str, list[tuple[int, int, str]]] = {}
    for (kind, _ordinal), node in sorted(index.nodes.items()):
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        item = (line, source.char_col(line, col), _short(ast_fingerprint(node)))
        ast_sides.setdefault(kind, []).append(item)
    out = []
    for kind in sorted(set(ast_sides) | set(visitor.found)):
        ast_side, cst_side = ast_sides.get(kind, []), visitor.found.get(kind, [])
        for ordinal in range(max(len(ast_side), len(cst_side))):
            a = ast_side[ordinal] if ordinal < len(ast_side) else None
            c = cst_side[ordinal] if ordinal < len(cst_side) else None
            if a is None or c is None or a[0] != c[0] or a[2] != c[2]:
                out.append(
                    f"first divergence, {kind} #{ordinal} (ast has {len(ast_side)}, "
                    f"cst {len(cst_side)}): ast {_at(a, source)} | cst {_at(c, source)}"
                )
                break
    return out


def _at(item: tuple[int, int, str] | None, source: Source) -> str:
    if item is None:
        return "<none>"
    line, col, fingerprint = item
    text = source.lines[line - 1].strip() if 0 < line <= len(source.lines) else ""
    return f"{line}:{col} {fingerprint} `{text[:80]}`"


def run_bridge(files: list[Item], report: Report) -> list[BridgeResult]:
    # Largest first, so that no big file starts last and leaves one worker idle.
    names = sorted((str(item.path) for item in files), key=lambda n: -os.path.getsize(n))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(check_bridge, names, chunksize=4))
    report.bridge_seconds = time.perf_counter() - start
    for result in results:
        report.failures.extend(result.failures)
    return results


# -- the tool, as users run it ---------------------------------------------------------------


def tool() -> str:
    """The installed ``migrate-tests`` console script next to this interpreter."""
    found = shutil.which("migrate-tests", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("migrate-tests is not installed next to this interpreter")
    return found


def _cli(cwd: Path, files: list[str], mode: str) -> tuple[int, dict[str, Any] | None, str]:
    """One run over ``files`` (relative to ``cwd``, named explicitly so that discovery's default
    excludes, e.g. directories called ``build``, drop none of them)."""
    proc = subprocess.run(
        [tool(), mode, "-q", "--format", "json", "-j", str(WORKERS), "--", *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=900,
        check=False,
    )
    try:
        data: dict[str, Any] | None = json.loads(proc.stdout)
    except json.JSONDecodeError:
        data = None
    return proc.returncode, data, proc.stderr


def run_tool(files: list[Item], report: Report) -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="migrate-tests-robustness-") as tmp:
        work = Path(tmp)
        # No pyproject.toml above the copy: the run uses the default configuration.
        originals: dict[str, Path] = {}
        for item in files:
            dest = Path(_slug(item.label)) / item.rel
            target = work / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item.path, target)
            target.chmod(0o644)
            originals[dest.as_posix()] = item.path
        names = sorted(originals)
        before = {rel: (work / rel).read_bytes() for rel in names}

        errors: dict[tuple[str, str], list[str]] = {}  # (file, error) -> the runs that hit it
        code, check, err = _cli(work, names, "--check")
        _tool_errors("--check", code, check, err, errors)
        code, applied, err = _cli(work, names, "--apply")
        _tool_errors("--apply", code, applied, err, errors)
        reported = {f["path"]: f for f in (applied or {}).get("files", [])}
        for rel in names:
            after = (work / rel).read_bytes()
            entry = reported.get(rel)
            if after == before[rel] and not (entry and entry["changed"]):
                continue
            _changed(rel, originals[rel], before[rel], after, entry, report)
        code, again, err = _cli(work, names, "--check")
        _tool_errors("--check again", code, again, err, errors)
        # Exit 2 means files the tool could not process, reported above as crashes; exit 1 or
        # a file it would still change means --apply's output is not a fixed point.
        pending = [f["path"] for f in (again or {}).get("files", []) if f["changed"]]
        for rel in pending or (["<run>"] if code == 1 else []):
            report.failures.append(
                Failure(IDEMPOTENCE, str(originals.get(rel, rel)), "--check after --apply exit 1")
            )
    for (rel, error), steps in errors.items():
        if error.startswith(LIBCST_REFUSALS) and "Traceback" not in error:
            kind = LIMIT  # the tool's clean refusal of a file LibCST cannot round-trip
        elif "ParserSyntaxError" in error or "syntax error" in error:
            kind = PARSE
        else:
            kind = CRASH
        path = str(originals.get(rel, rel))
        report.failures.append(Failure(kind, path, f"{', '.join(steps)}: {error}"))
    report.tool_seconds = time.perf_counter() - start


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label).strip("_") or "root"


def _tool_errors(
    step: str,
    code: int,
    data: dict[str, Any] | None,
    err: str,
    errors: dict[tuple[str, str], list[str]],
) -> None:
    entries = [f for f in (data or {}).get("files", []) if f["status"] == "error"]
    if data is None or (code not in (0, 1) and not entries):
        errors.setdefault((f"<{step} run>", f"exit {code}, stderr:\n{err[-3000:]}"), []).append(
            step
        )
    for entry in entries:
        errors.setdefault((entry["path"], _condense(entry["error"] or "")), []).append(step)


def _condense(error: str) -> str:
    """A traceback cut to its headline, the innermost engine and library frames, and the error."""
    lines = error.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    if not frames:
        return error
    end = frames[-1] + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    ours = [i for i in frames if "/migrator/" in lines[i] or "/rules/" in lines[i]]
    kept = [lines[i].strip() for i in dict.fromkeys([*ours[-1:], frames[-1]])]
    return "\n".join([lines[0], *(f"  at {frame}" for frame in kept), *lines[end:]])


def _changed(
    rel: str, original: Path, old: bytes, new: bytes, entry: dict[str, Any] | None, report: Report
) -> None:
    path = str(original)
    findings = tuple(
        f"{f['line']}:{f['col']} {f['rule']} ({f['safety']}{', fixed' if f['fixed'] else ''}): "
        f"{f['message']}"
        for f in (entry or {}).get("findings", [])
    )
    if entry is None or not entry["changed"]:
        report.failures.append(Failure(CRASH, path, "the file was rewritten but not reported"))
    elif old == new:
        report.failures.append(Failure(CRASH, path, "reported as changed, bytes are the same"))
    try:
        ast.parse(new)
    except (SyntaxError, ValueError) as exc:
        report.failures.append(Failure(PARSE, path, f"the rewritten file does not parse: {exc}"))
    lines = list(
        difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(keepends=True),
            new.decode("utf-8", "replace").splitlines(keepends=True),
            f"a/{rel}",
            f"b/{rel}",
        )
    )
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more diff lines\n"]
    report.changed.append(Changed(path, findings, "".join(lines)))


# -- driver ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, help="check N files spread over the sorted list")
    parser.add_argument("--every", type=int, default=1, help="check every K-th file only")
    parser.add_argument("roots", nargs="*", type=Path, help="default: stdlib and site-packages")
    args = parser.parse_args(argv)
    roots = [Root(str(p), p) for p in args.roots] if args.roots else default_roots()

    report = Report()
    files = spread(collect(roots, report)[:: max(1, args.every)], args.limit)
    results = run_bridge(files, report)
    valid = {r.path for r in results if r.valid}
    report.not_valid = sorted(r.path for r in results if not r.valid)
    checked = [item for item in files if str(item.path) in valid]
    report.files = len(checked)
    report.by_root = {root.label: 0 for root in roots}
    for item in checked:
        report.by_root[item.label] += 1
    run_tool(checked, report)
    _print(report)
    return report


def _print(report: Report) -> None:
    out = sys.stdout
    rate = report.files / report.bridge_seconds if report.bridge_seconds else 0.0
    out.write(
        f"skipped: {len(report.not_valid)} not valid Python for this interpreter, "
        f"{report.too_large} over {MAX_BYTES} bytes\n"
    )
    out.writelines(f"    {name}\n" for name in report.not_valid)
    out.write(
        f"bridge: {report.files} files in {report.bridge_seconds:.1f} s "
        f"({rate:.1f} files/s, {WORKERS} workers); "
        f"tool (3 runs + copy): {report.tool_seconds:.1f} s\n"
    )
    for kind in KINDS:
        failures = sorted((f for f in report.failures if f.kind == kind), key=lambda f: f.path)
        if failures:
            out.write(f"\n== {kind}: {len(failures)}\n")
            for failure in failures:
                detail = failure.detail.rstrip().replace("\n", "\n    ")
                out.write(f"{failure.path}\n    {detail}\n")
    if report.changed:
        out.write(f"\n== changed files (almost surely false positives): {len(report.changed)}\n")
        for changed in sorted(report.changed, key=lambda c: c.path):
            out.write(f"{changed.path}\n")
            for finding in changed.findings:
                out.write(f"    {finding}\n")
            out.write(changed.diff)
    out.write(report.summary() + "\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(0 if main().ok else 1)
