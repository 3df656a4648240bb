"""Bindings that cross files, end to end through the command line (SPEC §4 "Bindings").

A ``conftest.py`` fixture and a module constant are one binding with every file that uses
them (``migrator/crossfile.py``): the decision taken for the id in the exporting file must
follow from the evidence in the importing files, and the importing files must be rewritten
consistently with it. Every test runs twice: in-process through click (``run_cli``) and through
the installed ``migrate-tests`` console script in a subprocess (``run_script``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrator.models import ModelMap

from .helpers import Outcome, run_cli, run_script

Runner = Callable[..., Outcome]

RUNNERS = pytest.mark.parametrize("run", [run_cli, run_script], ids=["in-process", "script"])

# The default target of "gpt2" (migrator/models.py), and the fact pad-token relies on.
TARGET = ModelMap.build().target_of("gpt2") or ""
assert TARGET, "gpt2 has no default target"
assert ModelMap.build().facts(TARGET).has_pad_token is True

MODEL_CONFTEST = """\
import pytest
from transformers import AutoModelForCausalLM


@pytest.fixture
def model():
    return AutoModelForCausalLM.from_pretrained("gpt2")
"""

HOOKS_TEST = """\
def test_hook(model):
    layer = model.transformer.h[0].attn.c_attn
    assert layer is not None
"""

TOKENIZER_CONFTEST = """\
import pytest
from transformers import AutoTokenizer


@pytest.fixture
def tokenizer():
    return AutoTokenizer.from_pretrained("gpt2")
"""

WORKAROUND = "    tokenizer.pad_token = tokenizer.eos_token\n"
PAD_TEST = f"""\
def test_pad(tokenizer):
{WORKAROUND}    batch = tokenizer(["a", "bb"], padding=True)
    assert batch["attention_mask"][0][-1] == 0
"""

CONSTANTS = 'MODEL_ID = "gpt2"\n'

LOAD_TEST = """\
from transformers import AutoModelForCausalLM

from {module} import MODEL_ID


def test_load():
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID)
    assert model is not None
"""

INTERNALS_TEST = """\
from transformers import AutoModelForCausalLM

from {module} import MODEL_ID


def test_blocks():
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID)
    assert len(model.transformer.h) == 12
"""


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8"))
    return path


def migrated(text: str) -> bytes:
    return text.replace('"gpt2"', f'"{TARGET}"').encode("utf-8")


def report(outcome: Outcome) -> dict[str, dict[str, Any]]:
    """The JSON report's file entries by path."""
    assert outcome.stdout.strip(), f"no JSON on stdout; stderr: {outcome.stderr}"
    data: dict[str, Any] = json.loads(outcome.stdout)
    return {entry["path"]: entry for entry in data["files"]}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))}


def assert_second_apply_changes_nothing(run: Runner, root: Path) -> None:
    before = snapshot(root)
    again = run("--apply", "--format", "json", "tests", cwd=root)
    assert again.code == 0, again.stdout + again.stderr
    assert snapshot(root) == before
    data = json.loads(again.stdout)
    assert data["summary"]["changed"] == 0
    assert [(e["path"], e["changed"], e["written"]) for e in data["files"]] == [
        (path, False, False) for path in sorted(before)
    ]
    check = run("--check", "tests", cwd=root)
    assert check.code == 0, check.stdout + check.stderr


# -- 1. a conftest fixture whose users rely on GPT2 internals --------------------------------


