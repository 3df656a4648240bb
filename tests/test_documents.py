"""Documents (configs, scripts, prose): every case under fixtures/documents/ becomes a test.

``<case>.before.<ext>`` is migrated with ``--apply``; ``<case>.after.<ext>`` is the expected
result (none: the file must stay byte-identical). Each case also checks that a second run
changes nothing, that CRLF line endings survive, and that JSON/TOML outputs still parse. The
walk, the report and the errors are tested through the CLI in-process and through the
installed console script.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import FIXTURES, Outcome, run_cli, run_script

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Runner = Callable[..., Outcome]
RUNNERS = pytest.mark.parametrize("run", [run_cli, run_script], ids=["in-process", "script"])
TARGET = "HuggingFaceTB/SmolLM2-135M-Instruct"
CASES = sorted(FIXTURES.glob("documents/*.before.*"))


def _after(before: Path) -> Path | None:
    after = before.with_name(before.name.replace(".before.", ".after.", 1))
    return after if after.exists() else None


def _migrate(name: str, data: bytes, tmp_path: Path) -> bytes:
    target = tmp_path / name
    target.write_bytes(data)
    outcome = run_cli("--apply", str(target), cwd=tmp_path)
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    return target.read_bytes()


@pytest.mark.parametrize("before", CASES, ids=[c.name for c in CASES])
def test_document_case(before: Path, tmp_path: Path) -> None:
    after = _after(before)
    expected = after.read_bytes() if after else before.read_bytes()
    if after:
        assert expected != before.read_bytes(), "an .after identical to .before: make it noop_"
    name = before.name.replace(".before.", ".", 1)
    result = _migrate(name, before.read_bytes(), tmp_path)
    assert result.decode() == expected.decode()
    if name.endswith(".json"):
        json.loads(result)
    if name.endswith(".toml"):
        tomllib.loads(result.decode())
    assert _migrate(name, result, tmp_path) == result, "second run changed the file"
    crlf = _migrate(name, before.read_bytes().replace(b"\n", b"\r\n"), tmp_path)
    assert crlf == expected.replace(b"\n", b"\r\n"), "CRLF line endings not preserved"


def _suite(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "config.yaml").write_text("model_name_or_path: gpt2\nrun_name: gpt2\n")
    (root / "tests" / "NOTES.md").write_text("Uses gpt2.\n")
    workflows = root / "tests" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("steps:\n  - run: pytest --model_name_or_path gpt2\n")
    (root / "tests" / "broken.json").write_bytes(b'{"model_id": "gpt2", "x": "\xff"}')


@RUNNERS
def test_walk_report_and_errors(run: Runner, tmp_path: Path) -> None:
    """A folder's documents are walked (hidden folders such as .github/ only when named);
    every format of the report includes them; a file that is not UTF-8 is an error naming
    it, and the run goes on."""
    _suite(tmp_path)
    out = run("--dry-run", "--format", "json", "tests", cwd=tmp_path)
    assert out.code == 2, out.stdout + out.stderr  # an error among the files
    files = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    assert sorted(files) == ["tests/NOTES.md", "tests/broken.json", "tests/config.yaml"]
    config = files["tests/config.yaml"]
    assert (config["status"], config["changed"]) == ("ready", True)
    decisions = [(f["line"], f["decision"]) for f in config["findings"]]
    assert decisions == [(1, "migrate"), (2, "keep")]
    [prose] = files["tests/NOTES.md"]["findings"]
    assert (prose["line"], prose["safety"]) == (1, "info")
    assert files["tests/broken.json"]["status"] == "error"
    assert "not UTF-8" in files["tests/broken.json"]["error"]

    text = run("--dry-run", "tests", cwd=tmp_path)
    assert "tests/broken.json: error: not UTF-8" in text.stdout + text.stderr
    assert f"+model_name_or_path: {TARGET}" in text.stdout

    workflow = run("--apply", "tests/.github", cwd=tmp_path)
    assert workflow.code == 0, workflow.stdout + workflow.stderr
    ci = (tmp_path / "tests" / ".github" / "workflows" / "ci.yml").read_text()
    assert ci == f"steps:\n  - run: pytest --model_name_or_path {TARGET}\n"

    applied = run("--apply", "tests/config.yaml", cwd=tmp_path)
    assert applied.code == 0
    assert (tmp_path / "tests" / "config.yaml").read_text() == (
        f"model_name_or_path: {TARGET}\nrun_name: gpt2\n"
    )
    again = run("--check", "tests/config.yaml", "tests/.github", cwd=tmp_path)
    assert again.code == 0, again.stdout + again.stderr


@RUNNERS
def test_notebook_that_cannot_be_read_is_an_error(run: Runner, tmp_path: Path) -> None:
    """A notebook that is not JSON, or whose code does not parse, is an error naming the file
    and the reason; the other files of the run are still migrated."""
    (tmp_path / "broken.ipynb").write_text('{"cells": [gpt2')
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": ['x = ("gpt2"\n']}
    (tmp_path / "bad_code.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}}))
    (tmp_path / "config.yaml").write_text("model_id: gpt2\n")
    out = run("--apply", "--format", "json", ".", cwd=tmp_path)
    assert out.code == 2, out.stdout + out.stderr
    files = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    assert files["broken.ipynb"]["status"] == "error"
    assert "not valid JSON" in files["broken.ipynb"]["error"]
    assert files["bad_code.ipynb"]["status"] == "error"
    assert files["config.yaml"]["written"] is True
    assert (tmp_path / "broken.ipynb").read_text() == '{"cells": [gpt2'


def test_notebook_markdown_cells_are_reported(tmp_path: Path) -> None:
    """Prose in a notebook's Markdown cells is reported (info, the notebook's line); only the
    code cells change."""
    source = FIXTURES / "documents" / "training_notebook.before.ipynb"
    notebook = tmp_path / "nb.ipynb"
    notebook.write_bytes(source.read_bytes())
    out = run_cli("--dry-run", "--format", "json", str(notebook), cwd=tmp_path)
    assert out.code == 0, out.stdout + out.stderr
    [entry] = json.loads(out.stdout)["files"]
    prose = [f for f in entry["findings"] if "Markdown cell" in f["message"]]
    lines = source.read_text().splitlines()
    assert [f["safety"] for f in prose] == ["info", "info"]
    assert all("gpt2" in lines[f["line"] - 1] for f in prose)
