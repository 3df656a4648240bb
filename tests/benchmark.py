"""Time migrate-tests against the LibCST floors it must stay under (SPEC §6).

Run explicitly: ``python tests/benchmark.py [--quick] [--runs N] [--only real|synthetic]
[--python PATH] [--corpora DIR]``. Each command is a fresh subprocess; a workload's commands run
interleaved, order rotated, after a discarded warm-up round. Reported: median wall and CPU
(user + sys, whole process tree) seconds, and the peak RSS of the largest single process
(workers are not summed).

Synthetic workloads (a)-(d) are built in a temporary directory. The real ones read the corpora
of real projects' test files (``shared/corpora`` beside the repository, else
``/work/shared/corpora``) in place, read-only: only ``--check`` and ``--dry-run`` run on them.
``--python`` selects the interpreter whose libcst and migrate-tests are measured (another
checkout's venv, to measure a baseline).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.discovery import DEFAULT_EXCLUDED_DIRS

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo_suite"
# Real projects' test files, data only: read in place, never copied, never written.
CORPORA_DEFAULTS = tuple(
    dict.fromkeys((REPO.parent / "shared" / "corpora", Path("/work/shared/corpora")))
)
# The interpreter whose libcst and migrate-tests are measured (see select_python / --python).
PY = sys.executable
TOOL: tuple[str, ...] = ()
# GNU time reports the command's own peak RSS; wait4's keeps this script's RSS (across exec).
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")

BARE_NAME = "bare LibCST parse+code"
CODEMOD_NAME = "libcst.tool codemod (no-op)"
IMPORT_NAME = "python -c 'import libcst'"
# The tool as a user runs it (-j defaults to the CPU count) and with a full report: the targets.
TOOL_RUNS = {
    "migrate-tests --check": ("--check", "-q"),
    "migrate-tests --dry-run --format json": ("--dry-run", "--format", "json"),
}
# On one core (-j 1): reported, not a target (the targets are for the machine's cores).
ONE_CORE = {"migrate-tests --check -j 1": ("--check", "-q", "-j", "1")}
# The floor for any LibCST tool: one process that parses every file and regenerates it.
# Its argument is a directory (every *.py under it) or a file listing one path a line.
BARE = """
import pathlib, sys, libcst
arg = pathlib.Path(sys.argv[1])
paths = sorted(arg.rglob("*.py")) if arg.is_dir() else map(pathlib.Path, arg.read_text().splitlines())
for path in paths:
    try:
        libcst.parse_module(path.read_bytes()).code
    except Exception:
        pass
"""
NOOP_CODEMOD = """
import libcst
from libcst.codemod import CodemodCommand

class Noop(CodemodCommand):
    DESCRIPTION = "Parse and regenerate; change nothing."
    def transform_module_impl(self, tree: libcst.Module) -> libcst.Module:
        return tree
"""
SMALL_TEST = """from transformers import AutoModelForCausalLM

def test_generate():
    model = AutoModelForCausalLM.from_pretrained({model_id!r})
    assert model.generate(max_new_tokens=2).shape[-1] > 0