@RUNNERS
def test_fixture_used_with_gpt2_internals_elsewhere_keeps_its_id(
    run: Runner, tmp_path: Path
) -> None:
    conftest = write(tmp_path / "tests" / "conftest.py", MODEL_CONFTEST)
    hooks = write(tmp_path / "tests" / "models" / "test_hooks.py", HOOKS_TEST)

    out = run("--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    files = report(out)
    assert sorted(files) == ["tests/conftest.py", "tests/models/test_hooks.py"]
    entry = files["tests/conftest.py"]
    assert (entry["status"], entry["changed"]) == ("clean", False)
    [finding] = entry["findings"]
    assert finding["rule"] == "model-id"
    assert finding["safety"] == "info"
    assert finding["decision"] == "keep"
    assert finding["source_id"] == "gpt2"
    assert (finding["line"], finding["fixed"]) == (7, False)
    # The reason names the evidence: the other file and the internals it touches.
    assert "tests/models/test_hooks.py:" in finding["message"]
    assert "transformer.h" in finding["message"]
    assert files["tests/models/test_hooks.py"]["findings"] == []

    diff = run("--diff", "tests", cwd=tmp_path)
    assert (diff.code, diff.stdout) == (0, "")

    applied = run("--apply", "tests", cwd=tmp_path)
    assert applied.code == 0, applied.stderr
    assert conftest.read_bytes() == MODEL_CONFTEST.encode()
    assert hooks.read_bytes() == HOOKS_TEST.encode()
    assert_second_apply_changes_nothing(run, tmp_path)


@RUNNERS
def test_fixture_is_kept_when_only_the_conftest_is_in_the_run(run: Runner, tmp_path: Path) -> None:
    """The user of the fixture is read even when it is not part of the run."""
    conftest = write(tmp_path / "tests" / "conftest.py", MODEL_CONFTEST)
    write(tmp_path / "tests" / "models" / "test_hooks.py", HOOKS_TEST)

    out = run("--apply", "--format", "json", "tests/conftest.py", cwd=tmp_path)

    assert out.code == 0, out.stderr
    [finding] = report(out)["tests/conftest.py"]["findings"]
    assert (finding["decision"], finding["safety"]) == ("keep", "info")
    assert "tests/models/test_hooks.py:" in finding["message"]
    assert conftest.read_bytes() == MODEL_CONFTEST.encode()


NAME_CHECK_TEST = """\
def test_remembers_its_checkpoint(model):
    assert model.config._name_or_path == "gpt2"
"""


@RUNNERS
def test_id_compared_with_a_conftest_fixture_changes_with_it(run: Runner, tmp_path: Path) -> None:
    """The id a test compares with the model a conftest fixture loaded from it is the same
    checkpoint: both migrate, or the file called ready would fail. Without the conftest in the
    run, both stay."""
    conftest = write(tmp_path / "tests" / "conftest.py", MODEL_CONFTEST)
    check = write(tmp_path / "tests" / "test_name.py", NAME_CHECK_TEST)

    alone = run("--apply", "--format", "json", "tests/test_name.py", cwd=tmp_path)
    assert alone.code == 0, alone.stderr
    [finding] = report(alone)["tests/test_name.py"]["findings"]
    assert (finding["decision"], finding["fixed"]) == ("keep", False)
    assert check.read_bytes() == NAME_CHECK_TEST.encode()

    both = run("--apply", "--format", "json", "tests", cwd=tmp_path)
    assert both.code == 0, both.stderr
    files = report(both)
    assert (files["tests/test_name.py"]["status"], files["tests/test_name.py"]["changed"]) == (
        "ready",
        True,
    )
    assert check.read_text() == NAME_CHECK_TEST.replace('"gpt2"', f'"{TARGET}"')
    assert f'from_pretrained("{TARGET}")' in conftest.read_text()
    assert_second_apply_changes_nothing(run, tmp_path)


# -- 2. a conftest tokenizer fixture and the workaround in the test that takes it ------------


@RUNNERS
def test_fixture_migrates_together_with_the_workaround_of_its_user(
    run: Runner, tmp_path: Path
) -> None:
    conftest = write(tmp_path / "tests" / "conftest.py", TOKENIZER_CONFTEST)
    pad = write(tmp_path / "tests" / "test_pad.py", PAD_TEST)

    out = run("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stdout + out.stderr
    assert conftest.read_bytes() == migrated(TOKENIZER_CONFTEST)
    assert pad.read_bytes() == PAD_TEST.replace(WORKAROUND, "").encode()
    files = report(out)
    [model_id] = files["tests/conftest.py"]["findings"]
    assert (model_id["rule"], model_id["decision"], model_id["fixed"]) == (
        "model-id",
        "migrate",
        True,
    )
    assert files["tests/conftest.py"]["written"] is True
    assert [(f["rule"], f["line"], f["fixed"]) for f in files["tests/test_pad.py"]["findings"]] == [
        ("pad-token", 2, True)
    ]
    assert files["tests/test_pad.py"]["written"] is True
    assert_second_apply_changes_nothing(run, tmp_path)


@RUNNERS
def test_user_of_the_fixture_alone_keeps_its_workaround(run: Runner, tmp_path: Path) -> None:
    """Staged rollout: the conftest is not in the run, so it still serves GPT2, and the test
    that takes its tokenizer still needs the workaround."""
    conftest = write(tmp_path / "tests" / "conftest.py", TOKENIZER_CONFTEST)
    pad = write(tmp_path / "tests" / "test_pad.py", PAD_TEST)

    diff = run("--diff", "tests/test_pad.py", cwd=tmp_path)
    assert (diff.code, diff.stdout) == (0, "")

    out = run("--apply", "--format", "json", "tests/test_pad.py", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert pad.read_bytes() == PAD_TEST.encode()
    assert conftest.read_bytes() == TOKENIZER_CONFTEST.encode()
    entry = report(out)["tests/test_pad.py"]
    assert (entry["status"], entry["changed"], entry["written"]) == ("clean", False, False)
    assert entry["findings"] == []


@RUNNERS
def test_staged_rollout_finishes_once_the_conftest_is_migrated(run: Runner, tmp_path: Path) -> None:
    """First the conftest alone, then its user alone: the fixture now loads the target, so the
    user's workaround goes in the second step (SPEC §4: known targets count as migrated)."""
    conftest = write(tmp_path / "tests" / "conftest.py", TOKENIZER_CONFTEST)
    pad = write(tmp_path / "tests" / "test_pad.py", PAD_TEST)

    first = run("--apply", "-q", "tests/conftest.py", cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert conftest.read_bytes() == migrated(TOKENIZER_CONFTEST)
    assert pad.read_bytes() == PAD_TEST.encode()

    second = run("--apply", "--format", "json", "tests/test_pad.py", cwd=tmp_path)
    assert second.code == 0, second.stderr
    assert pad.read_bytes() == PAD_TEST.replace(WORKAROUND, "").encode()
    entry = report(second)["tests/test_pad.py"]
    assert [(f["rule"], f["line"], f["fixed"]) for f in entry["findings"]] == [
        ("pad-token", 2, True)
    ]
    assert_second_apply_changes_nothing(run, tmp_path)


# -- 3. a module constant imported by other files -------------------------------------------

IMPORT_STYLES = pytest.mark.parametrize(
    ("module", "package"),
    [("constants", False), (".constants", True)],
    ids=["absolute", "relative"],
)


def constants_suite(root: Path, module: str, package: bool) -> tuple[Path, Path]:
    if package:
        write(root / "tests" / "__init__.py", "")
    constants = write(root / "tests" / "constants.py", CONSTANTS)
    load = write(root / "tests" / "test_load.py", LOAD_TEST.format(module=module))
    return constants, load


@RUNNERS
@IMPORT_STYLES
def test_constant_loaded_in_another_file_is_migrated(
    run: Runner, tmp_path: Path, module: str, package: bool
) -> None:
    constants, load = constants_suite(tmp_path, module, package)
    load_bytes = load.read_bytes()

    out = run("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stdout + out.stderr
    assert constants.read_bytes() == migrated(CONSTANTS)
    assert load.read_bytes() == load_bytes
    [finding] = report(out)["tests/constants.py"]["findings"]
    assert (finding["rule"], finding["decision"], finding["line"], finding["fixed"]) == (
        "model-id",
        "migrate",
        1,
        True,
    )
    assert_second_apply_changes_nothing(run, tmp_path)


@RUNNERS
def test_constant_without_a_loader_anywhere_is_not_migrated(run: Runner, tmp_path: Path) -> None:
    """The counter-case of the test above: the migration there comes from the other file."""
    constants = write(tmp_path / "tests" / "constants.py", CONSTANTS)

    out = run("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    [finding] = report(out)["tests/constants.py"]["findings"]
    assert (finding["decision"], finding["safety"], finding["fixed"]) == ("review", "review", False)
    # Review: not rewritten, and a marker goes on the line above it, once.
    marker, rest = constants.read_text().split("\n", 1)
    assert marker.startswith("# migrate-tests: review(model-id): ")
    assert rest == CONSTANTS


@RUNNERS
@IMPORT_STYLES
def test_constant_is_kept_when_another_importer_relies_on_gpt2_internals(
    run: Runner, tmp_path: Path, module: str, package: bool
) -> None:
    constants, load = constants_suite(tmp_path, module, package)
    internals = write(
        tmp_path / "tests" / "test_internals.py", INTERNALS_TEST.format(module=module)
    )
    before = snapshot(tmp_path)

    out = run("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stdout + out.stderr
    assert snapshot(tmp_path) == before
    files = report(out)
    [finding] = files["tests/constants.py"]["findings"]
    assert (finding["rule"], finding["safety"], finding["decision"]) == ("model-id", "info", "keep")
    assert finding["source_id"] == "gpt2"
    assert "tests/test_internals.py:" in finding["message"]
    assert "test_blocks" in finding["message"]
    assert "transformer.h" in finding["message"]
    assert files["tests/test_load.py"]["findings"] == []
    assert files["tests/test_internals.py"]["findings"] == []
    assert internals.read_bytes() == INTERNALS_TEST.format(module=module).encode()
    assert load.read_bytes() == LOAD_TEST.format(module=module).encode()
    assert constants.read_bytes() == CONSTANTS.encode()
    assert_second_apply_changes_nothing(run, tmp_path)


@RUNNERS
@pytest.mark.parametrize("target", ["tests", "tests/utils/constants.py"])
def test_constant_in_a_subpackage_sees_importers_above_it(
    run: Runner, tmp_path: Path, target: str
) -> None:
    """``tests/utils/constants.py`` is used by a file in ``tests/utils`` that only loads it and
    by ``tests/test_internals.py`` (above it) that relies on GPT2 internals: the constant is
    kept, whether the whole suite or only the constants module is in the run."""
    write(tmp_path / "tests" / "__init__.py", "")
    write(tmp_path / "tests" / "utils" / "__init__.py", "")
    write(tmp_path / "tests" / "utils" / "constants.py", CONSTANTS)
    write(tmp_path / "tests" / "utils" / "test_smoke.py", LOAD_TEST.format(module=".constants"))
    write(
        tmp_path / "tests" / "test_internals.py", INTERNALS_TEST.format(module=".utils.constants")
    )
    before = snapshot(tmp_path)

    out = run("--apply", "--format", "json", target, cwd=tmp_path)

    assert out.code == 0, out.stdout + out.stderr
    assert snapshot(tmp_path) == before
    [finding] = report(out)["tests/utils/constants.py"]["findings"]
    assert (finding["safety"], finding["decision"]) == ("info", "keep")
    assert "tests/test_internals.py:" in finding["message"]


# -- 4. a parametrized argument shadows a fixture of the same name ---------------------------

ID_CONFTEST = """\
import pytest


@pytest.fixture
def model_id():
    return "gpt2"
"""

SHADOWING_TEST = """\
import pytest
from transformers import AutoModelForCausalLM

ARCHITECTURES = ["org/llama-tiny", "org/mistral-tiny"]


def test_default(model_id):
    assert AutoModelForCausalLM.from_pretrained(model_id)


@pytest.mark.parametrize("model_id", ARCHITECTURES)
def test_every_architecture(model_id):
    assert model_id.lower().startswith("org/")
"""


@RUNNERS
def test_parametrized_argument_is_not_the_fixture(run: Runner, tmp_path: Path) -> None:
    """``test_every_architecture``'s ``model_id`` comes from its parametrize rows, not from
    the conftest: what it does with the value is no evidence about the fixture's id."""
    conftest = write(tmp_path / "tests" / "conftest.py", ID_CONFTEST)
    user = write(tmp_path / "tests" / "test_models.py", SHADOWING_TEST)

    out = run("--apply", "--format", "json", "tests", cwd=tmp_path)

    assert out.code == 0, out.stderr
    assert conftest.read_bytes() == migrated(ID_CONFTEST)
    assert user.read_bytes() == SHADOWING_TEST.encode()
    [finding] = report(out)["tests/conftest.py"]["findings"]
    assert (finding["decision"], finding["fixed"]) == ("migrate", True)
    assert_second_apply_changes_nothing(run, tmp_path)


# -- 5. ids given to functions imported from the project's own modules -----------------------

HELPERS_MODULE = """\
import os

from transformers import AutoModelForCausalLM, AutoTokenizer

ASSETS = os.path.join(os.path.dirname(__file__), "assets")


def load_tokenizer(name):
    return AutoTokenizer.from_pretrained(name)


def assets_tokenizer(name):
    return AutoTokenizer.from_pretrained(os.path.join(ASSETS, name))


def first_block(name):
    model = AutoModelForCausalLM.from_pretrained(name)
    return model.transformer.h[0]


def describe(name):
    return summarize(name)
"""

HELPER_USERS = """\
from tests.utils.helpers import assets_tokenizer, describe, first_block
from .utils.helpers import load_tokenizer as load


def test_loaded():
    assert load("gpt2").eos_token


def test_assets():
    assert assets_tokenizer("gpt2")


def test_block():
    assert first_block(name="gpt2") is not None


def test_described():
    assert describe("gpt2")
"""


@RUNNERS
def test_id_given_to_an_imported_helper_follows_the_helper(run: Runner, tmp_path: Path) -> None:
    """An id passed to a function imported from the project goes where that function's
    parameter goes in its own file: a loader (migrate), a file path (a folder's name: keep),
    GPT2 internals (keep), an unknown call (review). The helpers' module need not be in the
    run, and is never written."""
    helpers = write(tmp_path / "tests" / "utils" / "helpers.py", HELPERS_MODULE)
    write(tmp_path / "tests" / "utils" / "__init__.py", "")
    write(tmp_path / "tests" / "__init__.py", "")
    users = write(tmp_path / "tests" / "test_users.py", HELPER_USERS)

    out = run("--apply", "--format", "json", "tests/test_users.py", cwd=tmp_path)

    assert out.code == 0, out.stderr
    findings = report(out)["tests/test_users.py"]["findings"]
    decisions = {
        f["line"]: (f["decision"], f["fixed"]) for f in findings if f["rule"] == "model-id"
    }
    assert decisions == {
        6: ("migrate", True),
        10: ("keep", False),
        14: ("keep", False),
        18: ("review", False),
    }
    by_line = {f["line"]: f["message"] for f in findings if f["rule"] == "model-id"}
    assert "a folder's name" in by_line[10] and "tests/utils/helpers.py:13" in by_line[10]
    assert "relies on GPT2" in by_line[14] and "transformer.h" in by_line[14]
    assert "summarize()" in by_line[18]
    text = users.read_text()
    assert text.count(f'"{TARGET}"') == 1 and f'load("{TARGET}")' in text
    assert helpers.read_bytes() == HELPERS_MODULE.encode()
    before = snapshot(tmp_path)
    again = run("--apply", "--format", "json", "tests/test_users.py", cwd=tmp_path)
    assert again.code == 0 and snapshot(tmp_path) == before
