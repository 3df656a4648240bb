"""The verify stage: baseline, write, re-run, roll back (see ``migrator.verify``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from migrator.core import FileResult, Finding, Safety, Status
from migrator.verify import literals
from migrator.verify import pytest as session
from migrator.writer import ConcurrentChange, write_atomic

RULE = "verify"
# What transformers and huggingface_hub say when a model is neither cached nor reachable.
MISSING_MODEL = re.compile(
    r"couldn't connect to '?https://huggingface\.co|LocalEntryNotFoundError|OfflineModeIsEnabled"
    r"|cannot find the requested files in the (disk )?cache|Can't load (the )?(tokenizer|model|"
    r"config(uration)?) for",
    re.IGNORECASE,
)
QUOTED_ID = re.compile(r"for '([\w.-]+/[\w.-]+)'")


@dataclass(frozen=True)
class VerifyOptions:
    python: str
    timeout: float
    cwd: Path
    update_literals: bool = False
    jobs: int = 1  # pytest sessions side by side, each on a batch of the files


def verify(
    results: list[FileResult], paths: dict[str, Path], opts: VerifyOptions
) -> list[FileResult]:
    """Write the changed files of ``results`` (decided, not yet written), run their tests
    before and after, and restore the files the migration broke. ``paths``: result path ->
    the file on disk."""
    changed = [r for r in results if r.changed and r.status is not Status.ERROR]
    tests = [r for r in changed if r.path.endswith(".py")]
    name = {r.path: _relative(paths[r.path], opts.cwd) for r in tests}
    before = session.run_many(opts.python, list(name.values()), opts.cwd, opts.timeout, opts.jobs)
    out = {r.path: r for r in results}
    originals: dict[str, bytes] = {}
    for result in changed:
        out[result.path] = _write(result, paths[result.path], originals)
    written = [r for r in tests if out[r.path].written]
    after = session.run_many(
        opts.python, [name[r.path] for r in written], opts.cwd, opts.timeout, opts.jobs
    )
    for result in written:
        path = paths[result.path]
        if (
            opts.update_literals
            and after.error_for(name[result.path]) is None
            and after.failures.get(name[result.path])
        ):
            updated = _update(out[result.path], path, name[result.path], opts)
            if any(literals.UPDATED in f.message for f in updated.findings):
                out[result.path] = updated
                continue
            out[result.path] = updated
        out[result.path] = _judge(out[result.path], name[result.path], before, after)
        if out[result.path].status is Status.REVIEW and not out[result.path].written:
            out[result.path] = _restore(out[result.path], path, result.new_bytes, originals)
    return [out[r.path] for r in results]


def _update(result: FileResult, path: Path, name: str, opts: VerifyOptions) -> FileResult:
    runs = tuple(literals.record(opts.python, [name], opts.cwd, opts.timeout) for _ in range(2))
    return literals.update(
        result,
        path,
        (runs[0], runs[1]),
        lambda: session.run(opts.python, [name], opts.cwd, opts.timeout),
        name,
    )


def _judge(
    result: FileResult, name: str, before: session.Outcome, after: session.Outcome
) -> FileResult:
    """The verified, noted or to-be-restored (``written=False``) result of one file."""
    if after.error_for(name) is not None:
        return _noted(result, Safety.REVIEW, f"not verified: {after.error_for(name)}")
    failing = after.failures.get(name, {})
    if not failing:
        count = after.passed.get(name, 0)
        return _noted(result, Safety.INFO, f"verified: {count} test(s) pass on the target")
    old = before.failures.get(name, {}) if before.error_for(name) is None else {}
    new = {test: line for test, line in failing.items() if test not in old}
    if not new:
        tests = ", ".join(sorted(failing))
        message = f"verified: {tests} failed before the migration too (not its doing)"
        return _noted(result, Safety.INFO, message)
    missing = _missing_model(new.values(), result)
    if missing:
        return _noted(result, Safety.INFO, missing)
    detail = "; ".join(f"{test}: {line}" for test, line in sorted(new.items()))
    if before.error_for(name) is not None:
        message = f"fails on the target: {detail} (no baseline: {before.error_for(name)})"
        return _noted(result, Safety.REVIEW, message)
    message = (
        f"needs manual migration: the migration broke {detail}; the file was restored byte for byte"
    )
    noted = _noted(result, Safety.REVIEW, message)
    undone = tuple(_not_applied(f) for f in noted.findings)
    return replace(noted, findings=undone, written=False, new_text=result.old_text, migrations=())


def _not_applied(finding: Finding) -> Finding:
    """A fix of a restored file: reported as what was tried, no longer counted as a fix."""
    if finding.safety is not Safety.FIX:
        return replace(finding, fixed=False)
    message = f"not applied, the file was restored: {finding.message}"
    return replace(finding, safety=Safety.INFO, fixed=False, message=message)


def _missing_model(errors: Iterable[str], result: FileResult) -> str | None:
    """One line for tests that failed because a target is not in the local Hugging Face
    cache (offline, or no network): not the migration's doing, so the file stays migrated."""
    lines = list(errors)
    if not lines or not all(MISSING_MODEL.search(line) for line in lines):
        return None
    named = {m.group(1) for line in lines if (m := QUOTED_ID.search(line))}
    targets = sorted(named or {target for _, target in result.migrations})
    ids = ", ".join(targets) or "a target model"
    fetch = (
        " && ".join(f"huggingface-cli download {t}" for t in targets)
        or "huggingface-cli download <id>"
    )
    return (
        f"not verified: {ids} is not in the local Hugging Face cache (offline, or the hub "
        f"cannot be reached): fetch it with `{fetch}`, then re-run; the file stays migrated"
    )


def _write(result: FileResult, path: Path, originals: dict[str, bytes]) -> FileResult:
    assert result.new_bytes is not None
    try:
        originals[result.path] = path.read_bytes()
        write_atomic(path, originals[result.path], result.new_bytes)
    except (OSError, ConcurrentChange) as exc:
        return FileResult(result.path, Status.ERROR, result.findings, error=str(exc))
    return replace(result, written=True)


def _restore(
    result: FileResult, path: Path, written: bytes | None, originals: dict[str, bytes]
) -> FileResult:
    """Put the original bytes back (only if the file still holds what was written)."""
    assert written is not None
    try:
        write_atomic(path, written, originals[result.path])
    except (OSError, ConcurrentChange) as exc:
        reason = f"tests failed after the migration and the file could not be restored: {exc}"
        return FileResult(result.path, Status.ERROR, result.findings, error=reason)
    return replace(result, new_bytes=None)


def _noted(result: FileResult, safety: Safety, message: str) -> FileResult:
    findings = (*result.findings, Finding(RULE, safety, 1, 0, 1, 0, message))
    status = Status.REVIEW if safety is Safety.REVIEW else result.status
    return replace(result, findings=findings, status=status)


def _relative(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd)
    except ValueError:
        return str(path)
