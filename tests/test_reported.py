"""Findings that change no code (info), checked through the JSON report.

Fixture files prove what a rule writes; a rule that only reports leaves its fixture byte for
byte the same, so what it says is checked here, in-process (the CLI's own engine).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .helpers import FIXTURES, run_cli


def findings(path: Path, rule: str) -> list[dict[str, Any]]:
    out = run_cli("--dry-run", "--format", "json", "--select", rule, str(path))
    assert out.code == 0, out.stdout + out.stderr
    [entry] = json.loads(out.stdout)["files"]
    return [f for f in entry["findings"] if f["rule"] == rule]


def test_padding_to_model_max_length_is_reported_where_no_length_is_given() -> None:
    case = FIXTURES / "token-literals" / "noop_padding_to_model_max_length.before.py"
    lines = case.read_text(encoding="utf-8").splitlines()
    found = findings(case, "token-literals")
    assert [(f["safety"], f["fixed"]) for f in found] == [("info", False)]
    [finding] = found
    # The call without max_length, not the one that passes max_length=16.
    assert 'padding="max_length", truncation=True)' in lines[finding["line"] - 1]
    assert "model_max_length" in finding["message"]
    assert "max_length=" in finding["message"]
