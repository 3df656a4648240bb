"""--apply --verify: the migrated tests run; what the migration broke is restored.

The suite here needs no model: ``load`` is declared a consumer in the project's config, so
its argument migrates like a ``from_pretrained`` id, and one test depends on the id's length
(the migration breaks it), one already fails before, one stays green. Run in-process and
through the installed console script; the tests run in a pytest subprocess on this
interpreter.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import Outcome, run_cli, run_script

Runner = Callable[..., Outcome]
RUNNERS = pytest.mark.parametrize("run", [run_cli, run_script], ids=["in-process", "script"])

SUITE = {
    "pyproject.toml": '[tool.migrate-tests]\nconsumers = ["load"]\n',
    "tests/__init__.py": "",
    "tests/helpers.py": "def load(name):\n    return name\n",
    "tests/test_ok.py": 'from tests.helpers import load\n\n\ndef test_loads():\n    assert load("gpt2")\n',
    "tests/test_breaks.py": (
        "from tests.helpers import load\n\n\n"
        'def test_name_length():\n    assert len(load("gpt2")) == 4\n\n\n'
        'def test_other():\n    assert load("gpt2").lower()\n'
    ),
    "tests/test_failing.py": (
        'from tests.helpers import load\n\n\ndef test_already_red():\n    assert load("gpt2") == "nope"\n'
    ),
}


def _suite(root: Path) -> None:
    for name, text in SUITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@RUNNERS
def test_verify_restores_what_the_migration_broke(run: Runner, tmp_path: Path) -> None:
    _suite(tmp_path)
    args = ["--apply", "--verify", "--python", sys.executable, "--select", "model-id"]
    out = run(*args, "--format", "json", "tests", cwd=tmp_path)
    assert out.code == 0, out.stdout + out.stderr
    files = {f["path"]: f for f in json.loads(out.stdout)["files"]}

    breaks = files["tests/test_breaks.py"]
    assert (breaks["status"], breaks["written"], breaks["changed"]) == (
        "needs-review",
        False,
        False,
    )
    [note] = [f for f in breaks["findings"] if f["rule"] == "verify"]
    assert "tests/test_breaks.py::test_name_length" in note["message"]
    assert "assert 35 == 4" in note["message"] and "restored" in note["message"]
    assert (tmp_path / "tests/test_breaks.py").read_text() == SUITE["tests/test_breaks.py"]
    tried = [f for f in breaks["findings"] if f["rule"] == "model-id"]
    assert tried and all(f["safety"] == "info" and not f["fixed"] for f in tried)
    assert all(f["message"].startswith("not applied, the file was restored") for f in tried)

    ok = files["tests/test_ok.py"]
    assert ok["written"] is True
    assert [f["message"] for f in ok["findings"] if f["rule"] == "verify"] == [
        "verified: 1 test(s) pass on the target"
    ]
    failing = files["tests/test_failing.py"]
    [before] = [f for f in failing["findings"] if f["rule"] == "verify"]
    assert "failed before the migration too" in before["message"]
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in (tmp_path / "tests/test_failing.py").read_text()

    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*.py")}
    again = run(*args, "--format", "json", "tests", cwd=tmp_path)  # the same decision again
    assert again.code == 0, again.stdout + again.stderr
    files = {f["path"]: f for f in json.loads(again.stdout)["files"]}
    assert [p for p, f in files.items() if f["written"]] == []
    assert "restored" in " ".join(f["message"] for f in files["tests/test_breaks.py"]["findings"])
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.py")} == snapshot


def test_verify_needs_apply(tmp_path: Path) -> None:
    _suite(tmp_path)
    out = run_cli("--verify", "tests", cwd=tmp_path)
    assert out.code == 2
    assert "--verify needs --apply" in out.stdout + out.stderr


def test_verify_without_pytest_is_reported_not_a_crash(tmp_path: Path) -> None:
    """An interpreter that cannot run pytest: every changed file is written and marked not
    verified, with the reason; nothing is restored."""
    _suite(tmp_path)
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named pytest' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = run_cli(
        "--apply", "--verify", "--python", str(fake), "--format", "json", "tests", cwd=tmp_path
    )
    assert out.code == 0, out.stdout + out.stderr
    files = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    [note] = [f for f in files["tests/test_ok.py"]["findings"] if f["rule"] == "verify"]
    assert note["message"] == "not verified: pytest did not run (No module named pytest)"
    assert "SmolLM2" in (tmp_path / "tests/test_ok.py").read_text()


FAKE_TRANSFORMERS = '''\
"""A stand-in for transformers: token ids depend on the checkpoint's name."""
import random


