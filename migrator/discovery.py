"""Paths, directories and globs in; a sorted, de-duplicated list of files out.

No parsing happens here. Directories are walked for ``*.py`` and the documents test suites and
CI read (``migrator/documents.py``: YAML, JSON, TOML, ``.cfg``/``.ini``, shell scripts,
Markdown, reST) minus the default excludes, the configured ``exclude`` globs and (inside a git
work tree) files git ignores. Documents in hidden folders (``.github/``) are walked only when
the path given is inside one. Files named explicitly are always processed unless
``force_exclude`` is set, as pre-commit needs.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrator.documents import kind_of

DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".eggs",
        "build",
        "dist",
        "site-packages",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
GLOB_CHARS = frozenset("*?[")
TEMP_MARK = ".migrate-tests-"
# ".<file name>.migrate-tests-<pid>-<random>.tmp": written by write_atomic, never a source file.
TEMP_FILE = re.compile(r"^\..+\.migrate-tests-(\d+)-[^/]*\.tmp$")


class DiscoveryError(Exception):
    """A path argument names nothing; the message says which."""


@dataclass(frozen=True)
class Discovery:
    files: list[Path]
    excluded: int
    temp_files: list[Path]  # left by an interrupted --apply (see runner.clean_temp_files)
    # Directories that could not be listed (permission denied...), with the reason: their
    # files were not checked, which the user must hear about.
    unlisted: list[tuple[Path, str]] = field(default_factory=list)


def discover(
    paths: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    root: Path | None = None,
    force_exclude: bool = False,
) -> Discovery:
    root = (root or Path.cwd()).resolve()
    if not paths:
        paths = ["tests"] if Path("tests").is_dir() else ["."]
    explicit: list[Path] = []
    walked: list[Path] = []
    unlisted: list[tuple[Path, str]] = []
    for arg in paths:
        if os.path.lexists(arg):
            (
                walked.extend(_walk(Path(arg), exclude, root, unlisted))
                if Path(arg).is_dir()
                else explicit.append(Path(arg))
            )
            continue
        if GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise DiscoveryError(f"no files match the pattern {arg!r}")
            for match in matches:
                path = Path(match)
                if path.is_dir():
                    walked.extend(_walk(path, exclude, root, unlisted))
                elif match.endswith(".py") or kind_of(path) is not None:
                    explicit.append(path)
            continue
        raise DiscoveryError(f"path does not exist: {arg}")
    if force_exclude:
        explicit = [p for p in explicit if not _excluded(p, exclude, root)]
    candidates = explicit + walked
    unreadable = [folder for folder, _ in unlisted]
    ignored = _git_ignored(walked + unreadable + (explicit if force_exclude else []))
    unlisted = [(folder, why) for folder, why in unlisted if folder not in ignored]
    # One entry per real file: a symlink next to its target must not be migrated twice.
    seen: dict[str, Path] = {}
    for path in candidates:
        if path not in ignored:
            seen.setdefault(_real(path), path)
    files = sorted(seen.values(), key=lambda p: p.as_posix())
    folders = {p.parent for p in files}
    temps = sorted(
        {d / name for d in folders for name in _listdir(d) if TEMP_FILE.match(name)},
        key=lambda p: p.as_posix(),
    )
    return Discovery(files, len(candidates) - len(files), temps, sorted(unlisted))


def _listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _walk(
    top: Path, exclude: Sequence[str], root: Path, unlisted: list[tuple[Path, str]]
) -> Iterable[Path]:
    def failed(exc: OSError) -> None:
        unlisted.append((Path(exc.filename or top), exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(top, onerror=failed):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in DEFAULT_EXCLUDED_DIRS
            and not d.endswith(".egg-info")
            and not _is_venv(here / d)
            and not _excluded(here / d, exclude, root)
        )
        hidden = any(p.startswith(".") for p in here.relative_to(top).parts)
        for name in sorted(filenames):
            if TEMP_MARK in name:
                continue
            if name.endswith(".py") or (not hidden and kind_of(Path(name)) is not None):
                path = here / name
                if not _excluded(path, exclude, root):
                    yield path


def _is_venv(folder: Path) -> bool:
    try:
        return (folder / "pyvenv.cfg").exists()
    except OSError:  # cannot look inside: os.walk then reports it as unlisted
        return False


def _real(path: Path) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):  # broken link or loop: the runner reports it
        return os.path.normpath(path)


def _excluded(path: Path, patterns: Sequence[str], root: Path) -> bool:
    try:
        rel = Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    pieces = rel.split("/")
    if any(p in DEFAULT_EXCLUDED_DIRS or p.endswith(".egg-info") for p in pieces[:-1]):
        return True
    candidates = [rel, path.as_posix()] + [
        "/".join(pieces[: i + 1]) for i in range(len(pieces) - 1)
    ]
    return any(fnmatch.fnmatch(c, pat.rstrip("/")) for c in candidates for pat in patterns)


def _git_ignored(paths: list[Path]) -> set[Path]:
    """The subset of ``paths`` git ignores; empty outside a work tree or without git."""
    if not paths or shutil.which("git") is None:
        return set()
    try:
        proc = subprocess.run(
            ["git", "check-ignore", "-z", "--stdin"],
            input="\0".join(str(p) for p in paths).encode(),
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if proc.returncode not in (0, 1):  # 128: not a git work tree
        return set()
    names = set(proc.stdout.decode(errors="surrogateescape").split("\0")) - {""}
    return {p for p in paths if str(p) in names}
