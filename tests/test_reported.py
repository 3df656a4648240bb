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


def test_ids_by_shape_are_reported_with_their_tier() -> None:
    """GPT2-family ids the registry does not list are recognised by their shape and reported
    (info, with the tier and the --map that migrates them); composites, exports, adapters and
    other registries' names for GPT2 are not; a bare "GPT2" counts only given to a loader."""
    case = FIXTURES / "model-id" / "noop_ids_by_shape_are_reported.before.py"
    found = findings(case, "model-id")
    shaped = {f["line"]: f["message"] for f in found if "recognised by its shape" in f["message"]}
    assert sorted(shaped) == [4, 10, 15]
    assert "tiny tier" in shaped[4] and "--map erwanf/gpt2-mini=" in shaped[4]
    assert "real tier" in shaped[10] and "real tier" in shaped[15]
    assert all(f["safety"] == "info" and not f["fixed"] for f in found)


def test_an_id_by_shape_migrates_once_mapped(tmp_path: Path) -> None:
    target = tmp_path / "test_tiny.py"
    target.write_text(
        'from transformers import AutoTokenizer\n\nTOK = AutoTokenizer.from_pretrained("erwanf/gpt2-mini")\n'
    )
    out = run_cli(
        "--apply",
        "--map",
        "erwanf/gpt2-mini=trl-internal-testing/tiny-Qwen2ForCausalLM-2.5",
        str(target),
    )
    assert out.code == 0, out.stdout + out.stderr
    assert '"trl-internal-testing/tiny-Qwen2ForCausalLM-2.5"' in target.read_text()


def test_legacy_models_are_reported_by_default() -> None:
    """Without --include legacy, legacy base test models stay and are reported with the
    target the tier would give them; encoder-decoders are reported only."""
    case = FIXTURES / "model-id" / "noop_legacy_models_reported_by_default.before.py"
    messages = {f["line"]: f["message"] for f in findings(case, "model-id")}
    assert sorted(messages) == [4, 9, 15, 24, 28]
    assert "--include legacy" in messages[9] and "tiny-Qwen2ForCausalLM-2.5" in messages[9]
    assert "SmolLM2-135M-Instruct" in messages[24]
    assert "encoder-decoder" in messages[28] and "--include" not in messages[28]


def test_legacy_sources_from_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.migrate-tests]\nsources = ["gpt2", "legacy"]\n')
    test = tmp_path / "test_opt.py"
    test.write_text(
        'from transformers import AutoTokenizer\n\nTOK = AutoTokenizer.from_pretrained("facebook/opt-125m")\n'
    )
    out = run_cli("--apply", str(test), cwd=tmp_path)
    assert out.code == 0, out.stdout + out.stderr
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in test.read_text()
    (tmp_path / "pyproject.toml").write_text('[tool.migrate-tests]\nsources = ["gpt2", "old"]\n')
    bad = run_cli("--dry-run", str(test), cwd=tmp_path)
    assert bad.code == 2
    assert "sources: unknown source set 'old'" in bad.stdout + bad.stderr
