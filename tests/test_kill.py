"""``--apply`` killed at any moment leaves every file whole (SPEC §6: atomic writes).

A suite of ~300 small GPT2 test files is migrated by the installed console script with
``-j 2`` and its whole process group is SIGKILLed at several points of the run. Each file must
then be byte-identical to its original or to its fully migrated version (never half-written),
any temp file left behind must carry the recognisable ``.<name>.migrate-tests-XXXX.tmp`` name,
and the next ``--apply`` must ignore such temp files as input, finish the migration, and clean
them up.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrator.models import SOURCE_IDS

from .helpers import ROOT, run_script, script

# Repeated subprocess runs over a 300-file suite: not in the default run (``-m slow``).
pytestmark = pytest.mark.slow

FILES = 300
SUBDIRS = ("trainers", "models", "utils")
FIXED_KILL_POINTS = (0.05, 0.1, 0.2, 0.4)
RANDOM_KILL_POINTS = 3
SEED = 20240611
TEMP_NAME = re.compile(r"^\.(?P<name>.+\.py)\.migrate-tests-[A-Za-z0-9_-]+\.tmp$")

GPT2_IDS = sorted(SOURCE_IDS)
CLASSES = ("GPT2LMHeadModel", "GPT2Model", "GPT2Tokenizer", "GPT2TokenizerFast", "GPT2Config")


def _module(index: int) -> str:
    """One small test file; the shape and the id vary with ``index``."""
    model_id = GPT2_IDS[index % len(GPT2_IDS)]
    shape = index % 7
    if shape == 0:
        return (
            "from transformers import AutoModelForCausalLM\n\n"
            f'MODEL_ID = "{model_id}"\n\n\n'
            f"def test_load_{index}():\n"
            "    model = AutoModelForCausalLM.from_pretrained(MODEL_ID)\n"
            "    assert model is not None\n"
        )
    if shape == 1:
        cls = CLASSES[index % len(CLASSES)]
        return (
            f"from transformers import {cls}\n\n\n"
            f"def test_class_{index}():\n"
            f'    obj = {cls}.from_pretrained("{model_id}")\n'
            "    assert obj is not None\n"
        )
    if shape == 2:
        return (
            "import unittest\n\n"
            "from transformers import AutoTokenizer\n\n\n"
            f"class Test{index}(unittest.TestCase):\n"
            "    def setUp(self):\n"
            f'        self.model_id = "{model_id}"\n\n'
            "    def test_tokenizer(self):\n"
            "        tokenizer = AutoTokenizer.from_pretrained(self.model_id)\n"
            "        self.assertIsNotNone(tokenizer)\n"
        )
    if shape == 3:
        return (
            "import subprocess\n\n\n"
            f"def test_cli_{index}(tmp_path):\n"
            f'    cmd = "trl sft --model_name_or_path {model_id} --max_steps 1 --output_dir out"\n'
            "    subprocess.run(cmd.split(), check=True, cwd=tmp_path)\n"
        )
    if shape == 4:
        # Nothing to change: its migrated bytes are its original bytes.
        return (
            f'"""Helpers for suite {index}; no GPT2 here."""\n\n\n'
            f"def helper_{index}(values):\n"
            "    return [v * 2 for v in values if v]\n"
        )
    if shape == 5:
        return (
            "import pytest\n"
            "from transformers import AutoModelForCausalLM\n\n\n"
            f'@pytest.mark.parametrize("model_id", ["{model_id}", "distilgpt2"])\n'
            f"def test_param_{index}(model_id):\n"
            "    model = AutoModelForCausalLM.from_pretrained(model_id)\n"
            "    assert model is not None\n"
        )
    # A bigger file: more work per file, so kills land inside the writes too.
    body = "".join(
        f"\n\ndef test_many_{index}_{k}():\n"
        f'    model = AutoModelForCausalLM.from_pretrained("{GPT2_IDS[(index + k) % len(GPT2_IDS)]}")\n'
        f"    assert model.config.vocab_size > {k}  # gpt2 vocabulary\n"
        for k in range(4)
    )
    return "from transformers import AutoModelForCausalLM\n" + body


def _suite() -> dict[str, bytes]:
    return {
        f"{SUBDIRS[i % len(SUBDIRS)]}/test_{i:03d}.py": _module(i).encode() for i in range(FILES)
    }


def _lay(tree: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _temp_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and ".migrate-tests-" in p.name)


def _unexpected(tree: Path, files: dict[str, bytes]) -> list[str]:
    """Every file in ``tree`` that is neither a suite file nor a migrate-tests temp file."""
    return sorted(
        rel
        for p in tree.rglob("*")
        if p.is_file()
        and (rel := p.relative_to(tree).as_posix()) not in files
        and ".migrate-tests-" not in p.name
    )


def _group_members(pgid: int) -> list[str]:
    """States (``R``, ``S``, ``D``, ``Z``...) of the processes of group ``pgid``, from /proc."""
    states = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            states.append(fields[0])
    return states


def _wait_group(pgid: int, *, reaped: bool, timeout: float = 10.0) -> bool:
    """Wait until no process of the group runs (``reaped``: nor lingers as a zombie)."""
    if not Path("/proc").is_dir():
        time.sleep(0.5)
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = _group_members(pgid)
        if not [m for m in members if reaped or m != "Z"]:
            return True
        time.sleep(0.02)
    return False


def _kill_after(tree: Path, delay: float) -> int:
    """Start ``--apply -j 2`` in ``tree``, SIGKILL its whole process group after ``delay``
    seconds; return the group id once none of its processes runs any more."""
    proc = subprocess.Popen(
        [script(), "--apply", "-j", "2", "-q", "."],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # finished before the kill point
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _wait_group(proc.pid, reaped=False), f"group {proc.pid} still runs after SIGKILL"
    return proc.pid


def _json_paths(stdout: str) -> list[str]:
    report = json.loads(stdout)
    return sorted(entry["path"] for entry in report["files"])


def _reference(tmp_path: Path, originals: dict[str, bytes]) -> tuple[dict[str, bytes], float]:
    """The fully migrated bytes of every file, and how long a whole ``-j 2`` run takes."""
    tree = tmp_path / "reference"
    _lay(tree, originals)
    start = time.monotonic()
    outcome = run_script("--apply", "-j", "2", "-q", ".", cwd=tree)
    elapsed = time.monotonic() - start
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    migrated = {name: (tree / name).read_bytes() for name in originals}
    assert _temp_files(tree) == [], "a complete run left temp files"
    return migrated, elapsed


def test_sigkill_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    originals = _suite()
    migrated, full_run = _reference(tmp_path, originals)
    changed = [n for n in originals if migrated[n] != originals[n]]
    assert len(changed) > FILES * 0.8, "the generated suite should mostly need migrating"

    rng = random.Random(SEED)
    kill_points = [
        *FIXED_KILL_POINTS,
        *(round(rng.uniform(0.3 * full_run, 0.9 * full_run), 3) for _ in range(RANDOM_KILL_POINTS)),
    ]
    leftovers_seen: list[str] = []
    states: list[str] = []
    killed: list[tuple[Path, int, str]] = []
    for number, delay in enumerate(kill_points):
        tree = tmp_path / f"kill-{number}"
        _lay(tree, originals)
        pgid = _kill_after(tree, delay)
        where = f"SIGKILL after {delay}s (run {number})"
        killed.append((tree, pgid, where))

        done = 0
        for name, original in originals.items():
            data = (tree / name).read_bytes()
            assert data in (original, migrated[name]), (
                f"{where}: {name} is neither its original nor its migrated version"
            )
            done += data != original
        states.append(f"{delay}s: {done}/{len(changed)} migrated")

        assert _unexpected(tree, originals) == [], f"{where}: unexpected files appeared"
        for temp in _temp_files(tree):
            match = TEMP_NAME.match(temp.name)
            assert match, f"{where}: leftover {temp.name!r} lacks the recognisable temp name"
            rel = (temp.parent / match.group("name")).relative_to(tree).as_posix()
            assert rel in originals, f"{where}: temp file {temp.name!r} names no suite file"
            assert migrated[rel].startswith(temp.read_bytes()), (
                f"{where}: {temp.name!r} holds something other than (a prefix of) the new bytes"
            )
            leftovers_seen.append(f"{where}: {temp.relative_to(tree).as_posix()}")

    # The next run on each tree (once init has reaped the killed processes, as it does at
    # once on an ordinary system): temp files are not input, the migration completes, and
    # the temp files are gone.
    stray_after_rerun: list[str] = []
    for tree, pgid, where in killed:
        untouched = _temp_files(tree) == [] and all(
            (tree / name).read_bytes() == data for name, data in originals.items()
        )
        if untouched:  # killed before any write: the rerun would be the reference run again
            shutil.rmtree(tree)
            continue
        _wait_group(pgid, reaped=True)
        outcome = run_script("--apply", "-j", "2", "--format", "json", ".", cwd=tree)
        assert outcome.code == 0, f"{where}: rerun failed\n{outcome.stdout}{outcome.stderr}"
        assert _json_paths(outcome.stdout) == sorted(originals), (
            f"{where}: the rerun did not process exactly the suite's Python files"
        )
        for name in originals:
            assert (tree / name).read_bytes() == migrated[name], (
                f"{where}: {name} not fully migrated by the rerun"
            )
        stray_after_rerun += [f"{where}: {t.relative_to(tree)}" for t in _temp_files(tree)]
        shutil.rmtree(tree)

    print(f"kill states: {states}; temp files left by the kills: {leftovers_seen}")
    assert stray_after_rerun == [], (
        "temp files of a killed run survived the next --apply (SPEC: the next run cleans them): "
        f"{stray_after_rerun}; kill states: {states}; leftovers seen: {leftovers_seen}"
    )


# A child process that dies inside ``write_atomic``, between writing the temp file and renaming
# it over the target: the temp file it leaves is named exactly as the tool names it.
DIE_MID_WRITE = """\
import os, signal, sys
from pathlib import Path

