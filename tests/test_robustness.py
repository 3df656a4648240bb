"""The tool and its ast/LibCST bridge on real code: the standard library and site-packages.

Runs ``tests/robustness.py`` in-process over its default roots (see its docstring for what is
checked). The report it prints is in the captured output of a failure.
"""

from __future__ import annotations

from .robustness import CRASH, DRIFT, IDEMPOTENCE, PARSE, main


def test_stdlib_and_site_packages() -> None:
    report = main([])
    assert report.files > 1000, report.summary()
    for kind in (CRASH, PARSE, IDEMPOTENCE, DRIFT):
        failing = sorted({f.path for f in report.failures if f.kind == kind})
        assert not failing, f"{kind}: {failing}"
