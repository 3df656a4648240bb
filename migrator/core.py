"""Typed values shared by the engine and the rules: safety classes, findings, file results."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Safety(str, enum.Enum):
    """How a finding is handled: rewritten, marked for a human, or only mentioned."""

    FIX = "fix"
    REVIEW = "review"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One thing a rule saw. Positions: 1-based lines, 0-based character columns."""

    rule: str
    safety: Safety
    line: int
    col: int
    end_line: int
    end_col: int
    message: str
    fixed: bool = False
    source_id: str | None = None  # the GPT2 id whose binding this finding decides

    @property
    def decision(self) -> str | None:
        """migrate / keep / review, for findings about a source id's binding."""
        if self.source_id is None:
            return None
        return {Safety.FIX: "migrate", Safety.REVIEW: "review", Safety.INFO: "keep"}[self.safety]

    def as_json(self) -> dict[str, object]:
        extra: dict[str, object] = {}
        if self.source_id is not None:
            extra = {"source_id": self.source_id, "decision": self.decision}
        return {
            "rule": self.rule,
            "safety": self.safety.value,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
            "message": self.message,
            "fixed": self.fixed,
            **extra,
        }


class Status(str, enum.Enum):
    """Where a file stands in the rollout plan."""

    READY = "ready"  # only fixes: safe to apply as is
    REVIEW = "needs-review"  # has review findings (markers to resolve)
    CLEAN = "clean"  # nothing to change
    SKIPPED = "skipped"  # skip-file comment
    ERROR = "error"  # could not be processed


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file; ``new_bytes`` is set only when the file would change."""

    path: str
    status: Status
    findings: tuple[Finding, ...] = ()
    old_text: str = ""
    new_text: str = ""
    new_bytes: bytes | None = None
    error: str | None = None
    suppressed: int = 0
    markers: int = 0
    written: bool = False
    migrations: tuple[tuple[str, str], ...] = ()  # (source id, target id) pairs replaced

    @property
    def changed(self) -> bool:
        return self.new_bytes is not None

    def count(self, safety: Safety) -> int:
        return sum(1 for f in self.findings if f.safety is safety)
