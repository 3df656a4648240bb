"""The command line as users, CI and pre-commit drive it (SPEC §2, §5, §6).

Every test builds its own small suite under ``tmp_path``. In-process runs go through
``run_cli`` (click's CliRunner); bad-input cases go through the installed console script in a
subprocess (``run_script``), exactly as a user or a hook would run them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pty
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migrator.registry import all_rules

from .helpers import Outcome, run_cli, run_script, script

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TINY_QWEN = "trl-internal-testing/tiny-Qwen2ForCausalLM-2.5"
QWEN_05B = "Qwen/Qwen2.5-0.5B-Instruct"
TINY_LLAMA = "trl-internal-testing/tiny-LlamaForCausalLM-3.2"

GPT2_TEST = """\
from transformers import AutoModelForCausalLM

MODEL = "gpt2"


def test_load():
    model = AutoModelForCausalLM.from_pretrained(MODEL)
    assert model is not None
"""
GPT2_TEST_MIGRATED = GPT2_TEST.replace('"gpt2"', f'"{SMOL}"')

GPT2_CLASSES_TEST = """\
from transformers import GPT2LMHeadModel


def test_load():
    model = GPT2LMHeadModel.from_pretrained("gpt2")
    assert model is not None
"""

REVIEW_TEST = """\
from transformers import GPT2Config, GPT2LMHeadModel


def test_from_config():
    model = GPT2LMHeadModel(GPT2Config(n_layer=2))
    other = GPT2LMHeadModel.from_pretrained("gpt2")
    assert model is not other
"""

CLEAN_TEST = """\
def test_arithmetic():
    assert 1 + 1 == 2
"""

SYNTAX_ERROR_TEST = """\
MODEL = "gpt2"


