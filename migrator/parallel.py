"""The parallel driver: with more than a few files, the rules run on a pool of workers while
another process imports libcst and applies the plans (see ``run_parallel``). ``runner.run``
calls it; nothing else does."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.core import FileResult
from migrator.registry import all_rules
from migrator.runner import Plan, RunOptions, analyse, finish
from migrator.writer import clean_temp_files

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import DefaultContext, ForkContext


# About what one process runs the rules on while another imports libcst (~0.1 s); above it,
# the rules run on a pool of workers too.
INLINE_ANALYSIS_BYTES = 64 * 1024


def run_parallel(
    files: Sequence[Path], raws: Sequence[bytes], options: RunOptions, jobs: int
) -> Iterator[tuple[int, FileResult]]:
    """(position in ``files``, result) as each is known, in two overlapping stages.

    ``import libcst`` costs about as much as running the rules on a whole trainer suite. So a
    child forked first, the applier, imports libcst while this process runs the rules
    (``analyse`` never imports libcst; alone for a small suite, with a pool of workers for a
    larger one); then the applier applies the plans (plain data, see ``Plan``) with workers
    forked from it, which inherit the import. This process never imports libcst, and each
    fork happens while its parent runs no thread. libcst is only imported at all once the
    pre-filter has let files through.

    Lifecycle: every child closes the pipe ends it does not own, so a dead peer is noticed
    (EOF) instead of waited for; workers die with their parent (Linux); an interrupted run
    (Ctrl-C) or one with nothing to apply terminates the applier, which terminates its pool;
    if the applier dies, this process applies the plans itself.
    """
    context = _fork_context()
    here, there = context.Pipe()
    applier = context.Process(
        target=_applier,
        args=(here, there, options, jobs, os.getpid()),
        name="migrate-tests-applier",
    )
    applier.start()
    there.close()
    plans: list[tuple[int, Plan]] = []
    finished: list[FileResult] | None = None
    try:
        for position, outcome in _analyse_all(files, raws, options, jobs, context, here):
            if isinstance(outcome, FileResult):
                yield position, outcome
            else:
                plans.append((position, outcome))
        if plans:
            try:
                here.send([plan for _, plan in plans])
                finished = here.recv()
            except (EOFError, OSError):  # the applier died (killed?): apply here instead
                finished = [finish(plan, options) for _, plan in plans]
                if options.write:  # and remove what its workers (dead with it) left half-written
                    folders = {plan.path.resolve().parent for _, plan in plans}
                    clean_temp_files([f for d in folders for f in d.iterdir()])
    finally:
        here.close()
        if finished is None:  # interrupted, or nothing to apply: no need to wait for it
            applier.terminate()
        applier.join()
    yield from zip([position for position, _ in plans], finished or [], strict=True)


def _analyse_all(
    files: Sequence[Path],
    raws: Sequence[bytes],
    options: RunOptions,
    jobs: int,
    context: ForkContext | DefaultContext,
    applier_end: Connection,
) -> Iterator[tuple[int, FileResult | Plan]]:
    all_rules()  # imported once here, inherited by the forked workers
    if sum(map(len, raws)) <= INLINE_ANALYSIS_BYTES:
        for position, (path, raw) in enumerate(zip(files, raws, strict=True)):
            yield position, analyse(path, options, raw)
        return
    # The workers read the files again: cheaper than sending them the bytes.
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=min(jobs, len(files)),
        mp_context=context,
        initializer=_worker_start,
        initargs=(applier_end, os.getpid()),
    ) as pool:
        chunk = max(1, len(files) // (jobs * 8))
        yield from enumerate(pool.map(analyse, files, [options] * len(files), chunksize=chunk))


def _applier(
    here: Connection, there: Connection, options: RunOptions, jobs: int, parent: int
) -> None:
    """The second stage, in its own process: see ``_parallel``."""
    _worker_start(here, parent)  # here: the main process's end, which only it may hold
    signal.signal(signal.SIGTERM, _exit_now)  # -> SystemExit: the pool is terminated on the way
    try:
        import libcst  # noqa: F401  # at once: the point of this process

        import migrator.apply  # noqa: F401

        plans: list[Plan] = there.recv()
        if jobs <= 1 or len(plans) < 2:
            there.send([finish(plan, options) for plan in plans])
            return
        workers = min(jobs, len(plans))
        pool = _fork_context().Pool(workers, _worker_start, (there, os.getpid()))
        try:
            chunk = max(1, len(plans) // (jobs * 4))
            results = pool.map(partial(finish, options=options), plans, chunksize=chunk)
        except BaseException:  # SIGTERM (SystemExit), or a worker's failure
            pool.terminate()
            pool.join()
            raise
        pool.close()  # done: the workers leave on their own
        there.send(results)
        pool.join()
    except (EOFError, BrokenPipeError):
        pass  # the main process went away: nothing to report to


def _exit_now(_signum: int, _frame: object) -> None:
    raise SystemExit(1)


def _worker_start(inherited: Connection, parent: int) -> None:
    """In each child: close the pipe end inherited from the process that forked it (only
    that process talks on it; held here, its death would go unseen), let the main process
    handle Ctrl-C, and die with the parent instead of working or waiting on for a dead one
    (Linux's PR_SET_PDEATHSIG; elsewhere a dead peer is still seen as EOF on the pipe)."""
    inherited.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Terminated means gone at once: no Python-level exit (the applier's SIGTERM handler is
    # inherited) that would wait on locks and queues shared with a pool being torn down.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)


def _fork_context() -> ForkContext | DefaultContext:
    """Fork where the platform has it: workers then inherit every import for free."""
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()
