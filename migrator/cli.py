"""The command line: options -> settings -> runner -> report -> exit code. Click lives only here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from migrator import __version__, report
from migrator.config import ConfigError, FileConfig, find_pyproject, load
from migrator.core import Status
from migrator.discovery import DiscoveryError, discover
from migrator.models import ModelMap
from migrator.registry import RuleError, all_rules, select_rules
from migrator.runner import RunOptions, display, run
from migrator.writer import clean_temp_files

EXIT_OK, EXIT_PENDING, EXIT_ERROR = 0, 1, 2


def _split(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def _parse_map(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise click.UsageError(f"--map expects SRC=DST, got {item!r}")
        out[source.strip()] = target.strip()
    return out


def _list_rules() -> None:
    for rule in all_rules():
        click.echo(f"{rule.id:<20} {rule.safety.value:<7} {rule.summary}")


def _explain(rule_id: str) -> None:
    rules = {rule.id: rule for rule in all_rules()}
    if rule_id not in rules:
        raise click.UsageError(f"unknown rule {rule_id!r}; known rules: {', '.join(rules)}")
    rule = rules[rule_id]
    click.echo(f"{rule.id} ({rule.safety.value})\n\n{rule.doc}\n")
    for number, example in enumerate(rule.examples, 1):
        click.echo(
            f"Example {number}, before:\n{_indent(example.before)}\nafter:\n{_indent(example.after)}"
        )


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


def _config(path: str | None, paths: tuple[str, ...]) -> FileConfig:
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: config file not found")
        return load(Path(path))
    # realpath, not Path.resolve: a symlink loop must reach discovery (which reports it),
    # not raise here.
    existing = [Path(os.path.realpath(p)) for p in paths if os.path.lexists(p)]
    start = Path(os.path.commonpath(existing)) if existing else Path.cwd()
    if start.is_file():
        start = start.parent
    return load(find_pyproject(start))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1)
@click.option(
    "--dry-run", "dry_run", is_flag=True, help="Report what would change; write nothing (default)."
)
@click.option("--apply", "apply_", is_flag=True, help="Rewrite files in place.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when any file would change.")
@click.option(
    "--diff", "diff_only", is_flag=True, help="Print only a unified diff that git apply accepts."
)
@click.option("--target", metavar="MODEL_ID", help="One instruct model for every replaced GPT2 id.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="SRC=DST",
    help="Extra or overriding id mapping (repeatable).",
)
@click.option(
    "--include",
    "includes",
    multiple=True,
    type=click.Choice(["legacy"]),
    help="Also migrate legacy base test models (pythia, OPT, BLOOM, tiny Llama...).",
)
@click.option(
    "--verify",
    "verify_",
    is_flag=True,
    help="With --apply: run the changed files' tests before and after; restore what breaks.",
)
@click.option(
    "--update-literals",
    is_flag=True,
    help="With --apply (implies --verify): write measured values over flagged literals.",
)
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="Interpreter that runs the tests for --verify (default: the active environment's).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds each --verify test session may take.",
)
@click.option("--select", metavar="RULES", help="Comma-separated rule ids to run (default: all).")
@click.option("--ignore", metavar="RULES", help="Comma-separated rule ids to skip.")
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip matching paths when walking directories (repeatable).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply excludes to files named explicitly too (pre-commit).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["rich", "json", "markdown", "github"]),
    help="Report format (default: rich on a terminal, plain text otherwise).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel workers (default: CPU count).",
)
@click.option(
    "--config", "config_path", metavar="PATH", help="pyproject.toml to read (default: nearest)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Also list fixes and files with nothing to do.")
@click.option("--list-rules", is_flag=True, help="List the rules and exit.")
@click.option(
    "--explain", metavar="RULE", help="Show a rule's documentation and examples, and exit."
)
@click.version_option(__version__, prog_name="migrate-tests")
def main(
    paths: tuple[str, ...],
    dry_run: bool,
    apply_: bool,
    check: bool,
    diff_only: bool,
    target: str | None,
    maps: tuple[str, ...],
    includes: tuple[str, ...],
    verify_: bool,
    update_literals: bool,
    python: str | None,
    timeout: float,
    select: str | None,
    ignore: str | None,
    exclude: tuple[str, ...],
    force_exclude: bool,
    fmt: str | None,
    jobs: int | None,
    config_path: str | None,
    quiet: bool,
    verbose: bool,
    list_rules: bool,
    explain: str | None,
) -> None:
    """Migrate test suites off GPT2 onto small instruct models.

    PATHS are files, directories or glob patterns (quoted globs are expanded here);
    default: tests/ when it exists, else the current directory.
    """
    try:
        if list_rules:
            _list_rules()
            return
        if explain:
            _explain(explain)
            return
        if sum((dry_run, apply_, check)) > 1:
            raise click.UsageError("--dry-run, --apply and --check are mutually exclusive")
        mode = "apply" if apply_ else "check" if check else "dry-run"
        verify_ = verify_ or update_literals
        if verify_ and mode != "apply":
            raise click.UsageError("--verify needs --apply (it runs the migrated tests)")
        config = _config(config_path, paths)
        models = ModelMap.build(
            target=target or config.target,
            tier_targets=config.targets,
            extra={**config.map, **_parse_map(maps)},
            custom_facts=config.models,
            consumers=frozenset(config.consumers),
            sources=frozenset({*config.sources, *includes}),
        )
        chosen = _split(select) or (frozenset(config.select) if config.select is not None else None)
        ignored = (_split(ignore) or frozenset()) | frozenset(config.ignore)
        rules = select_rules(chosen, ignored)
        found = discover(
            list(paths),
            exclude=[*config.exclude, *exclude],
            root=config.root,
            force_exclude=force_exclude,
        )
    except (ConfigError, RuleError, DiscoveryError) as exc:
        report.error(str(exc))
        sys.exit(EXIT_ERROR)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_ERROR)

    if mode == "apply" and found.temp_files:
        removed = clean_temp_files(found.temp_files)
        if removed and not quiet:
            sys.stderr.write(
                f"migrate-tests: removed {removed} temporary file(s) left by an interrupted run\n"
            )
    options = RunOptions(
        models=models,
        rule_ids=rules,
        markers=config.markers,
        write=mode == "apply" and not verify_,  # --verify writes in its own stage
    )
    show_bar = (
        sys.stderr.isatty()
        and len(found.files) > 8
        and not quiet
        and os.environ.get("PRE_COMMIT") != "1"
    )
    with report.progress(len(found.files), show_bar) as advance:
        results = run(found.files, options, jobs or os.cpu_count() or 1, on_done=advance)
    if verify_:
        from migrator.verify import VerifyOptions, verify
        from migrator.verify.pytest import default_python

        where = {display(p): p for p in found.files}
        interpreter = python or default_python()
        sessions = jobs or os.cpu_count() or 1
        settings = VerifyOptions(interpreter, timeout, Path.cwd(), update_literals, sessions)
        results = verify(results, where, settings)

    errors = [r for r in results if r.status is Status.ERROR]
    if diff_only:
        for result in results:
            if result.changed:
                sys.stdout.write(report.unified_diff(result))
    else:
        replay: list[str] = []
        if target:
            replay += ["--target", target]
        for item in maps:
            replay += ["--map", item]
        for item in includes:
            replay += ["--include", item]
        for flag, value in (("--select", select), ("--ignore", ignore), ("--config", config_path)):
            if value:
                replay += [flag, value]
        chosen_fmt = fmt or ("rich" if report.use_colour(sys.stdout) else "text")
        if chosen_fmt == "rich" and not report.use_colour(sys.stdout):
            chosen_fmt = "text"
        report.render(
            results,
            models,
            report.ReportOptions(mode, chosen_fmt, quiet, verbose, tuple(replay)),
            sys.stdout,
        )
    for result in errors:
        report.error(f"{result.path}: {result.error}")
    for folder, reason in found.unlisted:
        report.error(
            f"{display(folder)}/: cannot list this directory ({reason}); its files were not checked"
        )
    if not found.files and not found.unlisted:
        sys.stderr.write(
            "migrate-tests: warning: no Python files or documents (YAML, JSON, TOML, cfg/ini, "
            "shell, Markdown, reST) found; nothing to do\n"
        )
    sys.stdout.flush()
    if errors or found.unlisted:
        sys.exit(EXIT_ERROR)
    if mode == "check" and any(r.changed for r in results):
        sys.exit(EXIT_PENDING)
    sys.exit(EXIT_OK)


def entry() -> None:
    """The console script and ``python -m migrator``: ``main``, then a fast exit.

    Tearing down the interpreter frees every object LibCST created, one by one: about 30 ms
    on a trainer suite, a tenth of a whole run. Once ``main`` has flushed the report and every
    file is written (workers joined, atomic writes done), nothing is left to do, so the
    process ends at once with ``main``'s exit code. ``main`` itself stays a plain click
    command, which the tests call in-process.
    """
    try:
        main()  # click's standalone mode always ends in SystemExit
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - click never returns in standalone mode
        code = 0
    if isinstance(code, str):  # sys.exit("message"): Python prints it and exits 1
        sys.stderr.write(f"{code}\n")
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (a closed pipe): as Python itself would
        os._exit(120)
    os._exit(code or 0)