"""
GPT2_ID = re.compile(r"""(["'])[\w./-]*gpt2[\w./-]*\1""", re.IGNORECASE)
RSS_LIMIT = 1.5  # peak RSS of the tool / bare LibCST, for (a) and (b), built and real
VERDICT = {None: "-", True: "PASS", False: "FAIL"}


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Stats:
    wall: float  # median seconds
    cpu: float  # median user + sys seconds of the whole process tree
    rss_mb: float  # largest peak RSS over the runs


@dataclass(frozen=True)
class Row:
    command: str
    workload: str
    stats: Stats
    ratio: str
    target: str
    ok: bool | None
    cpu_ratio: str = "-"
    rss_ratio: str = "-"
    rss_ok: bool | None = None


Timings = dict[str, Stats]
Targets = dict[str, float | None]  # command -> maximum ratio to the reference (None: info only)


def run_once(cmd: Command, cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys, all processes) and peak RSS in KiB."""
    with tempfile.NamedTemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        argv = (GNU_TIME, "-f", "%M", "-o", rss.name, *cmd.argv) if GNU_TIME else cmd.argv
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):  # 1: --check found work; 2 and up: a failure
            detail = Path(err.name).read_text(errors="replace")[-2000:]
            sys.exit(f"{cmd.name} exited {proc.returncode}:\n{' '.join(cmd.argv)}\n{detail}")
        peak = int(rss.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return elapsed, usage.ru_utime + usage.ru_stime, peak


def measure(label: str, commands: Sequence[Command], cwd: Path, runs: int) -> Timings:
    samples: dict[str, list[tuple[float, float, int]]] = {cmd.name: [] for cmd in commands}
    for round_ in range(runs + 1):  # round 0 warms caches and .pyc files; it is discarded
        print(f"  {label}: round {round_}/{runs}, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        shift = round_ % len(commands)
        for cmd in [*commands[shift:], *commands[:shift]]:
            sample = run_once(cmd, cwd)
            if round_:
                samples[cmd.name].append(sample)
    stats = {}
    for name, runs_ in samples.items():
        walls, cpus, rss_kb = zip(*runs_, strict=True)
        stats[name] = Stats(statistics.median(walls), statistics.median(cpus), max(rss_kb) / 1024)
    return stats


def compare(workload: str, stats: Timings, ref_name: str, targets: Targets, rss: bool) -> list[Row]:
    """One row per command: wall-time ratio to ``ref_name`` against its target; CPU; RSS."""
    ref = stats[ref_name]
    rows = [Row(ref_name, workload, ref, "1.00", "reference", None)]
    for name, target in targets.items():
        t = stats[name]
        ratio, rss_ratio = t.wall / ref.wall, t.rss_mb / ref.rss_mb
        ok = None if target is None else ratio <= target
        rss_ok = rss_ratio <= RSS_LIMIT if rss else None
        shown = "info" if target is None else f"<= {target}"
        ratios = f"{ratio:.2f}", shown, ok, f"{t.cpu / ref.cpu:.2f}", f"{rss_ratio:.2f}", rss_ok
        rows.append(Row(name, workload, t, *ratios))
    return rows


def without_gpt2(text: str) -> str:
    text = GPT2_ID.sub(r"\1org/llama-tiny\1", text)
    text = re.sub(r"\bGPT2(\w+)", r"Llama\1", text.replace("GPT2LMHeadModel", "LlamaForCausalLM"))
    text = text.replace("GPT2", "LLAMA").replace("gpt2", "llama").replace("Gpt2", "Llama")
    assert "gpt2" not in text.lower()
    return text


def build_suite(dest: Path, copies: int) -> Path:
    """``copies`` x 40 trainer test files: 20 demo copies with GPT2, 20 rewritten without."""
    dest.mkdir(parents=True)
    demo = sorted(DEMO.glob("*.py"))
    for copy in range(copies):
        for i in range(20):
            src = demo[i % len(demo)]
            text = src.read_text(encoding="utf-8")
            (dest / f"{src.stem}_{copy:02d}_{i:02d}.py").write_text(text, encoding="utf-8")
            clean = dest / f"{src.stem}_{copy:02d}_{i:02d}_llama.py"
            clean.write_text(without_gpt2(text), encoding="utf-8")
    return dest


def build_stdlib(dest: Path, count: int) -> Path:
    """``count`` files spread evenly over the sorted stdlib, all of which ``ast`` parses and
    none of which the tool's discovery excludes (so every command sees the same files)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in walked(root):
        try:
            ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        files.append(path)
    for path in files[:: max(1, len(files) // count)][:count]:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


def walked(root: Path) -> list[Path]:
    """The ``*.py`` files under ``root`` that the tool's directory walk keeps (the default
    excludes; ``root`` must not be in a git work tree that ignores some of them), sorted."""
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if DEFAULT_EXCLUDED_DIRS & set(parts) or any(p.endswith(".egg-info") for p in parts):
            continue
        files.append(path)
    return files


def mentions_gpt2(path: Path) -> bool:
    """The tool's pre-filter, as far as the corpora go: 'gpt2' in any case, in the bytes."""
    return b"gpt2" in path.read_bytes().lower()


def describe(path: Path | Sequence[Path]) -> str:
    files = path if isinstance(path, Sequence) else walked(path)
    size = sum(f.stat().st_size for f in files)
    dirty = sum(1 for f in files if mentions_gpt2(f))
    return f"{len(files)} files, {size / 1024:.0f} KiB, {dirty} mention GPT2"


def find_corpora(given: Path | None) -> Path | None:
    if given is not None:
        return given if given.is_dir() else None
    return next((path for path in CORPORA_DEFAULTS if path.is_dir()), None)


def suite_rows(label: str, path: Path, limit: float, runs: int) -> list[Row]:
    """(a) and (b): the tool, LibCST's own runner and the bare floor on the same tree."""
    codemod = ("codemod", "-x", "--no-format", "--hide-progress", "--include-generated")
    commands = [
        Command(BARE_NAME, (PY, "-c", BARE, path.name)),
        *(
            Command(name, (*TOOL, *args, path.name))
            for name, args in {**TOOL_RUNS, **ONE_CORE}.items()
        ),
        # `python -m` puts the working directory (holding bench_noop.py) first on sys.path.
        Command(CODEMOD_NAME, (PY, "-m", "libcst.tool", *codemod, "bench_noop.Noop", path.name)),
    ]
    timings = measure(label, commands, path.parent, runs)
    targets: Targets = {
        **dict.fromkeys(TOOL_RUNS, limit),
        **dict.fromkeys(ONE_CORE),
        CODEMOD_NAME: None,
    }
    return compare(label, timings, BARE_NAME, targets, rss=True)


def real_rows(corpora: Path, dirty: Sequence[Path], work: Path, runs: int) -> list[Row]:
    """Real projects' test files, read in place (never written: --check and --dry-run only).

    (a) the files that mention GPT2, named explicitly (as a pre-commit hook or a user who
    picked them names them); (b) the whole corpora directory, mostly files the pre-filter
    rejects. The reference parses and regenerates the same files the tool is given (for (b),
    all that its directory walk keeps). LibCST's codemod runner is left out here: it would
    take twice the bare floor's CPU over thousands of files, for an info-only row.
    """
    relative = [f.relative_to(corpora).as_posix() for f in dirty]
    (work / "real_dirty.txt").write_text("\n".join(relative), encoding="utf-8")
    everything = [f.relative_to(corpora).as_posix() for f in walked(corpora)]
    (work / "real_all.txt").write_text("\n".join(everything), encoding="utf-8")
    tool_runs = {**TOOL_RUNS, **ONE_CORE}
    assert all({"--check", "--dry-run"} & set(opts) for opts in tool_runs.values())  # read-only
    rows = []
    for label, listing, args, limit in (
        ("(a) on real code", work / "real_dirty.txt", relative, 1.0),
        ("(b) real corpora, pre-filter", work / "real_all.txt", ["."], 0.05),
    ):
        commands = [
            Command(BARE_NAME, (PY, "-c", BARE, str(listing))),
            *(Command(name, (*TOOL, *opts, *args)) for name, opts in tool_runs.items()),
        ]
        timings = measure(label, commands, corpora, runs)
        targets: Targets = {**dict.fromkeys(TOOL_RUNS, limit), **dict.fromkeys(ONE_CORE)}
        rows += compare(label, timings, BARE_NAME, targets, rss=True)
    return rows


def growth_rows(suites: dict[int, Path], runs: int) -> list[Row]:
    """(c): time per file at each scale, and how straight the growth is (start-up excluded)."""
    growth = {
        scale: Command(f"migrate-tests --check ({scale}x)", (*TOOL, "--check", "-q", path.name))
        for scale, path in suites.items()
    }
    timings = measure("(c) growth", list(growth.values()), suites[1].parent, runs)
    rows = []
    for scale, cmd in growth.items():
        t = timings[cmd.name]
        per_file = f"{t.wall / (40 * scale) * 1000:.1f} ms/file"
        rows.append(Row(cmd.name, f"(c) {40 * scale} files", t, per_file, "info", None))
    wall = linearity(list(suites), [row.stats.wall for row in rows])
    cpu = f"{linearity(list(suites), [row.stats.cpu for row in rows]):.2f}"  # steadier when busy
    label, ok = f"{max(suites)}x vs line through the others", 0.9 <= wall <= 1.1
    return [*rows, Row(label, "(c) growth", rows[-1].stats, f"{wall:.2f}", "0.9..1.1", ok, cpu)]


def linearity(scales: Sequence[int], times: Sequence[float]) -> float:
    """The largest scale's time over the straight line through the two smaller ones."""
    (s1, s2, s3), (t1, t2, t3) = scales, times
    return t3 / (t2 + (t2 - t1) * (s3 - s2) / (s2 - s1))


def hook_rows(work: Path, runs: int) -> list[Row]:
    """(d): one small file named explicitly, as a pre-commit hook runs the tool."""
    commands = [Command(IMPORT_NAME, (PY, "-c", "import libcst"))]
    for kind, model_id in (("clean", "org/llama-tiny"), ("dirty", "gpt2")):
        (work / kind).mkdir()
        (work / kind / "test_small.py").write_text(SMALL_TEST.format(model_id=model_id))
        argv = (*TOOL, "--check", "-q", f"{kind}/test_small.py")
        commands.append(Command(f"migrate-tests --check FILE ({kind})", argv))
    timings = measure("(d) one file", commands, work, runs)
    targets: Targets = {commands[1].name: 0.8, commands[2].name: 1.5}
    return compare("(d) one small file", timings, IMPORT_NAME, targets, rss=False)


# Run in the measured interpreter: byte-compile the tool as pip does when it installs a
# package (libcst's modules were compiled when pip installed them; an editable install of the
# tool is not, and with PYTHONDONTWRITEBYTECODE set, as on this image, every run would compile
# it again), then say which versions are measured.
COMPILE_TOOL = """
import compileall, importlib, sys
from importlib.metadata import version
for name in ("migrator", "migrator.rules"):
    for directory in importlib.import_module(name).__path__:
        compileall.compile_dir(directory, quiet=1, maxlevels=0)
print(sys.version.split()[0], version("libcst"), importlib.import_module("migrator").__file__)
"""


def select_python(python: str) -> None:
    """Measure ``python``'s libcst and migrate-tests (its console script when it has one)."""
    global PY, TOOL
    PY = os.path.abspath(python)  # not resolved: a venv's python is a symlink out of the venv
    script = shutil.which("migrate-tests", path=str(Path(PY).parent))
    TOOL = (script,) if script else (PY, "-m", "migrator")


def prepare_tool(work: Path, runs: int) -> str:
    """Byte-compile the measured tool; a line naming what is measured. Run in ``work``, as the
    measured commands are: a checkout as the working directory would shadow the install."""
    argv = [PY, "-c", COMPILE_TOOL]
    proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"{PY} cannot import migrator:\n{proc.stderr[-2000:]}")
    py_version, libcst_version, package = proc.stdout.split()
    return (
        f"Python {py_version}, libcst {libcst_version}, {os.cpu_count()} CPUs, {runs} runs"
        f" after 1 warm-up; tool: {' '.join(TOOL)} ({Path(package).parent})"
    )


def bench(work: Path, runs: int, quick: bool, only: str | None, corpora: Path | None) -> list[Row]:
    print(prepare_tool(work, runs))
    rows: list[Row] = []
    if only != "real":
        rows += synthetic_rows(work, runs, quick)
    if only == "synthetic":
        return rows
    if corpora is None:
        where = " or ".join(str(path) for path in CORPORA_DEFAULTS)
        print(f"- real code: rows skipped, no corpora at {where} (see --corpora)\n")
        return rows
    dirty = [path for path in sorted(corpora.rglob("*.py")) if mentions_gpt2(path)]
    print(f"- (a) on real code: {describe(dirty)}, named one by one, in {corpora}")
    print(f"- (b) real corpora, pre-filter: {describe(corpora)}, the directory {corpora}\n")
    return rows + real_rows(corpora, dirty, work, runs)


def synthetic_rows(work: Path, runs: int, quick: bool) -> list[Row]:
    (work / "bench_noop.py").write_text(NOOP_CODEMOD, encoding="utf-8")
    suites = {n: build_suite(work / f"suite_{n}x", n) for n in ((1, 2, 4) if quick else (1, 4, 16))}
    stdlib = build_stdlib(work / "stdlib", 150 if quick else 1000)
    print(f"- (a): {describe(suites[1])}\n- (b): {describe(stdlib)}\n")
    rows = suite_rows("(a) trainer suite", suites[1], 1.0, runs)
    rows += suite_rows("(b) stdlib", stdlib, 0.05, runs)
    return rows + growth_rows(suites, runs) + hook_rows(work, runs)


def table(rows: Sequence[Row]) -> str:
    head = "Command | Workload | Median s | Ratio | Target | Pass | CPU s | CPU ratio | Peak RSS MB | RSS ratio | RSS pass"
    lines = [f"| {head} |", "|---" * (head.count("|") + 1) + "|"]
    for r in rows:
        t = r.stats
        lines.append(
            f"| {r.command} | {r.workload} | {t.wall:.3f} | {r.ratio} | {r.target} | {VERDICT[r.ok]}"
            f" | {t.cpu:.3f} | {r.cpu_ratio} | {t.rss_mb:.0f} | {r.rss_ratio} | {VERDICT[r.rss_ok]} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark migrate-tests (SPEC §6).")
    parser.add_argument("--quick", action="store_true", help="2 runs, smaller workloads (smoke)")
    parser.add_argument("--runs", type=int, help="timed runs per command (default 5; quick 2)")
    parser.add_argument(
        "--only",
        choices=("real", "synthetic"),
        help="only the rows on real projects' test files, or only the built workloads (a)-(d)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter whose libcst and migrate-tests to measure, e.g. another checkout's"
        " .venv/bin/python (default: this one)",
    )
    parser.add_argument(
        "--corpora",
        type=Path,
        help="directory of real test files, read in place and never written (default:"
        f" the first of {', '.join(map(str, CORPORA_DEFAULTS))} that exists)",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    select_python(args.python)
    corpora = find_corpora(args.corpora)
    if args.corpora is not None and corpora is None:
        parser.error(f"--corpora {args.corpora}: not a directory")
    with tempfile.TemporaryDirectory(prefix="migrate-tests-bench-") as tmp:
        rows = bench(Path(tmp), runs, args.quick, args.only, corpora)
    if not rows:
        print("no rows measured")
        return 0
    print(table(rows))
    if not GNU_TIME:
        print("\n(no /usr/bin/time: peak RSS includes this script's own RSS as a floor)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"\nwarning: load average {load:.1f} on {os.cpu_count()} CPUs; wall times are noisy")
    failed = [r for r in rows if r.ok is False or r.rss_ok is False]
    print(f"\n{len(failed)} target(s) missed" if failed else "\nall targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