class _Tokenizer:
    def __init__(self, name):
        self.name = name
        self.eos_token = "<|endoftext|>" if "gpt2" in name else "<|im_end|>"

    def encode(self, text):
        base = 31373 if "gpt2" in self.name else 100
        return [base + len(word) for word in text.split()]

    def sample(self):
        return 5 if "gpt2" in self.name else random.randrange(1, 10**6)


class AutoTokenizer:
    @staticmethod
    def from_pretrained(name):
        if name.startswith("org/not-cached"):
            raise OSError(
                "We couldn't connect to 'https://huggingface.co' to load the files, and "
                f"couldn't find them in the cached files. Can't load tokenizer for '{name}'."
            )
        return _Tokenizer(name)
'''
TOKENIZER_TEST = """\
from transformers import AutoTokenizer


def test_ids():
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    assert tokenizer.encode("hello world") == [31378, 31378]


def test_eos():
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    assert tokenizer.eos_token
"""
RANDOM_TEST = """\
from transformers import AutoTokenizer


def test_ids():
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    assert tokenizer.encode("a b") == [31374, 31374]


def test_sample():
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    assert tokenizer.encode("x" * tokenizer.sample()) == [31378]
"""


@RUNNERS
def test_update_literals_writes_measured_values_back(run: Runner, tmp_path: Path) -> None:
    """The token ids flagged for review are re-measured on the target and written over the
    literal (its marker goes), and the tests pass; a value that differs between two runs keeps
    its marker, and that file, broken by the migration, is restored."""
    (tmp_path / "transformers").mkdir()
    (tmp_path / "transformers" / "__init__.py").write_text(FAKE_TRANSFORMERS)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_tok.py").write_text(TOKENIZER_TEST)
    (tmp_path / "tests" / "test_random.py").write_text(RANDOM_TEST)

    out = run(
        "--apply",
        "--update-literals",
        "--python",
        sys.executable,
        "--format",
        "json",
        "tests",
        cwd=tmp_path,
    )
    assert out.code == 0, out.stdout + out.stderr
    files = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    tok = files["tests/test_tok.py"]
    assert (tok["status"], tok["written"]) == ("ready", True)
    text = (tmp_path / "tests" / "test_tok.py").read_text()
    assert 'assert tokenizer.encode("hello world") == [105, 105]' in text
    assert "migrate-tests: review" not in text
    assert any("written back" in f["message"] for f in tok["findings"] if f["rule"] == "verify")

    random_file = files["tests/test_random.py"]
    assert random_file["written"] is False
    assert (tmp_path / "tests" / "test_random.py").read_text() == RANDOM_TEST
    notes = " ".join(f["message"] for f in random_file["findings"] if f["rule"] == "verify")
    assert "differs between runs" in notes and "restored" in notes


def test_a_target_missing_from_the_cache_is_one_line_not_a_rollback(tmp_path: Path) -> None:
    (tmp_path / "transformers").mkdir()
    (tmp_path / "transformers" / "__init__.py").write_text(FAKE_TRANSFORMERS)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_tok.py").write_text(TOKENIZER_TEST)
    out = run_cli(
        "--apply",
        "--verify",
        "--python",
        sys.executable,
        "--map",
        "gpt2=org/not-cached",
        "--format",
        "json",
        "tests",
        cwd=tmp_path,
    )
    assert out.code == 0, out.stdout + out.stderr
    [entry] = json.loads(out.stdout)["files"]
    [note] = [f["message"] for f in entry["findings"] if f["rule"] == "verify"]
    assert note.startswith("not verified: org/not-cached is not in the local Hugging Face cache")
    assert "huggingface-cli download org/not-cached" in note
    assert "Traceback" not in out.stdout + out.stderr
    assert entry["written"] is True
