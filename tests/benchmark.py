"""Time migrate-tests against the LibCST floors it must stay under (SPEC §6).

Run explicitly: ``python tests/benchmark.py [--quick] [--runs N]``. Each command is a fresh
subprocess; a workload's commands run interleaved, order rotated, after a discarded warm-up
round. Reported: median wall and CPU (user + sys, whole process tree) seconds, and the peak RSS
of the largest single process (workers are not summed).
"""

from __future__ import annotations

import argparse
import ast
import compileall
import importlib
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
from importlib.metadata import version
from pathlib import Path

from migrator.discovery import DEFAULT_EXCLUDED_DIRS

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo_suite"
PY = sys.executable
_SCRIPT = shutil.which("migrate-tests", path=str(Path(PY).parent))
TOOL = (_SCRIPT,) if _SCRIPT else (PY, "-m", "migrator")
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
BARE = """
import pathlib, sys, libcst
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
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
RSS_LIMIT = 1.5  # peak RSS of the tool / bare LibCST, for (a) and (b)
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
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if DEFAULT_EXCLUDED_DIRS & set(parts) or any(p.endswith(".egg-info") for p in parts):
            continue
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


def describe(path: Path) -> str:
    files = [path] if path.is_file() else list(path.rglob("*.py"))
    size = sum(f.stat().st_size for f in files)
    dirty = sum(1 for f in files if b"gpt2" in f.read_bytes().lower())
    return f"{len(files)} files, {size / 1024:.0f} KiB, {dirty} mention GPT2"


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


def compile_tool() -> None:
    """Byte-compile the tool as pip does when it installs a package. libcst's modules were
    compiled when pip installed them; an editable install of this tool is not, and with
    PYTHONDONTWRITEBYTECODE set (as on this image) every run would compile it again."""
    for name in ("migrator", "migrator.rules"):
        for directory in importlib.import_module(name).__path__:
            compileall.compile_dir(directory, quiet=1, maxlevels=0)


def bench(work: Path, runs: int, quick: bool) -> list[Row]:
    compile_tool()
    (work / "bench_noop.py").write_text(NOOP_CODEMOD, encoding="utf-8")
    suites = {n: build_suite(work / f"suite_{n}x", n) for n in ((1, 2, 4) if quick else (1, 4, 16))}
    stdlib = build_stdlib(work / "stdlib", 150 if quick else 1000)
    print(
        f"Python {sys.version.split()[0]}, libcst {version('libcst')}, {os.cpu_count()} CPUs,"
        f" {runs} runs after 1 warm-up; tool: {' '.join(TOOL)}"
    )
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
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="migrate-tests-bench-") as tmp:
        rows = bench(Path(tmp), runs, args.quick)
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
