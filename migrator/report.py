"""Everything the user reads: per-file diffs and findings, the summary, the rollout plan.

The only module that touches rich (imported lazily: a ``--check`` run in a hook never pays for
it). Plain text is used when stdout is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from migrator import __version__
from migrator.core import FileResult, Finding, Safety, Status
from migrator.models import LARGE_TARGET_MILLIONS, ModelMap, params_of

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReportOptions:
    mode: str  # "dry-run" | "apply" | "check"
    fmt: str  # "rich" | "text" | "json" | "markdown" | "github"
    quiet: bool = False
    verbose: bool = False
    replay: tuple[str, ...] = ()  # options to repeat in the suggested --apply command


def unified_diff(result: FileResult) -> str:
    """A unified diff with a/ b/ prefixes that ``git apply`` accepts (CRLF and no-EOL kept)."""
    import difflib

    old = _LINES.findall(result.old_text)
    new = _LINES.findall(result.new_text)
    out = []
    # git's a/ b/ prefixes on relative paths (``git apply`` takes the diff); an absolute
    # path (outside the working directory) is shown as it is, as ``diff -u`` does.
    absolute = result.path.startswith("/")
    before, after = (result.path,) * 2 if absolute else (f"a/{result.path}", f"b/{result.path}")
    for line in difflib.unified_diff(old, new, before, after):
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _counts(result: FileResult) -> str:
    parts = []
    fixes = result.count(Safety.FIX)
    reviews = result.count(Safety.REVIEW)
    if fixes:
        parts.append(f"{fixes} fix{'es' if fixes != 1 else ''}")
    if reviews:
        parts.append(f"{reviews} for review")
    if result.markers:
        parts.append(f"{result.markers} marker{'s' if result.markers != 1 else ''} added")
    if result.suppressed:
        parts.append(f"{result.suppressed} suppressed")
    return ", ".join(parts) or "nothing to change"


def _finding_line(f: Finding) -> str:
    return f"  {f.safety.value:<6} {f.line}:{f.col:<4} {f.rule:<14} {f.message}"


# -- text (rich or plain) ------------------------------------------------------------------


class _Out:
    """Writes plain text, or styled text through rich when the terminal wants colour."""

    def __init__(self, stream: IO[str], styled: bool) -> None:
        self.stream = stream
        self.console: Any = None
        if styled:
            from rich.console import Console

            self.console = Console(file=stream, highlight=False, soft_wrap=True)

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            self.stream.write(text + "\n")

    def diff(self, text: str) -> None:
        if self.console is not None:
            from rich.syntax import Syntax

            self.console.print(
                Syntax(text.rstrip("\n"), "diff", theme="ansi_dark", word_wrap=False)
            )
        else:
            self.stream.write(text)


def render(
    results: Sequence[FileResult], models: ModelMap, opts: ReportOptions, out: IO[str]
) -> None:
    if opts.fmt == "json":
        json.dump(as_json(results, models, opts), out, indent=2)
        out.write("\n")
    elif opts.fmt == "markdown":
        out.write(as_markdown(results, models, opts))
    elif opts.fmt == "github":
        out.write(as_github(results))
    else:
        _text(results, models, opts, _Out(out, styled=opts.fmt == "rich"))


def _text(results: Sequence[FileResult], models: ModelMap, opts: ReportOptions, out: _Out) -> None:
    for result in results:
        if not opts.quiet:
            _text_file(result, opts, out)
        elif result.changed:  # a hook run still has to say which files it touched
            verb = "fixed" if result.written else "would change"
            out.line(f"{verb} {result.path}: {_counts(result)}")
    _text_summary(results, models, opts, out)


def _text_file(result: FileResult, opts: ReportOptions, out: _Out) -> None:
    if result.status is Status.ERROR:
        out.line(f"{result.path}: error: {result.error}", "bold red")
        return
    # Fixes are in the diff; notes (info) matter while planning (dry-run), not in a hook run.
    hidden = {Safety.FIX} if opts.mode == "dry-run" else {Safety.FIX, Safety.INFO}
    shown = [f for f in result.findings if opts.verbose or f.safety not in hidden]
    if not result.changed and not shown and not opts.verbose:
        return
    if result.status is Status.SKIPPED:
        out.line(f"{result.path}: skipped ({result.error})", "dim")
        return
    verb = {"apply": "fixed" if result.written else "", "check": "would change"}.get(opts.mode, "")
    header = f"{verb + ' ' if verb and result.changed else ''}{result.path}: {_counts(result)}"
    out.line(header, "bold")
    if opts.mode == "dry-run" and result.changed:
        out.diff(unified_diff(result))
    for finding in shown:
        style = {"review": "yellow", "info": "dim", "fix": "green"}[finding.safety.value]
        out.line(_finding_line(finding), style)


def _by_status(results: Sequence[FileResult]) -> dict[Status, list[FileResult]]:
    groups: dict[Status, list[FileResult]] = {status: [] for status in Status}
    for result in results:
        groups[result.status].append(result)
    return groups


def footprint(results: Sequence[FileResult], models: ModelMap) -> list[str]:
    """What the migration does to the suite's model sizes, plus a warning for large targets."""
    files: Counter[tuple[str, str]] = Counter()
    for result in results:
        for pair in result.migrations:
            files[pair] += 1
    lines = []
    for (source, target), count in sorted(files.items()):
        lines.append(
            f"{source} ({_size(params_of(source, models.custom_facts))}) -> "
            f"{target} ({_size(params_of(target, models.custom_facts))}) in "
            f"{count} file{'s' if count != 1 else ''}"
        )
    for target in sorted({t for _, t in files}):
        size = params_of(target, models.custom_facts)
        if size is not None and size > LARGE_TARGET_MILLIONS:
            lines.append(
                f"warning: {target} has ~{size:.0f}M parameters: CI machines may run out of "
                "memory; prefer a tiny random instruct model (e.g. "
                "trl-internal-testing/tiny-Qwen2ForCausalLM-2.5) for tests"
            )
    return lines


