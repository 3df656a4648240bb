"""The engine's promises that no single rule shows (SPEC §6): the parallel run gives exactly
the sequential results, the main process of a parallel run never imports libcst, a run where
no file can match never imports it at all, a failing second stage is recovered, and LibCST's
rare inexact round trips are refused instead of written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrator import parallel, runner
from migrator.core import Status
from migrator.models import ModelMap
from migrator.registry import all_rules

from .helpers import run_cli, run_script

GPT2_TEST = """\
from transformers import AutoModelForCausalLM, AutoTokenizer


class TestLoad:
    def setup_method(self):
        self.tokenizer = AutoTokenizer.from_pretrained("gpt2")
        self.tokenizer.pad_token = self.tokenizer.eos_token

    def test_load(self):
        model = AutoModelForCausalLM.from_pretrained("gpt2")
        assert self.tokenizer.decode([50256]) == "<|endoftext|>"
"""
# Valid Python that LibCST regenerates as ``except ValueError:`` (no space).
INEXACT = """\
from transformers import AutoTokenizer

try:
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
except ValueError :
    tokenizer = None
"""


def mixed_suite(root: Path) -> list[Path]:
    """A dozen files of every outcome: rewrites, reviews, clean, skipped, errors."""
    files = {
        **{
            f"test_trainer_{i}.py": GPT2_TEST.replace("test_load", f"test_load_{i}")
            for i in range(8)
        },
        "test_ready.py": 'from transformers import AutoModel\n\nMODEL = AutoModel.from_pretrained("gpt2")\n',
        "test_clean.py": GPT2_TEST.replace('"gpt2"', '"org/llama-tiny"'),
        "test_kept.py": '# the subject\nfrom transformers.models.gpt2 import GPT2Model\nID = "gpt2"\n',
        "test_skip.py": "# migrate-tests: skip-file\n" + GPT2_TEST,
        "test_syntax.py": 'MODEL = "gpt2"\ndef broken(:\n',
        "test_inexact.py": INEXACT,
    }
    paths = []
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return sorted(paths)


def options(write: bool = False) -> runner.RunOptions:
    ids = tuple(rule.id for rule in all_rules())
    return runner.RunOptions(models=ModelMap.build(), rule_ids=ids, write=write)


def test_parallel_results_equal_sequential_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = mixed_suite(tmp_path)
    sequential = runner.run(files, options(), jobs=1)
    statuses = {r.status for r in sequential}
    assert {Status.READY, Status.REVIEW, Status.CLEAN, Status.SKIPPED, Status.ERROR} <= statuses
    assert runner.run(files, options(), jobs=2) == sequential  # rules run in this process
    monkeypatch.setattr(parallel, "INLINE_ANALYSIS_BYTES", 0)  # rules run on a pool of workers
    assert runner.run(files, options(), jobs=2) == sequential


def test_parallel_run_with_nothing_to_apply(tmp_path: Path) -> None:
    """Files the pre-filter lets through but no rule edits: the applier is not waited for."""
    kept = '# the subject\nfrom transformers.models.gpt2 import GPT2Model\nID = "gpt2"\n'
    files = []
    for i in range(10):
        files.append(tmp_path / f"test_{i}.py")
        files[-1].write_text(kept, encoding="utf-8")
    results = runner.run(files, options(), jobs=2)
    assert results == runner.run(files, options(), jobs=1)
    assert [r.status for r in results] == [Status.CLEAN] * 10
    assert not any(r.changed for r in results)


def test_parallel_apply_writes_what_sequential_apply_writes(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        root.mkdir()
        mixed_suite(root)
    first = run_script("--apply", "-j", "1", "--format", "json", ".", cwd=one)
    second = run_script("--apply", "-j", "2", "--format", "json", ".", cwd=two)
    assert first.code == second.code == 2  # the syntax error and the inexact file
    assert first.stdout == second.stdout
    for path in sorted(one.iterdir()):
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name
    assert (one / "test_trainer_0.py").read_text() != GPT2_TEST.replace("test_load", "test_load_0")
    assert (one / "test_inexact.py").read_text() == INEXACT


def test_a_failed_second_stage_is_redone_in_the_main_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = mixed_suite(tmp_path)
    expected = runner.run(files, options(), jobs=1)

    def dies(*_args: object) -> None:
        os._exit(3)

    monkeypatch.setattr(parallel, "_applier", dies)
    assert runner.run(files, options(), jobs=2) == expected


def _imports_libcst(tmp_path: Path, *args: str) -> tuple[bool, str]:
    """Run the CLI in a fresh interpreter; whether its main process imported libcst."""
    code = (
        "import sys\n"
        "from migrator.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LIBCST', 'libcst' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("LIBCST"), proc.stdout + proc.stderr
    return last == "LIBCST True", proc.stdout


def test_no_libcst_import_when_no_file_can_match(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"test_{i}.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    imported, out = _imports_libcst(tmp_path, "--check", "-j", "2", ".")
    assert not imported
    assert "12 files scanned: 0 would change" in out


def test_main_process_of_a_parallel_run_never_imports_libcst(tmp_path: Path) -> None:
    mixed_suite(tmp_path)
    imported, out = _imports_libcst(tmp_path, "--check", "-j", "2", ".")
    assert not imported
    assert "would change test_trainer_0.py" in out  # yet the files were rewritten (in children)
    imported, _ = _imports_libcst(tmp_path, "--check", "-j", "1", ".")
    assert imported  # one job: everything happens in the one process


@pytest.mark.parametrize("where", ["script", "in-process"])
def test_an_inexact_libcst_round_trip_is_refused(tmp_path: Path, where: str) -> None:
    target = tmp_path / "test_inexact.py"
    target.write_text(INEXACT, encoding="utf-8")
    run = run_script if where == "script" else run_cli
    outcome = run("--apply", "test_inexact.py", cwd=tmp_path)
    assert outcome.code == 2
    assert (
        "test_inexact.py: LibCST does not reproduce this file byte for byte (line 5); "
        "left unchanged: migrate it by hand" in outcome.stderr
    )
    assert target.read_text(encoding="utf-8") == INEXACT


@pytest.mark.parametrize(
    ("name", "data", "line"),
    [
        # A form feed before a statement: LibCST drops it when regenerating.
        ("form_feed", b'from transformers import AutoTokenizer\n\n\x0cMODEL_ID = "gpt2"\n', 3),
        # Old Mac line endings only: LibCST loses the last one.
        (
            "cr_only",
            b'from transformers import AutoTokenizer\r\rtok = AutoTokenizer.from_pretrained("gpt2")\r',
            3,
        ),
    ],
)
def test_inexact_round_trips_on_edited_lines_are_refused(
    tmp_path: Path, name: str, data: bytes, line: int
) -> None:
    """The round trip is checked on the whole file, edited lines included (a line diff
    limited to the unedited lines let these through)."""
    target = tmp_path / f"test_{name}.py"
    target.write_bytes(data)
    outcome = run_script("--apply", target.name, cwd=tmp_path)
    assert outcome.code == 2
    assert f"{target.name}: LibCST does not reproduce this file byte for byte" in outcome.stderr
    if name == "form_feed":
        assert f"byte for byte (line {line})" in outcome.stderr
    assert target.read_bytes() == data


ASCII_FILE = """\
# -*- coding: ascii -*-
from transformers import AutoModelForCausalLM, AutoTokenizer