from migrator import writer

def die(fd):
    os.kill(os.getpid(), signal.SIGKILL)

os.fsync = die
target = Path(sys.argv[1])
writer.write_atomic(target, target.read_bytes(), Path(sys.argv[2]).read_bytes())
"""


def _die_mid_write(target: Path, new_bytes: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DIE_MID_WRITE, str(target), str(new_bytes)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


def test_next_run_ignores_and_cleans_a_killed_runs_temp_files(tmp_path: Path) -> None:
    """Deterministic kill mid-write: three files each get the temp file of a writer killed
    just before its rename; the next ``--apply`` must not take them as input, must finish
    the migration, and must remove them (and nothing else)."""
    originals = {name: data for name, data in _suite().items() if name.endswith(("0.py", "1.py"))}
    migrated, _ = _reference(tmp_path, originals)
    tree = tmp_path / "tree"
    _lay(tree, originals)
    victims = sorted(n for n in originals if migrated[n] != originals[n])[:3]
    for name in victims:
        new = tmp_path / "new.bytes"
        new.write_bytes(migrated[name])
        _die_mid_write(tree / name, new)
        assert (tree / name).read_bytes() == originals[name], f"{name} changed by a killed write"
    temps = _temp_files(tree)
    assert len(temps) == len(victims), f"expected one temp file per killed write: {temps}"
    for temp in temps:
        match = TEMP_NAME.match(temp.name)
        assert match, f"{temp.name!r} lacks the recognisable temp name"
        assert (temp.parent / match.group("name")).relative_to(tree).as_posix() in victims
    user_file = tree / Path(victims[0]).parent / f".{Path(victims[0]).name}.orig"
    user_file.write_bytes(b"a user's backup, not ours\n")

    outcome = run_script("--apply", "-j", "2", "--format", "json", ".", cwd=tree)
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert _json_paths(outcome.stdout) == sorted(originals), "temp files were taken as input"
    for name in originals:
        assert (tree / name).read_bytes() == migrated[name], f"{name} not fully migrated"
    assert user_file.exists(), "the cleanup removed a file that is not a migrate-tests temp file"
    remaining = [t.relative_to(tree).as_posix() for t in _temp_files(tree)]
    assert remaining == [], f"stale migrate-tests temp files survived the next --apply: {remaining}"


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
    return sorted(kids)


def test_ctrl_c_to_the_main_process_alone_stops_every_process(tmp_path: Path) -> None:
    """SIGINT to the main process only (not its group): it stops its children too, at any
    point, instead of waiting on them (or for them) forever."""
    tree = tmp_path / "suite"
    _lay(tree, _suite())
    for delay in (0.15, 0.3, 0.6):
        proc = subprocess.Popen(
            [script(), "--dry-run", "--format", "json", "-j", "2", "."],
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 1), err  # 1: "Aborted!"; 0: done before the signal
        assert "Traceback" not in err.decode()
        assert _wait_group(proc.pid, reaped=False), f"processes of the run outlived it ({delay}s)"


def test_a_killed_applier_does_not_lose_the_run(tmp_path: Path) -> None:
    """SIGKILL of the applier (the child that applies the plans) at several points: the
    main process applies what is left and every file ends fully migrated, exit 0."""
    originals = _suite()
    migrated, _ = _reference(tmp_path, originals)
    for number, delay in enumerate((0.05, 0.25, 0.5)):
        tree = tmp_path / f"applier-{number}"
        _lay(tree, originals)
        proc = subprocess.Popen(
            [script(), "--apply", "-j", "2", "-q", "."],
            cwd=tree,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(delay)
        for child in _children(proc.pid)[:1]:  # the applier is forked first
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out + err).decode()
        for name in originals:
            assert (tree / name).read_bytes() == migrated[name], f"{delay}s: {name}"
        assert _temp_files(tree) == []
        assert _wait_group(proc.pid, reaped=False)