def _size(millions: float | None) -> str:
    if millions is None:
        return "size unknown"
    return "tiny" if millions < 1 else f"{millions:.0f}M" if millions >= 10 else f"{millions:.1f}M"


def rollout(results: Sequence[FileResult], opts: ReportOptions) -> list[str]:
    groups = _by_status(results)
    lines = []
    verified = [r.path for r in groups[Status.READY] if _verified(r)]
    ready = [r.path for r in groups[Status.READY] if not _verified(r)]
    review = [r.path for r in groups[Status.REVIEW]]
    if verified:
        lines.append(f"verified ({len(verified)}): applied; their tests pass on the target")
        lines.extend(f"    {path}" for path in verified)
    if ready and any(f.rule == "verify" for r in results for f in r.findings):
        lines.append(f"ready, not verified ({len(ready)}): applied (no tests of theirs ran)")
        lines.extend(f"    {path}" for path in ready)
        ready = []
    if ready:
        done = opts.mode == "apply"
        lines.append(
            f"ready ({len(ready)}): "
            + (
                "applied."
                if done
                else shlex.join(["migrate-tests", "--apply", *opts.replay, *ready])
            )
        )
    if review:
        todo = [r.path for r in groups[Status.REVIEW] if r.changed]
        apply_first = bool(todo) and opts.mode != "apply"
        lines.append(
            f"needs review ({len(review)}): "
            + (shlex.join(["migrate-tests", "--apply", *opts.replay, *todo]) if apply_first else "")
        )
        lines.append(
            "    then resolve each '# migrate-tests: review(<rule>)' marker: fix the code, then "
            "delete the marker (or replace it with '# migrate-tests: ignore[<rule>]'); list them "
            "with: " + shlex.join(["grep", "-n", "migrate-tests: review", *review])
        )
        if not apply_first:
            lines.extend(f"    {path}" for path in review)
    if groups[Status.ERROR]:
        lines.append(f"errors ({len(groups[Status.ERROR])}): fix the reason given above and re-run")
        lines.extend(f"    {r.path}" for r in groups[Status.ERROR])
    lines.append(f"clean ({len(groups[Status.CLEAN])}): nothing to do")
    if opts.verbose:
        lines.extend(f"    {r.path}" for r in groups[Status.CLEAN])
    if groups[Status.SKIPPED]:
        lines.append(f"skipped ({len(groups[Status.SKIPPED])}): '# migrate-tests: skip-file'")
    return lines


def _verified(result: FileResult) -> bool:
    return any(f.rule == "verify" and f.message.startswith("verified") for f in result.findings)


