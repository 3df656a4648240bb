"""Writing files safely: atomic replacement that never clobbers a concurrent edit, and the
clean-up of temp files a killed run left behind. Used by the runner, the document and
notebook paths and the verify stage alike."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from migrator.discovery import TEMP_FILE, TEMP_MARK


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
        current = target.read_bytes()
        if current == data:  # already migrated (a re-run of a plan, a parallel hook run)
            Path(tmp).unlink()
            return
        if current != expected:
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


def os_reason(exc: OSError) -> str:
    """What a user should read about a failed read or write."""
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