def test_broken(:
    pass
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STATUSES = {"ready", "needs-review", "clean", "skipped", "error"}
MARKER = "# migrate-tests: review("


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def swap(data: bytes, old: str = "gpt2", new: str = SMOL) -> bytes:
    """``data`` with the string literal ``"old"`` replaced by ``"new"`` (bytes untouched otherwise)."""
    return data.replace(f'"{old}"'.encode(), f'"{new}"'.encode())


def report_json(outcome: Outcome) -> dict[str, Any]:
    assert outcome.stdout.strip(), f"no JSON on stdout; stderr: {outcome.stderr}"
    data: dict[str, Any] = json.loads(outcome.stdout)
    return data


def by_path(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in data["files"]}


def make_old(path: Path) -> int:
    """Give ``path`` an old mtime so that any rewrite is visible; return it (ns)."""
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return path.stat().st_mtime_ns


def run_raw(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The console script with byte-exact output and an environment we fully control."""
    base = {
        k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "PRE_COMMIT"}
    }
    return subprocess.run(
        [script(), *args],
        cwd=cwd,
        capture_output=True,
        env={**base, **(env or {})},
        timeout=300,
        check=False,
    )


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def git_init(path: Path) -> None:
    proc = git("init", "-q", cwd=path)
    assert proc.returncode == 0, proc.stderr
    git("config", "core.autocrlf", "false", cwd=path)


# -- modes -----------------------------------------------------------------------------------


def test_default_dry_run_writes_nothing_and_exits_0(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    mtime = make_old(target)

    out = run_cli("tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()
    assert target.stat().st_mtime_ns == mtime
    assert "tests/test_a.py" in out.stdout
    assert '-MODEL = "gpt2"' in out.stdout
    assert f'+MODEL = "{SMOL}"' in out.stdout


def test_explicit_dry_run_flag_writes_nothing(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    default = run_cli("tests", cwd=tmp_path)
    explicit = run_cli("--dry-run", "tests", cwd=tmp_path)

    assert explicit.code == 0
    assert explicit.stdout == default.stdout
    assert target.read_bytes() == GPT2_TEST.encode()


def test_apply_rewrites_and_exits_0(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    clean = write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)
    clean_mtime = make_old(clean)

    out = run_cli("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert clean.read_bytes() == CLEAN_TEST.encode()
    assert clean.stat().st_mtime_ns == clean_mtime
    assert "tests/test_a.py" in out.stdout


def test_apply_keeps_the_file_mode(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    target.chmod(0o640)

    out = run_cli("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    leftovers = [p.name for p in target.parent.iterdir() if p.name not in {"test_a.py"}]
    assert leftovers == [], "the atomic write left a temp file behind"


def test_check_exits_1_when_something_would_change_then_0_after_apply(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)
    mtime = make_old(target)

    pending = run_cli("--check", "tests", cwd=tmp_path)
    assert pending.code == 1, pending.stdout + pending.stderr
    assert "tests/test_a.py" in pending.stdout
    assert target.read_bytes() == GPT2_TEST.encode()
    assert target.stat().st_mtime_ns == mtime

    applied = run_cli("--apply", "tests", cwd=tmp_path)
    assert applied.code == 0, applied.stderr

    done = run_cli("--check", "tests", cwd=tmp_path)
    assert done.code == 0, done.stdout + done.stderr


def test_check_exits_0_on_a_clean_suite(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_cli("--check", "tests", cwd=tmp_path)

    assert out.code == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "flags",
    [("--apply", "--check"), ("--dry-run", "--apply"), ("--dry-run", "--check")],
    ids=["apply+check", "dry-run+apply", "dry-run+check"],
)
def test_modes_are_mutually_exclusive(tmp_path: Path, flags: tuple[str, str]) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli(*flags, "tests", cwd=tmp_path)

    assert out.code == 2
    assert "mutually exclusive" in out.stderr
    for flag in flags:
        assert flag in out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()


def test_second_apply_is_a_noop(tmp_path: Path) -> None:
    plain = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    review = write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)

    first = run_cli("--apply", "tests", cwd=tmp_path)
    assert first.code == 0, first.stderr
    after_first = {p: p.read_bytes() for p in (plain, review)}
    assert after_first[review].decode().count(MARKER) == 1
    mtimes = {p: make_old(p) for p in (plain, review)}

    second = run_cli("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert second.code == 0, second.stderr
    for path in (plain, review):
        assert path.read_bytes() == after_first[path]
        assert path.stat().st_mtime_ns == mtimes[path]
    data = report_json(second)
    assert all(entry["changed"] is False for entry in data["files"])
    assert all(entry["written"] is False for entry in data["files"])
    assert data["summary"]["changed"] == 0


# -- --diff ----------------------------------------------------------------------------------

_DIFF_LINE = re.compile(
    r"^(--- a/\S|\+\+\+ b/\S|@@ -\d+(,\d+)? \+\d+(,\d+)? @@|[ +-]|\\ No newline at end of file$)"
)


def test_diff_prints_only_a_unified_diff(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_cli("--diff", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "--- a/tests/test_a.py"
    assert lines[1] == "+++ b/tests/test_a.py"
    assert lines[2].startswith("@@ ")
    for line in lines:
        assert _DIFF_LINE.match(line), f"not a diff line: {line!r}"
    assert '-MODEL = "gpt2"' in lines
    assert f'+MODEL = "{SMOL}"' in lines
    assert "test_clean.py" not in out.stdout
    assert "Summary" not in out.stdout and "Rollout" not in out.stdout
    assert target.read_bytes() == GPT2_TEST.encode()


def test_diff_with_nothing_to_change_prints_nothing(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_cli("--diff", "tests", cwd=tmp_path)

    assert out.code == 0
    assert out.stdout == ""


def test_diff_is_accepted_by_git_apply(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git_init(repo)
    files = {
        "tests/test_lf.py": GPT2_TEST.encode(),
        "tests/test_crlf.py": GPT2_TEST.replace("\n", "\r\n").encode(),
        "tests/test_no_eol.py": b'from transformers import AutoTokenizer\n\ntok = AutoTokenizer.from_pretrained("gpt2")',
        "tests/test_classes.py": GPT2_CLASSES_TEST.encode(),
    }
    for name, data in files.items():
        write(repo / name, data)
    write(repo / "tests" / "test_clean.py", CLEAN_TEST)

    proc = run_raw("--diff", "tests", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    patch = proc.stdout
    assert patch.startswith(b"--- a/tests/")
    assert b"\r\n" in patch, "the CRLF file's lines must keep their CR in the diff"
    assert b"\\ No newline at end of file" in patch
    for name, data in files.items():
        assert (repo / name).read_bytes() == data, "--diff must not write"

    # The expected result is what --apply writes (on a copy).
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    applied = run_raw("--apply", "tests", cwd=copy)
    assert applied.returncode == 0, applied.stderr

    (tmp_path / "change.patch").write_bytes(patch)
    check = git("apply", "--check", "-v", str(tmp_path / "change.patch"), cwd=repo)
    assert check.returncode == 0, check.stderr
    done = git("apply", str(tmp_path / "change.patch"), cwd=repo)
    assert done.returncode == 0, done.stderr

    for name, data in files.items():
        assert (repo / name).read_bytes() == (copy / name).read_bytes(), name
        assert (repo / name).read_bytes() != data, f"{name} was not migrated"
    assert (repo / "tests" / "test_crlf.py").read_bytes() == swap(files["tests/test_crlf.py"])
    assert (repo / "tests" / "test_no_eol.py").read_bytes() == swap(files["tests/test_no_eol.py"])
    assert (repo / "tests" / "test_clean.py").read_bytes() == CLEAN_TEST.encode()


# -- globs -----------------------------------------------------------------------------------


def test_quoted_glob_is_expanded_by_the_tool(tmp_path: Path) -> None:
    dpo = write(tmp_path / "tests" / "test_dpo_trainer.py", GPT2_TEST)
    dpo_extra = write(tmp_path / "tests" / "test_dpo_collator.py", GPT2_TEST)
    sft = write(tmp_path / "tests" / "test_sft_trainer.py", GPT2_TEST)
    nested = write(tmp_path / "tests" / "slow" / "test_dpo_slow.py", GPT2_TEST)

    out = run_cli("--apply", "tests/test_dpo*", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert dpo.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert dpo_extra.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert sft.read_bytes() == GPT2_TEST.encode()
    assert nested.read_bytes() == GPT2_TEST.encode()


def test_recursive_quoted_glob(tmp_path: Path) -> None:
    nested = write(tmp_path / "tests" / "slow" / "test_dpo_slow.py", GPT2_TEST)
    top = write(tmp_path / "tests" / "test_sft.py", GPT2_TEST)
    outside = write(tmp_path / "examples" / "train.py", GPT2_TEST)

    out = run_cli("--apply", "tests/**/*.py", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert nested.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert top.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert outside.read_bytes() == GPT2_TEST.encode()


# -- --target, --map, --select, --ignore -------------------------------------------------------

TWO_TIERS = """\
from transformers import AutoTokenizer

REAL = "gpt2"
TINY = "hf-internal-testing/tiny-random-gpt2"
TOKENIZERS = [AutoTokenizer.from_pretrained(name) for name in (REAL, TINY)]
"""


def loading(assignments: str) -> str:
    """Module constants (``A = "gpt2"``...) and a line that loads each of them: an id is only
    migrated where it reaches a loader."""
    names = [line.split(" = ")[0] for line in assignments.splitlines()]
    return (
        "from transformers import AutoTokenizer\n\n"
        + assignments
        + f"TOKENIZERS = [AutoTokenizer.from_pretrained(n) for n in ({', '.join(names)},)]\n"
    )


def test_default_targets_follow_the_tier(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", TWO_TIERS)

    out = run_cli("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == TWO_TIERS.replace('"gpt2"', f'"{SMOL}"').replace(
        '"hf-internal-testing/tiny-random-gpt2"', f'"{TINY_QWEN}"'
    )


def test_target_replaces_every_tier(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", TWO_TIERS)

    out = run_cli("--apply", "--target", TINY_LLAMA, "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == TWO_TIERS.replace('"gpt2"', f'"{TINY_LLAMA}"').replace(
        '"hf-internal-testing/tiny-random-gpt2"', f'"{TINY_LLAMA}"'
    )


def test_large_target_gets_a_memory_warning(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", TWO_TIERS)

    out = run_cli("--target", QWEN_05B, "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert QWEN_05B in out.stdout
    assert "memory" in out.stdout


def test_map_makes_a_custom_id_a_source(tmp_path: Path) -> None:
    text = loading('MODEL = "my-org/tiny-causal-lm"\n')
    target = write(tmp_path / "tests" / "test_a.py", text)

    unmapped = run_cli("--apply", "tests", cwd=tmp_path)
    assert unmapped.code == 0, unmapped.stderr
    assert target.read_text() == text

    mapped = run_cli(
        "--apply", "--map", f"my-org/tiny-causal-lm={TINY_QWEN}", "tests", cwd=tmp_path
    )

    assert mapped.code == 0, mapped.stderr
    assert target.read_text() == text.replace("my-org/tiny-causal-lm", TINY_QWEN)


def test_map_overrides_a_builtin_mapping(tmp_path: Path) -> None:
    text = loading('A = "gpt2"\nB = "distilgpt2"\n')
    target = write(tmp_path / "tests" / "test_a.py", text)

    out = run_cli("--apply", "--map", f"gpt2={TINY_LLAMA}", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == loading(f'A = "{TINY_LLAMA}"\nB = "{SMOL}"\n')


def test_map_is_repeatable(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", loading('A = "org/one"\nB = "org/two"\n'))

    out = run_cli(
        "--apply",
        "--map",
        f"org/one={TINY_QWEN}",
        "--map",
        f"org/two={SMOL}",
        "tests",
        cwd=tmp_path,
    )

    assert out.code == 0, out.stderr
    assert target.read_text() == loading(f'A = "{TINY_QWEN}"\nB = "{SMOL}"\n')


def test_malformed_map_is_a_usage_error(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--apply", "--map", "no-equals-sign", "tests", cwd=tmp_path)

    assert out.code == 2
    assert "no-equals-sign" in out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()


def test_select_runs_only_the_named_rules(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_CLASSES_TEST)

    out = run_cli("--apply", "--select", "model-id", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == GPT2_CLASSES_TEST.replace('"gpt2"', f'"{SMOL}"')


def test_select_takes_a_comma_separated_list(tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "test_a.py", GPT2_CLASSES_TEST)
    two = write(tmp_path / "b" / "test_a.py", GPT2_CLASSES_TEST)

    selected = run_cli("--apply", "--select", "model-id, auto-classes", "a", cwd=tmp_path)
    default = run_cli("--apply", "b", cwd=tmp_path)

    assert selected.code == default.code == 0
    assert one.read_bytes() == two.read_bytes()
    text = one.read_text()
    assert "GPT2LMHeadModel" not in text and "AutoModelForCausalLM" in text and SMOL in text


def test_ignore_skips_the_named_rules(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_CLASSES_TEST)

    out = run_cli("--apply", "--ignore", "auto-classes", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == GPT2_CLASSES_TEST.replace('"gpt2"', f'"{SMOL}"')


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_unknown_rule_id_is_exit_2_naming_it(tmp_path: Path, option: str) -> None:
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--apply", option, "model-id,no-such-rule", "tests", cwd=tmp_path)

    assert out.code == 2
    assert "no-such-rule" in out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()


def test_list_rules(tmp_path: Path) -> None:
    out = run_cli("--list-rules", cwd=tmp_path)

    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    ids = [line.split()[0] for line in lines if line.strip()]
    assert ids == [rule.id for rule in all_rules()]
    assert {"model-id", "auto-classes"} <= set(ids)
    for line in lines:
        rule_id, safety, *summary = line.split()
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
        assert safety in {"fix", "review"}
        assert summary, f"{rule_id} has no summary"
    model_id = next(line for line in lines if line.startswith("model-id "))
    assert model_id.split()[1] == "fix"


def test_explain_model_id(tmp_path: Path) -> None:
    out = run_cli("--explain", "model-id", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert out.stdout.startswith("model-id (fix)")
    assert "Example 1, before:" in out.stdout
    assert "after:" in out.stdout
    assert "gpt2" in out.stdout


def test_explain_unknown_rule_is_exit_2(tmp_path: Path) -> None:
    out = run_cli("--explain", "no-such-rule", cwd=tmp_path)

    assert out.code == 2
    assert "no-such-rule" in out.stderr


def test_version(tmp_path: Path) -> None:
    out = run_cli("--version", cwd=tmp_path)

    assert out.code == 0
    assert (
        out.stdout.strip()
        == f"migrate-tests, version {importlib.metadata.version('migrate-tests')}"
    )


def test_python_m_migrator_version(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "migrator", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.strip()
        == f"migrate-tests, version {importlib.metadata.version('migrate-tests')}"
    )


# -- report formats --------------------------------------------------------------------------

POSITIONS_TEST = """\
from transformers import AutoModelForCausalLM, GPT2LMHeadModel

LABEL = "naïve"; MODEL = "gpt2"


def test_load():
    model = AutoModelForCausalLM.from_pretrained(
        "distilgpt2",
    )
    other = GPT2LMHeadModel.from_pretrained("hf-internal-testing/tiny-random-gpt2")
    assert model is not other
"""


def _check_finding_schema(finding: dict[str, Any]) -> None:
    assert set(finding) >= {
        "rule",
        "safety",
        "line",
        "col",
        "end_line",
        "end_col",
        "message",
        "fixed",
    }
    assert isinstance(finding["rule"], str) and finding["rule"]
    assert finding["safety"] in {"fix", "review", "info"}
    for key in ("line", "col", "end_line", "end_col"):
        assert isinstance(finding[key], int) and not isinstance(finding[key], bool), key
    assert finding["line"] >= 1 and finding["col"] >= 0
    assert (finding["end_line"], finding["end_col"]) >= (finding["line"], finding["col"])
    assert isinstance(finding["message"], str) and finding["message"]
    assert isinstance(finding["fixed"], bool)


def test_parametrize_rows_that_collapse_are_reported(tmp_path: Path) -> None:
    text = (
        "import pytest\n"
        "from transformers import AutoTokenizer\n\n\n"
        '@pytest.mark.parametrize("model_id", ["gpt2", "distilgpt2", "sshleifer/tiny-gpt2"])\n'
        "def test_load(model_id):\n"
        "    assert AutoTokenizer.from_pretrained(model_id)\n\n\n"
        '@pytest.mark.parametrize("model_id, pad", [("gpt2", 1), ("distilgpt2", 2)])\n'
        "def test_distinct(model_id, pad):\n"
        "    assert AutoTokenizer.from_pretrained(model_id)\n"
    )
    write(tmp_path / "tests" / "test_rows.py", text)
    out = run_cli("--format", "json", "tests", cwd=tmp_path)
    findings = json.loads(out.stdout)["files"][0]["findings"]
    infos = [f for f in findings if f["safety"] == "info"]
    assert [(f["rule"], f["line"], f["message"]) for f in infos] == [
        (
            "model-id",
            5,
            f"'distilgpt2' and 'gpt2' both become '{SMOL}': the test now runs the same case "
            "twice; drop one row",
        )
    ]
    swaps = [f for f in findings if f["fixed"] and " -> " in f["message"]]
    assert len(swaps) == 5  # every id is still migrated
    splits = [f["line"] for f in findings if "split over lines" in f["message"]]
    assert splits == [5, 10]  # both decorators outgrow 88 columns with the new ids


def test_json_schema(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_ready.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)
    write(tmp_path / "tests" / "test_skipped.py", "# migrate-tests: skip-file\n" + GPT2_TEST)
    write(tmp_path / "tests" / "test_broken.py", SYNTAX_ERROR_TEST)

    out = run_cli("--format", "json", "tests", cwd=tmp_path)

    assert out.code == 2  # one file could not be processed
    data = report_json(out)
    assert data["schema_version"] == 1
    assert isinstance(data["files"], list)
    files = by_path(data)
    assert list(files) == sorted(files), "deterministic, sorted output order"
    assert set(files) == {
        "tests/test_ready.py",
        "tests/test_review.py",
        "tests/test_clean.py",
        "tests/test_skipped.py",
        "tests/test_broken.py",
    }
    for entry in data["files"]:
        assert set(entry) >= {"path", "status", "changed", "findings", "error"}
        assert entry["status"] in STATUSES
        assert isinstance(entry["changed"], bool)
        assert isinstance(entry["findings"], list)
        assert entry["error"] is None or isinstance(entry["error"], str)
        for finding in entry["findings"]:
            _check_finding_schema(finding)

    assert files["tests/test_ready.py"]["status"] == "ready"
    assert files["tests/test_ready.py"]["changed"] is True
    assert files["tests/test_ready.py"]["error"] is None
    assert [f["rule"] for f in files["tests/test_ready.py"]["findings"]] == ["model-id"]
    assert files["tests/test_ready.py"]["findings"][0]["fixed"] is True
    assert files["tests/test_review.py"]["status"] == "needs-review"
    assert any(
        f["safety"] == "review" and f["fixed"] is False
        for f in files["tests/test_review.py"]["findings"]
    )
    assert files["tests/test_clean.py"]["status"] == "clean"
    assert files["tests/test_clean.py"]["changed"] is False
    assert files["tests/test_clean.py"]["findings"] == []
    assert files["tests/test_skipped.py"]["status"] == "skipped"
    assert files["tests/test_skipped.py"]["changed"] is False
    broken = files["tests/test_broken.py"]
    assert broken["status"] == "error"
    assert broken["changed"] is False
    assert "line 4" in broken["error"]

    summary = data["summary"]
    assert summary["files"] == 5
    assert summary["changed"] == 2
    assert summary["by_status"] == {
        "ready": 1,
        "needs-review": 1,
        "clean": 1,
        "skipped": 1,
        "error": 1,
    }


def test_json_positions_are_1_based_lines_and_0_based_columns(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", POSITIONS_TEST)
    lines = POSITIONS_TEST.splitlines()

    out = run_cli("--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    findings = report_json(out)["files"][0]["findings"]
    spans: dict[tuple[str, int], list[str]] = {}
    for f in findings:
        _check_finding_schema(f)
        if f["line"] == f["end_line"]:
            spans.setdefault((f["rule"], f["line"]), []).append(
                lines[f["line"] - 1][f["col"] : f["end_col"]]
            )
    # Line 3 has a non-ASCII character before the literal: columns count characters.
    assert spans[("model-id", 3)] == ['"gpt2"']
    assert lines[2].index('"gpt2"') == 25
    assert spans[("model-id", 8)] == ['"distilgpt2"']
    # Line 10 grows past 88 columns with the tiny target: the call is split too (a fix of its own).
    assert spans[("model-id", 10)] == [
        'GPT2LMHeadModel.from_pretrained("hf-internal-testing/tiny-random-gpt2")',
        '"hf-internal-testing/tiny-random-gpt2"',
    ]
    assert spans[("auto-classes", 10)] == ["GPT2LMHeadModel"]


def test_json_positions_refer_to_the_original_source_under_apply(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "test_a.py", POSITIONS_TEST)
    write(tmp_path / "b" / "test_a.py", POSITIONS_TEST)

    planned = run_cli("--format", "json", "a", cwd=tmp_path)
    applied = run_cli("--apply", "--format", "json", "b", cwd=tmp_path)

    assert planned.code == applied.code == 0

    def strip(data: dict[str, Any]) -> list[dict[str, Any]]:
        keys = ("rule", "safety", "line", "col", "end_line", "end_col", "fixed")
        return [{k: f[k] for k in keys} for f in data["files"][0]["findings"]]

    assert strip(report_json(applied)) == strip(report_json(planned))
    assert report_json(applied)["files"][0]["written"] is True
    assert a.read_text(encoding="utf-8") == POSITIONS_TEST


_GH = re.compile(r"^::(warning|notice|error) file=([^,:]+)(,line=(\d+))?[^:]*::.+$")


def test_github_format_emits_workflow_annotations(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_cli("--format", "github", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines, "no annotations"
    for line in lines:
        assert _GH.match(line), f"not a workflow command: {line!r}"
    review_lines = [
        i + 1
        for i, text in enumerate(REVIEW_TEST.splitlines())
        if "GPT2Config(" in text and "import" not in text
    ]
    assert any(
        line.startswith(f"::warning file=tests/test_review.py,line={review_lines[0]}")
        for line in lines
    ), out.stdout
    assert "test_clean.py" not in out.stdout


def test_github_format_reports_errors(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_broken.py", SYNTAX_ERROR_TEST)

    out = run_cli("--format", "github", "tests", cwd=tmp_path)

    assert out.code == 2
    assert out.stdout.startswith("::error file=tests/test_broken.py")


def test_markdown_format_has_the_rollout_plan(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_ready.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_cli("--format", "markdown", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert "Rollout plan" in out.stdout
    plan = out.stdout.split("Rollout plan", 1)[1]
    assert "migrate-tests --apply tests/test_ready.py" in plan
    assert "tests/test_review.py" in plan
    assert "```diff" in out.stdout
    assert f'+MODEL = "{SMOL}"' in out.stdout
    assert "\x1b[" not in out.stdout


def test_no_ansi_escapes_when_stdout_is_not_a_tty(tmp_path: Path) -> None:
    for i in range(12):  # enough files for a progress bar, were one (wrongly) shown
        write(tmp_path / "tests" / f"test_{i:02}.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)

    proc = run_raw("tests", cwd=tmp_path, env={"TERM": "xterm-256color"})

    assert proc.returncode == 0, proc.stderr
    assert b"\x1b" not in proc.stdout
    assert b"\x1b" not in proc.stderr
    assert b"Rollout plan" in proc.stdout


def _run_in_pty(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [script(), *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
        )
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks)


def test_no_colour_on_a_terminal_with_no_color_set(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    base = {
        k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "PRE_COMMIT"}
    }
    env = {**base, "TERM": "xterm-256color", "COLUMNS": "200"}

    coloured_code, coloured = _run_in_pty(["tests"], tmp_path, env)
    plain_code, plain = _run_in_pty(["tests"], tmp_path, {**env, "NO_COLOR": "1"})

    assert coloured_code == plain_code == 0
    assert ANSI.search(coloured.decode(errors="replace")), "control: a terminal should get colour"
    assert b"\x1b" not in plain
    assert b"Rollout plan" in plain


# -- configuration ---------------------------------------------------------------------------


def test_config_target_exclude_select(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        f"""\
[project]
name = "demo"

[tool.migrate-tests]
target = "{TINY_LLAMA}"
exclude = ["tests/legacy/*"]
select = ["model-id"]
""",
    )
    main = write(tmp_path / "tests" / "test_a.py", GPT2_CLASSES_TEST)
    legacy = write(tmp_path / "tests" / "legacy" / "test_old.py", GPT2_TEST)

    out = run_cli("--apply", cwd=tmp_path)

    assert out.code == 0, out.stderr
    # select = model-id only: the GPT2 class stays, the id goes to the configured target (its
    # line, now over 88 columns, split as black would).
    assert main.read_text() == GPT2_CLASSES_TEST.replace(
        '("gpt2")', f'(\n        "{TINY_LLAMA}"\n    )'
    )
    assert legacy.read_bytes() == GPT2_TEST.encode()


def test_config_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", f'[tool.migrate-tests]\ntarget = "{TINY_LLAMA}"\n')
    main = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--apply", "test_a.py", cwd=tmp_path / "tests")

    assert out.code == 0, out.stderr
    assert main.read_text() == GPT2_TEST.replace('"gpt2"', f'"{TINY_LLAMA}"')


def test_config_markers_false_adds_no_markers(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.migrate-tests]\nmarkers = false\n")
    target = write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)

    out = run_cli("--apply", "--format", "json", cwd=tmp_path)

    assert out.code == 0, out.stderr
    text = target.read_text()
    assert MARKER not in text
    assert SMOL in text  # fixes still applied
    entry = report_json(out)["files"][0]
    assert entry["status"] == "needs-review"
    assert any(f["safety"] == "review" for f in entry["findings"])
    assert entry["markers_added"] == 0


def test_markers_default_on(tmp_path: Path) -> None:
    target = write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)

    out = run_cli("--apply", cwd=tmp_path)

    assert out.code == 0, out.stderr
    lines = target.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "GPT2Config(n_layer" in line)
    assert lines[index - 1].strip().startswith("# migrate-tests: review(auto-classes):")


def test_command_line_wins_over_config(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        f'[tool.migrate-tests]\ntarget = "{TINY_LLAMA}"\nselect = ["model-id"]\n',
    )
    target = write(tmp_path / "tests" / "test_a.py", GPT2_CLASSES_TEST)

    out = run_cli(
        "--apply", "--target", TINY_QWEN, "--select", "model-id,auto-classes", cwd=tmp_path
    )

    assert out.code == 0, out.stderr
    text = target.read_text()
    assert TINY_QWEN in text and TINY_LLAMA not in text
    assert "GPT2LMHeadModel" not in text


@pytest.mark.parametrize(
    ("body", "must_name"),
    [
        ('[tool.migrate-tests]\nmarkers = "yes"\n', "markers"),
        ('[tool.migrate-tests]\ntarget = "x/y"\ntargte = "x/y"\n', "targte"),
        ('[tool.migrate-tests]\nexclude = "tests/legacy"\n', "exclude"),
        ("[tool.migrate-tests]\ntarget = 3\n", "target"),
        ("[tool.migrate-tests\ntarget = 'x'\n", None),
    ],
    ids=[
        "markers-not-bool",
        "unknown-key",
        "exclude-not-list",
        "target-not-string",
        "invalid-toml",
    ],
)
def test_malformed_config_is_exit_2_naming_file_and_key(
    tmp_path: Path, body: str, must_name: str | None
) -> None:
    config = write(tmp_path / "pyproject.toml", body)
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--apply", cwd=tmp_path)

    assert out.code == 2
    assert str(config) in out.stderr or "pyproject.toml" in out.stderr
    if must_name is not None:
        assert must_name in out.stderr
    else:
        assert "TOML" in out.stderr
    assert "Traceback" not in out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()


def test_unknown_rule_in_config_is_exit_2_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.migrate-tests]\nselect = ["no-such-rule"]\n')
    target = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--apply", cwd=tmp_path)

    assert out.code == 2
    assert "no-such-rule" in out.stderr
    assert target.read_bytes() == GPT2_TEST.encode()


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_cli("--config", "nowhere.toml", cwd=tmp_path)

    assert out.code == 2
    assert "nowhere.toml" in out.stderr


# -- discovery -------------------------------------------------------------------------------


def _scanned(out: Outcome) -> set[str]:
    return set(by_path(report_json(out)))


def test_default_excludes_when_walking(tmp_path: Path) -> None:
    kept = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    write(tmp_path / "env" / "pyvenv.cfg", "home = /usr\n")  # a virtualenv under any name
    skipped = [
        write(tmp_path / ".venv" / "lib" / "mod.py", GPT2_TEST),
        write(tmp_path / "venv" / "lib" / "mod.py", GPT2_TEST),
        write(tmp_path / "env" / "lib" / "mod.py", GPT2_TEST),
        write(tmp_path / "build" / "lib" / "mod.py", GPT2_TEST),
        write(tmp_path / "dist" / "mod.py", GPT2_TEST),
        write(tmp_path / "lib" / "site-packages" / "pkg" / "mod.py", GPT2_TEST),
        write(tmp_path / "node_modules" / "x" / "mod.py", GPT2_TEST),
        write(tmp_path / "tests" / "__pycache__" / "test_a.py", GPT2_TEST),
        write(tmp_path / ".git" / "hooks" / "mod.py", GPT2_TEST),
    ]

    out = run_cli("--apply", "--format", "json", ".", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert _scanned(out) == {"tests/test_a.py"}
    assert kept.read_bytes() == GPT2_TEST_MIGRATED.encode()
    for path in skipped:
        assert path.read_bytes() == GPT2_TEST.encode(), path


def test_exclude_option(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    legacy = write(tmp_path / "tests" / "legacy" / "test_old.py", GPT2_TEST)
    slow = write(tmp_path / "tests" / "test_big_slow.py", GPT2_TEST)

    out = run_cli(
        "--apply",
        "--format",
        "json",
        "--exclude",
        "tests/legacy",
        "--exclude",
        "*_slow.py",
        "tests",
        cwd=tmp_path,
    )

    assert out.code == 0, out.stderr
    assert _scanned(out) == {"tests/test_a.py"}
    assert legacy.read_bytes() == GPT2_TEST.encode()
    assert slow.read_bytes() == GPT2_TEST.encode()


def test_git_ignored_files_are_skipped_in_a_work_tree(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "tests/generated/\n*_gen.py\n")
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    generated = write(tmp_path / "tests" / "generated" / "test_g.py", GPT2_TEST)
    gen = write(tmp_path / "tests" / "test_x_gen.py", GPT2_TEST)

    out = run_cli("--apply", "--format", "json", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert _scanned(out) == {"tests/test_a.py"}
    assert generated.read_bytes() == GPT2_TEST.encode()
    assert gen.read_bytes() == GPT2_TEST.encode()


def test_git_ignore_does_not_apply_outside_a_work_tree(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "*_gen.py\n")
    write(tmp_path / "tests" / "test_x_gen.py", GPT2_TEST)

    out = run_cli("--format", "json", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert _scanned(out) == {"tests/test_x_gen.py"}


def test_explicit_files_are_processed_unless_force_exclude(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "*_gen.py\n")
    names = ["tests/legacy/test_old.py", "build/test_built.py", "tests/test_x_gen.py"]
    for name in names:
        write(tmp_path / name, GPT2_TEST)

    named = run_cli("--format", "json", "--exclude", "tests/legacy/*", *names, cwd=tmp_path)
    forced = run_cli(
        "--format", "json", "--exclude", "tests/legacy/*", "--force-exclude", *names, cwd=tmp_path
    )

    assert named.code == 0, named.stderr
    assert _scanned(named) == set(names)
    assert forced.code == 0, forced.stderr
    assert _scanned(forced) == set()


def test_force_exclude_with_config_exclude_under_apply(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.migrate-tests]\nexclude = ["tests/legacy/*"]\n')
    old = write(tmp_path / "tests" / "legacy" / "test_old.py", GPT2_TEST)
    new = write(tmp_path / "tests" / "test_new.py", GPT2_TEST)

    out = run_cli(
        "--apply", "--force-exclude", "tests/legacy/test_old.py", "tests/test_new.py", cwd=tmp_path
    )

    assert out.code == 0, out.stderr
    assert old.read_bytes() == GPT2_TEST.encode()
    assert new.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_no_paths_means_tests_dir_else_cwd(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    write(tmp_path / "examples" / "train.py", GPT2_TEST)

    with_tests = run_cli("--format", "json", cwd=tmp_path)
    assert with_tests.code == 0, with_tests.stderr
    assert _scanned(with_tests) == {"tests/test_a.py"}

    shutil.rmtree(tmp_path / "tests")
    without = run_cli("--format", "json", cwd=tmp_path)
    assert without.code == 0, without.stderr
    assert _scanned(without) == {"examples/train.py"}


def test_output_order_is_deterministic(tmp_path: Path) -> None:
    for name in ["test_c.py", "test_a.py", "sub/test_b.py", "test_b.py"]:
        write(tmp_path / "tests" / name, GPT2_TEST)
    for i in range(10):
        write(tmp_path / "tests" / f"more/test_{i}.py", GPT2_TEST)

    first = run_script("--format", "json", "-j", "4", "tests", cwd=tmp_path)
    second = run_script("--format", "json", "-j", "1", "tests", cwd=tmp_path)

    assert first.code == second.code == 0, first.stderr
    paths = [entry["path"] for entry in json.loads(first.stdout)["files"]]
    assert paths == sorted(paths)
    assert first.stdout == second.stdout


# -- suppression -----------------------------------------------------------------------------


def test_ignore_comment_keeps_the_line(tmp_path: Path) -> None:
    text = loading('KEEP = "gpt2"  # migrate-tests: ignore\nMODEL = "gpt2"\n')
    target = write(tmp_path / "tests" / "test_a.py", text)

    out = run_cli("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == loading(
        f'KEEP = "gpt2"  # migrate-tests: ignore\nMODEL = "{SMOL}"\n'
    )
    data = report_json(out)
    assert data["files"][0]["suppressed"] == 1
    assert data["summary"]["suppressed"] == 1


def test_ignore_is_counted_in_the_text_report(tmp_path: Path) -> None:
    write(
        tmp_path / "tests" / "test_a.py", 'KEEP = "gpt2"  # migrate-tests: ignore\nMODEL = "gpt2"\n'
    )

    out = run_cli("tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert re.search(r"suppressed\b.*\b1\b|\b1 suppressed", out.stdout), out.stdout


def test_ignore_with_rule_ids(tmp_path: Path) -> None:
    text = loading(
        'KEEP = "gpt2"  # migrate-tests: ignore[model-id]\n'
        'OTHER = "gpt2"  # migrate-tests: ignore[auto-classes]\n'
        'MODEL = "gpt2"\n'
    )
    target = write(tmp_path / "tests" / "test_a.py", text)

    out = run_cli("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == loading(
        'KEEP = "gpt2"  # migrate-tests: ignore[model-id]\n'
        f'OTHER = "{SMOL}"  # migrate-tests: ignore[auto-classes]\n'
        f'MODEL = "{SMOL}"\n'
    )
    assert report_json(out)["files"][0]["suppressed"] == 1


def test_skip_file_keeps_the_whole_file(tmp_path: Path) -> None:
    text = "# migrate-tests: skip-file\n" + GPT2_TEST
    target = write(tmp_path / "tests" / "test_a.py", text)
    mtime = make_old(target)
    write(tmp_path / "tests" / "test_b.py", GPT2_TEST)

    out = run_cli("--apply", "--format", "json", "tests", cwd=tmp_path)
    text_out = run_cli("tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == text
    assert target.stat().st_mtime_ns == mtime
    data = report_json(out)
    assert by_path(data)["tests/test_a.py"]["status"] == "skipped"
    assert data["summary"]["by_status"]["skipped"] == 1
    assert text_out.code == 0
    assert re.search(r"\b1 skipped\b|skipped \(1\)", text_out.stdout), text_out.stdout


# -- bad input (installed console script, subprocess) ----------------------------------------


def test_missing_path_is_exit_2_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_script("tests", "tests/test_nope.py", cwd=tmp_path)

    assert out.code == 2
    assert "tests/test_nope.py" in out.stderr
    assert "Traceback" not in out.stderr


def test_directory_without_python_files_warns_and_exits_0(tmp_path: Path) -> None:
    write(tmp_path / "docs" / "notes.txt", "# gpt2\n")

    out = run_script("docs", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert "warning" in out.stderr.lower()
    assert "no python files or documents" in out.stderr.lower()


def test_syntax_error_among_good_files(tmp_path: Path) -> None:
    good_a = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    bad = write(tmp_path / "tests" / "test_bad.py", SYNTAX_ERROR_TEST)
    good_z = write(tmp_path / "tests" / "test_z.py", GPT2_TEST)
    mtime = make_old(bad)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 2
    assert re.search(r"tests/test_bad\.py.*line 4", out.stderr), out.stderr
    assert "Traceback" not in out.stderr
    assert bad.read_bytes() == SYNTAX_ERROR_TEST.encode()
    assert bad.stat().st_mtime_ns == mtime
    assert good_a.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert good_z.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_undecodable_bytes(tmp_path: Path) -> None:
    raw = b'MODEL = "gpt2"\nNAME = "caf\xe9"\n'  # latin-1 bytes, no coding cookie: not UTF-8
    bad = write(tmp_path / "tests" / "test_bad.py", raw)
    good = write(tmp_path / "tests" / "test_good.py", GPT2_TEST)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 2
    assert "tests/test_bad.py" in out.stderr
    assert "undecodable" in out.stderr.lower() or "decode" in out.stderr.lower()
    assert "line 2" in out.stderr
    assert bad.read_bytes() == raw
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_latin1_file_with_coding_cookie_stays_latin1(tmp_path: Path) -> None:
    raw = (
        '# -*- coding: latin-1 -*-\nfrom transformers import AutoTokenizer\n\nNAME = "café"\n'
        'MODEL = "gpt2"\nTOKENIZER = AutoTokenizer.from_pretrained(MODEL)\n'
    ).encode("latin-1")
    target = write(tmp_path / "tests" / "test_a.py", raw)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == swap(raw)
    assert b"caf\xe9" in target.read_bytes()


def test_utf8_bom_is_kept(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + GPT2_TEST.encode()
    target = write(tmp_path / "tests" / "test_a.py", raw)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == swap(raw)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")


def test_crlf_and_mixed_line_endings_are_kept(tmp_path: Path) -> None:
    crlf = GPT2_TEST.replace("\n", "\r\n").encode()
    mixed = (
        b'from transformers import AutoTokenizer\r\nMODEL = "gpt2"\nOTHER = "distilgpt2"\r\n\r\n'
        b"def test_x():\n    return AutoTokenizer.from_pretrained(MODEL or OTHER)\r\n"
    )
    crlf_file = write(tmp_path / "tests" / "test_crlf.py", crlf)
    mixed_file = write(tmp_path / "tests" / "test_mixed.py", mixed)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert crlf_file.read_bytes() == swap(crlf)
    assert mixed_file.read_bytes() == swap(swap(mixed), "distilgpt2", SMOL)


def test_tabs_and_trailing_whitespace_are_kept(tmp_path: Path) -> None:
    raw = b'from transformers import AutoModelForCausalLM\n\n\ndef test_load():\n\tmodel = AutoModelForCausalLM.from_pretrained("gpt2")   \n\tassert model\t# done\n'
    target = write(tmp_path / "tests" / "test_a.py", raw)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_bytes() == swap(raw)


def test_empty_file(tmp_path: Path) -> None:
    empty = write(tmp_path / "tests" / "test_empty.py", b"")
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    mtime = make_old(empty)

    out = run_script("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert empty.read_bytes() == b""
    assert empty.stat().st_mtime_ns == mtime
    assert by_path(json.loads(out.stdout))["tests/test_empty.py"]["status"] == "clean"
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_binary_file_named_py(tmp_path: Path) -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR gpt2 \x00\xff\xfe\x00"
    binary = write(tmp_path / "tests" / "test_blob.py", raw)
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 2
    assert "tests/test_blob.py" in out.stderr
    assert "Traceback" not in out.stderr
    assert binary.read_bytes() == raw
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()


def _without_root_powers() -> list[str]:
    """A command prefix that takes away root's power to ignore file modes (CI runs as root):
    ``setpriv`` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. Empty when not root."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return []
    caps = "-dac_override,-dac_read_search"
    assert shutil.which("setpriv"), "running as root needs util-linux's setpriv for this test"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_unreadable_file(tmp_path: Path) -> None:
    locked = write(tmp_path / "tests" / "test_locked.py", GPT2_TEST)
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    locked.chmod(0)
    try:
        out = run_script("--apply", "tests", cwd=tmp_path, prefix=_without_root_powers())
    finally:
        locked.chmod(0o644)

    assert out.code == 2
    assert "tests/test_locked.py" in out.stderr
    assert "permission denied" in out.stderr.lower()
    assert locked.read_bytes() == GPT2_TEST.encode()
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_unreadable_directory(tmp_path: Path) -> None:
    """A directory that cannot be listed, met while walking or named: its files cannot be
    checked, so it is an error naming it (not a silent skip nor a traceback); the rest runs."""
    hidden = write(tmp_path / "tests" / "private" / "test_hidden.py", GPT2_TEST)
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    hidden.parent.chmod(0)
    try:
        walked = run_script("--apply", "tests", cwd=tmp_path, prefix=_without_root_powers())
        named = run_script("--check", "tests/private", cwd=tmp_path, prefix=_without_root_powers())
    finally:
        hidden.parent.chmod(0o755)

    for out in (walked, named):
        assert out.code == 2, out.stderr
        assert "tests/private/: cannot list this directory (Permission denied)" in out.stderr
        assert "its files were not checked" in out.stderr
        assert "Traceback" not in out.stderr
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert hidden.read_bytes() == GPT2_TEST.encode()


def test_unreadable_directory_that_git_ignores_is_not_an_error(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "tests/data/\n")
    hidden = write(tmp_path / "tests" / "data" / "test_hidden.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    hidden.parent.chmod(0)
    try:
        out = run_script("--check", "tests", cwd=tmp_path, prefix=_without_root_powers())
    finally:
        hidden.parent.chmod(0o755)

    assert out.code == 1, out.stderr  # test_a.py would change; nothing else to say
    assert "cannot list" not in out.stderr


def test_read_only_file_under_apply(tmp_path: Path) -> None:
    # No preexec hook needed: a file without any write bit is read-only for the tool even
    # when root could write it (the user marked it so), as for editors.
    frozen = write(tmp_path / "tests" / "test_frozen.py", GPT2_TEST)
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)
    frozen.chmod(0o444)
    try:
        out = run_script("--apply", "tests", cwd=tmp_path)
    finally:
        mode = stat.S_IMODE(frozen.stat().st_mode)
        frozen.chmod(0o644)

    assert out.code == 2
    assert "tests/test_frozen.py" in out.stderr
    assert "read-only" in out.stderr.lower()
    assert frozen.read_bytes() == GPT2_TEST.encode()
    assert mode == 0o444
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()


def test_symlink_to_a_file(tmp_path: Path) -> None:
    real = write(tmp_path / "shared" / "common_checks.py", GPT2_TEST)
    link = tmp_path / "tests" / "test_common.py"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("..") / "shared" / "common_checks.py")

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("..") / "shared" / "common_checks.py")
    assert real.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert not real.is_symlink()