def rule_counts(results: Sequence[FileResult]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        for f in result.findings:
            row = counts.setdefault(f.rule, {"fix": 0, "review": 0, "info": 0})
            row[f.safety.value] += 1
    return dict(sorted(counts.items()))


def _text_summary(
    results: Sequence[FileResult], models: ModelMap, opts: ReportOptions, out: _Out
) -> None:
    groups = _by_status(results)
    changed = sum(1 for r in results if r.changed)
    verb = {"apply": "changed", "check": "would change", "dry-run": "would change"}[opts.mode]
    suppressed = sum(r.suppressed for r in results)
    markers = sum(r.markers for r in results)
    if opts.quiet:
        out.line(f"{len(results)} files: {changed} {verb}, {len(groups[Status.ERROR])} errors")
        return
    out.line()
    out.line("Summary", "bold underline")
    out.line(
        f"  {len(results)} files scanned: {changed} {verb}, {len(groups[Status.REVIEW])} need review, "
        f"{len(groups[Status.ERROR])} errors, {len(groups[Status.SKIPPED])} skipped"
    )
    for rule, row in rule_counts(results).items():
        out.line(
            f"  {rule:<18} {row['fix']:>4} fixes {row['review']:>4} review {row['info']:>4} info"
        )
    if markers:
        out.line(f"  review markers {'added' if opts.mode == 'apply' else 'to add'}: {markers}")
    if suppressed:
        out.line(f"  suppressed by '# migrate-tests: ignore' comments: {suppressed}")
    for line in footprint(results, models):
        out.line(f"  {line}", "yellow" if line.startswith("warning") else None)
    out.line()
    out.line("Rollout plan", "bold underline")
    for line in rollout(results, opts):
        out.line(f"  {line}")


# -- machine formats -----------------------------------------------------------------------


def as_json(results: Sequence[FileResult], models: ModelMap, opts: ReportOptions) -> dict[str, Any]:
    groups = _by_status(results)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": "migrate-tests",
        "version": __version__,
        "mode": opts.mode,
        "files": [
            {
                "path": r.path,
                "status": r.status.value,
                "changed": r.changed,
                "written": r.written,
                "findings": [f.as_json() for f in r.findings],
                "suppressed": r.suppressed,
                "markers_added": r.markers,
                "error": r.error if r.status is Status.ERROR else None,
                "skip_reason": r.error if r.status is Status.SKIPPED else None,
            }
            for r in results
        ],
        "summary": {
            "files": len(results),
            "changed": sum(1 for r in results if r.changed),
            "by_status": {status.value: len(items) for status, items in groups.items()},
            "by_rule": rule_counts(results),
            "suppressed": sum(r.suppressed for r in results),
            "footprint": footprint(results, models),
        },
    }


def as_markdown(results: Sequence[FileResult], models: ModelMap, opts: ReportOptions) -> str:
    lines = ["## migrate-tests report", ""]
    lines += ["| file | status | fixes | review | info |", "| --- | --- | ---: | ---: | ---: |"]
    for r in results:
        if r.findings or r.changed or r.error:
            lines.append(
                f"| `{r.path}` | {r.status.value} | {r.count(Safety.FIX)} | "
                f"{r.count(Safety.REVIEW)} | {r.count(Safety.INFO)} |"
            )
    for r in results:
        if not (r.changed or r.error or any(f.safety is Safety.REVIEW for f in r.findings)):
            continue
        lines += ["", f"<details><summary><code>{r.path}</code>: {_counts(r)}</summary>", ""]
        if r.error:
            lines.append(f"Error: {r.error}")
        if r.changed:
            lines += ["```diff", unified_diff(r).rstrip("\n"), "```"]
        for f in r.findings:
            if f.safety is not Safety.FIX:
                lines.append(f"- line {f.line}: `{f.rule}` ({f.safety.value}): {f.message}")
        lines += ["", "</details>"]
    lines += ["", "### Rollout plan", ""]
    lines += [f"- {line.strip()}" for line in rollout(results, opts)]
    extra = footprint(results, models)
    if extra:
        lines += ["", "### Model footprint", ""] + [f"- {line}" for line in extra]
    return "\n".join(lines) + "\n"


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def as_github(results: Sequence[FileResult]) -> str:
    lines = []
    for r in results:
        if r.error and r.status is Status.ERROR:
            lines.append(f"::error file={r.path},title=migrate-tests::{_gh_escape(r.error)}")
        for f in r.findings:
            level = "notice" if f.safety is Safety.INFO else "warning"
            lines.append(
                f"::{level} file={r.path},line={f.line},col={f.col + 1},endLine={f.end_line},"
                f"endColumn={f.end_col + 1},title=migrate-tests ({f.rule})::{_gh_escape(f.message)}"
            )
    return "".join(line + "\n" for line in lines)


# -- stderr --------------------------------------------------------------------------------


def error(message: str) -> None:
    sys.stderr.write(f"migrate-tests: error: {message}\n")


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


@contextmanager
def progress(total: int, enabled: bool) -> Iterator[Any]:
    """A progress bar on stderr, or a no-op callable when it should not be shown."""
    if not enabled:
        yield lambda _result: None
        return
    from rich.console import Console
    from rich.progress import Progress

    # No refresh thread: workers are forked, and forking a threaded process can deadlock.
    with Progress(console=Console(file=sys.stderr), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("migrating", total=total)

        def advance(_result: object) -> None:
            bar.advance(task)
            bar.refresh()

        yield advance
