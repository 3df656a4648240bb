"""A pytest plugin (``-p migrate_tests_record``, its folder put on PYTHONPATH: it imports only
the standard library, so any environment that runs the tests can load it) that records, for every failing
comparison in the files under verification, the values it compared.

pytest calls ``pytest_assertrepr_compare`` from inside the failing ``assert``, so the test's
own frame is on the stack: its file and line say which assertion it was. Each record is one
JSON line in the file named by ``MIGRATE_TESTS_RECORD``: the file, the line, the operator and
the ``repr`` of both sides (only literals a later run can write back are of use).
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

ENV = "MIGRATE_TESTS_RECORD"


def pytest_assertrepr_compare(config: Any, op: str, left: Any, right: Any) -> None:
    target = os.environ.get(ENV)
    if not target:
        return None
    for frame in inspect.stack(context=0)[1:]:
        name = os.path.basename(frame.filename)
        if name.startswith("test") and name.endswith(".py") and "_pytest" not in frame.filename:
            record = {
                "file": os.path.abspath(frame.filename),
                "line": frame.lineno,
                "op": op,
                "left": _literal(left),
                "right": _literal(right),
            }
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            break
    return None


def _literal(value: Any) -> str | None:
    """The value as Python source a literal can hold, or None (a tensor, an object...)."""
    import ast

    if hasattr(value, "tolist") and callable(value.tolist):  # tensors, arrays: their lists
        try:
            value = value.tolist()
        except Exception:
            return None
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