def test_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "tests" / "test_loop.py"
    loop.parent.mkdir(parents=True)
    loop.symlink_to("test_loop.py")
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_script("--apply", "tests", cwd=tmp_path)

    assert out.code == 2
    assert "tests/test_loop.py" in out.stderr
    assert "loop" in out.stderr.lower()
    assert "Traceback" not in out.stderr
    assert loop.is_symlink()
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()

    named = run_script("--check", "tests/test_loop.py", cwd=tmp_path)  # named explicitly
    assert named.code == 2
    assert "tests/test_loop.py: symlink loop" in named.stderr
    assert "Traceback" not in named.stderr


def test_glob_matching_nothing_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_script("tests/test_kto*", cwd=tmp_path)

    assert out.code == 2
    assert "tests/test_kto*" in out.stderr


# -- rollout plan ----------------------------------------------------------------------------


def _ready_command(stdout: str) -> list[str]:
    plan = stdout.split("Rollout plan", 1)[1]
    match = re.search(r"^\s*ready \(\d+\): (migrate-tests --apply .*)$", plan, re.MULTILINE)
    assert match, plan
    return shlex.split(match.group(1))


def test_rollout_plan_names_ready_files_in_an_exact_apply_command(tmp_path: Path) -> None:
    ready = [
        write(tmp_path / "tests" / "test_dpo_trainer.py", GPT2_TEST),
        # A space in the name: the command must quote it.
        write(tmp_path / "tests" / "test sft trainer.py", GPT2_TEST),
    ]
    review = write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)
    clean = write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)

    out = run_script("tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    command = _ready_command(out.stdout)
    assert command[:2] == ["migrate-tests", "--apply"]
    assert sorted(command[2:]) == sorted(["tests/test_dpo_trainer.py", "tests/test sft trainer.py"])
    assert (
        "ready (2): migrate-tests --apply 'tests/test sft trainer.py' tests/test_dpo_trainer.py"
        in out.stdout
    )

    # Running the suggested command migrates exactly the ready files.
    proc = subprocess.run(
        [script(), *command[1:]], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    for path in ready:
        assert path.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert review.read_bytes() == REVIEW_TEST.encode()
    assert clean.read_bytes() == CLEAN_TEST.encode()


def test_rollout_command_repeats_the_options(tmp_path: Path) -> None:
    ready = write(tmp_path / "tests" / "test_dpo.py", TWO_TIERS)

    out = run_script("--target", TINY_QWEN, "--ignore", "auto-classes", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    command = _ready_command(out.stdout)
    assert command == [
        "migrate-tests",
        "--apply",
        "--target",
        TINY_QWEN,
        "--ignore",
        "auto-classes",
        "tests/test_dpo.py",
    ]
    proc = subprocess.run(
        [script(), *command[1:]], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert ready.read_text() == TWO_TIERS.replace('"gpt2"', f'"{TINY_QWEN}"').replace(
        '"hf-internal-testing/tiny-random-gpt2"', f'"{TINY_QWEN}"'
    )


def test_rollout_plan_lists_review_error_and_clean_files(tmp_path: Path) -> None:
    write(tmp_path / "tests" / "test_ready.py", GPT2_TEST)
    write(tmp_path / "tests" / "test_review.py", REVIEW_TEST)
    write(tmp_path / "tests" / "test_clean.py", CLEAN_TEST)
    write(tmp_path / "tests" / "test_broken.py", SYNTAX_ERROR_TEST)

    out = run_script("tests", cwd=tmp_path)

    assert out.code == 2
    plan = out.stdout.split("Rollout plan", 1)[1]
    assert "ready (1): migrate-tests --apply tests/test_ready.py" in plan
    assert re.search(r"needs review \(1\)", plan)
    assert re.search(r"errors \(1\)[^\n]*\n\s+tests/test_broken\.py", plan), plan
    assert "clean (1)" in plan
    assert "test_review.py" not in plan.split("needs review", 1)[0]


EDITOR_AT_WORK = '''\
"""Test hook: someone edits the file while migrate-tests is rewriting it."""
import migrator.runner as runner

_rewrite = runner._rewrite


def _rewrite_while_edited(ctx):
    result = _rewrite(ctx)
    if "test_busy" in ctx.source.path:
        with open(ctx.source.path, "a", encoding="utf-8") as handle:
            handle.write("# edited by a human meanwhile\\n")
    return result


runner._rewrite = _rewrite_while_edited
'''


def test_file_changed_between_read_and_write_is_not_clobbered(tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    write(hook / "sitecustomize.py", EDITOR_AT_WORK)
    busy = write(tmp_path / "tests" / "test_busy.py", GPT2_TEST)
    good = write(tmp_path / "tests" / "test_a.py", GPT2_TEST)

    out = run_script("--apply", "-j", "1", "tests", cwd=tmp_path, env={"PYTHONPATH": str(hook)})

    assert out.code == 2, out.stdout + out.stderr
    assert "tests/test_busy.py" in out.stderr
    assert "changed on disk" in out.stderr
    assert busy.read_text() == GPT2_TEST + "# edited by a human meanwhile\n"
    assert good.read_bytes() == GPT2_TEST_MIGRATED.encode()
    assert not list((tmp_path / "tests").glob(".*.tmp"))


def test_progress_bar_on_a_terminal_only_and_never_under_pre_commit(tmp_path: Path) -> None:
    for number in range(12):
        write(tmp_path / "tests" / f"test_{number:02}.py", GPT2_TEST)
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "PRE_COMMIT", "CI"}}
    env["TERM"] = "xterm"

    _code, on_terminal = _run_in_pty(["tests", "-j", "1"], tmp_path, env)
    _code, hooked = _run_in_pty(["tests", "-j", "1"], tmp_path, {**env, "PRE_COMMIT": "1"})
    _code, few = _run_in_pty(["tests/test_00.py", "tests/test_01.py"], tmp_path, env)
    piped = run_script("tests", "-j", "1", cwd=tmp_path)

    assert b"migrating" in on_terminal
    assert b"migrating" not in hooked
    assert b"migrating" not in few
    assert "migrating" not in piped.stderr + piped.stdout


def test_config_declares_a_custom_target_without_pad_token(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[tool.migrate-tests]\ntarget = "org/my-tiny"\n'
        '[tool.migrate-tests.models."org/my-tiny"]\npad_token = false\nchat_template = true\n',
    )
    source = (
        "from transformers import AutoTokenizer\n\n"
        'tok = AutoTokenizer.from_pretrained("gpt2")\n'
        "tok.pad_token = tok.eos_token\n"
    )
    test = write(tmp_path / "tests" / "test_pad.py", source)

    out = run_cli("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert test.read_text() == source.replace('"gpt2"', '"org/my-tiny"')
    pad = [f for f in report_json(out)["files"][0]["findings"] if f["rule"] == "pad-token"]
    assert [(f["safety"], f["line"]) for f in pad] == [("info", 4)]
    assert "has no pad token" in pad[0]["message"]


# -- line length: where a long target id is laid out -------------------------------------

# 111 columns once "gpt2" becomes SMOL: over the default 88, within 120.
LONG_LINE_TEST = """\
from transformers import AutoModelForCausalLM


def test_load():
    model = AutoModelForCausalLM.from_pretrained("gpt2", low_cpu_mem_usage=True)
    assert model is not None
"""
LONG_LINE_SPLIT = LONG_LINE_TEST.replace(
    '("gpt2", low_cpu_mem_usage=True)',
    f'(\n        "{SMOL}", low_cpu_mem_usage=True\n    )',
)
LONG_LINE_KEPT = swap(LONG_LINE_TEST.encode()).decode()


@pytest.mark.parametrize(
    ("config_name", "config", "expected"),
    [
        ("pyproject.toml", "[tool.ruff]\nline-length = 120\n", LONG_LINE_KEPT),
        ("pyproject.toml", "[tool.black]\nline-length = 120\n", LONG_LINE_KEPT),
        (
            "pyproject.toml",
            "[tool.ruff]\nline-length = 120\n[tool.black]\nline-length = 80\n",
            LONG_LINE_KEPT,
        ),
        ("ruff.toml", "line-length = 120\n", LONG_LINE_KEPT),
        (".ruff.toml", "line-length = 120\n", LONG_LINE_KEPT),
        ("pyproject.toml", "[tool.ruff]\ntarget-version = 'py310'\n", LONG_LINE_SPLIT),
        ("pyproject.toml", "[project]\nname = 'demo'\n", LONG_LINE_SPLIT),
        ("ruff.toml", "not toml at all [", LONG_LINE_SPLIT),
    ],
    ids=[
        "ruff-120",
        "black-120",
        "ruff-wins-over-black",
        "ruff-toml",
        "dot-ruff-toml",
        "ruff-without-length-is-88",
        "no-formatter-config-is-88",
        "malformed-is-ignored",
    ],
)
def test_line_length_comes_from_the_project_formatter_config(
    tmp_path: Path, config_name: str, config: str, expected: str
) -> None:
    write(tmp_path / config_name, config)
    target = write(tmp_path / "tests" / "test_a.py", LONG_LINE_TEST)

    out = run_cli("--apply", "--select", "model-id", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert target.read_text() == expected


def test_line_length_is_the_nearest_config_per_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ruff]\nline-length = 120\n")
    write(tmp_path / "tests" / "strict" / "ruff.toml", "line-length = 88\n")
    # A subpackage's pyproject.toml without formatter settings does not stop the search.
    write(tmp_path / "tests" / "pkg" / "pyproject.toml", "[project]\nname = 'sub'\n")
    wide = write(tmp_path / "tests" / "test_wide.py", LONG_LINE_TEST)
    strict = write(tmp_path / "tests" / "strict" / "test_strict.py", LONG_LINE_TEST)
    nested = write(tmp_path / "tests" / "pkg" / "test_pkg.py", LONG_LINE_TEST)

    out = run_cli("--apply", "--select", "model-id", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert wide.read_text() == LONG_LINE_KEPT
    assert nested.read_text() == LONG_LINE_KEPT
    assert strict.read_text() == LONG_LINE_SPLIT


@pytest.mark.parametrize("run", [run_cli, run_script], ids=["in-process", "script"])
@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("tests/test_hf_gpt2_export.py", "named for it (test_hf_gpt2_export.py)"),
        ("tests/gpt2_test.py", "named for it (gpt2_test.py)"),
        ("tests/models/gpt2/test_loading.py", "under a gpt2/ folder"),
    ],
)
def test_file_whose_path_names_gpt2_keeps_its_ids(
    run: Any, relative: str, why: str, tmp_path: Path
) -> None:
    """A file named for GPT2 (or under a gpt2/ folder) tests GPT2: its ids stay, as info."""
    code = (
        "from transformers import AutoModelForCausalLM\n\n\n"
        "def test_load():\n"
        '    assert AutoModelForCausalLM.from_pretrained("gpt2")\n'
    )
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(code, encoding="utf-8")
    out = run("--apply", "--format", "json", relative, cwd=tmp_path)
    assert out.code == 0, out.stdout + out.stderr
    [entry] = json.loads(out.stdout)["files"]
    [finding] = entry["findings"]
    assert (finding["decision"], finding["safety"], entry["changed"]) == ("keep", "info", False)
    assert why in finding["message"]
    assert path.read_text(encoding="utf-8") == code
    # The same code in a file that does not name GPT2 migrates.
    other = tmp_path / "tests" / "test_other_loading.py"
    other.write_text(code, encoding="utf-8")
    assert run("--apply", "-q", "tests/test_other_loading.py", cwd=tmp_path).code == 0
    assert '"gpt2"' not in other.read_text(encoding="utf-8")


@pytest.mark.parametrize("run", [run_cli, run_script], ids=["in-process", "script"])
def test_diff_of_an_absolute_path_shows_it_as_it_is(run: Any, tmp_path: Path) -> None:
    """A path outside the working directory is shown as it is (no ``a//abs/...``), as
    ``diff -u`` shows it (``patch -p0`` applies it); relative paths keep git's a/ b/."""
    target = tmp_path / "suite" / "test_abs.py"
    target.parent.mkdir()
    target.write_text(GPT2_TEST, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run("--diff", str(target), cwd=elsewhere)
    assert out.code == 0, out.stderr
    assert out.stdout.splitlines()[:2] == [f"--- {target}", f"+++ {target}"]
    relative = run("--diff", "suite/test_abs.py", cwd=tmp_path)
    assert relative.stdout.splitlines()[:2] == [
        "--- a/suite/test_abs.py",
        "+++ b/suite/test_abs.py",
    ]
