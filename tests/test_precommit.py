"""The real pre-commit (from PyPI) runs both hooks of this repository in a scratch git repo.

``pre-commit try-repo`` installs this checkout into its own virtual environment exactly as a
user's ``.pre-commit-config.yaml`` would, so this also proves the package installs cleanly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROOT

STAGED = """from transformers import AutoModelForCausalLM


def test_loads():
    model = AutoModelForCausalLM.from_pretrained("gpt2")
    assert model is not None
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture
def scratch_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if shutil.which("git") is None:
        pytest.fail("git is required for the pre-commit test")
    repo = tmp_path / "project"
    repo.mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    for args in (["git", "init", "-q"], ["git", "config", "commit.gpgsign", "false"]):
        assert _run(args, repo, env).returncode == 0
    (repo / "test_model.py").write_text(STAGED)
    assert _run(["git", "add", "test_model.py"], repo, env).returncode == 0
    return repo, env


def test_hooks_fix_and_check_a_staged_file(scratch_repo: tuple[Path, dict[str, str]]) -> None:
    repo, env = scratch_repo
    pre_commit = str(Path(sys.executable).parent / "pre-commit")
    try_repo = [pre_commit, "try-repo", str(ROOT)]

    check = _run([*try_repo, "migrate-tests-check", "--files", "test_model.py"], repo, env)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "Failed" in check.stdout and "test_model.py" in check.stdout
    assert (repo / "test_model.py").read_text() == STAGED  # the check hook writes nothing

    fix = _run([*try_repo, "migrate-tests", "--files", "test_model.py"], repo, env)
    # pre-commit fails a hook that modified files, so the user re-stages the fix.
    assert fix.returncode == 1, fix.stdout + fix.stderr
    assert "files were modified by this hook" in fix.stdout
    fixed = (repo / "test_model.py").read_text()
    assert fixed == STAGED.replace('"gpt2"', '"HuggingFaceTB/SmolLM2-135M-Instruct"')

    again = _run([*try_repo, "migrate-tests-check", "--files", "test_model.py"], repo, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Passed" in again.stdout