def test_generate_from_encoded_ids():
    tokenizer = AutoTokenizer.from_pretrained("distilgpt2")
    model = AutoModelForCausalLM.from_pretrained("distilgpt2")
    input_ids = tokenizer.encode("I enjoy walking with my \\u2603", return_tensors="pt")
    greedy = model.generate(input_ids, max_length=12)
    assert greedy.shape[0] == 1
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rewrite_the_file_encoding_cannot_hold_is_an_error_for_that_file(
    tmp_path: Path, jobs: str
) -> None:
    """The review marker quotes the decoded text (a snowman); the file is declared ascii."""
    (tmp_path / "test_ascii.py").write_text(ASCII_FILE, encoding="ascii")
    paths = mixed_suite(tmp_path)
    outcome = run_script("--check", "-j", jobs, ".", cwd=tmp_path)
    assert outcome.code == 2
    assert "Traceback" not in outcome.stderr
    assert (
        "test_ascii.py: the rewrite needs '\u2603' (line 8), which the file's encoding 'ascii' "
        "cannot represent; left unchanged: migrate it by hand" in outcome.stderr
    ), outcome.stderr
    assert "would change test_trainer_0.py" in outcome.stdout  # the other files still ran
    assert len(paths) > 8


def test_pool_workers_die_at_once_when_terminated() -> None:
    """A pool worker inherits the applier's SIGTERM handler (SystemExit); exiting through
    Python while its pool is torn down could wait forever on a shared queue (it did, about one
    run in twelve on 640 files). Workers reset SIGTERM to die at once, and leave SIGINT to the
    main process."""
    code = (
        "import multiprocessing, os, signal\n"
        "from migrator import parallel\n"
        "signal.signal(signal.SIGTERM, parallel._exit_now)\n"
        "mine, theirs = multiprocessing.Pipe()\n"
        "parallel._worker_start(mine, os.getppid())\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,\n"
        "      signal.getsignal(signal.SIGINT) is signal.SIG_IGN, mine.closed)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.split() == ["True", "True", "True"], proc.stdout + proc.stderr


def test_json_of_a_parallel_run_is_stable(tmp_path: Path) -> None:
    mixed_suite(tmp_path)
    runs = [run_script("--format", "json", ".", cwd=tmp_path) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout
    paths = [f["path"] for f in json.loads(runs[0].stdout)["files"]]
    assert paths == sorted(paths)
