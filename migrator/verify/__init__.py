"""Verification: run the migrated tests, keep what passes, roll back what the migration broke.

A stage after the runner (``cli -> discovery -> runner -> verify -> report``). With
``--apply --verify`` the runner first decides every file without writing; then, for the
Python test files that would change:

1. baseline: one pytest session over those files as they are (``pytest.py`` here);
2. every file is written (atomically, as ``--apply`` does);
3. one pytest session over the migrated files;
4. a file whose tests were green before and fail after is restored byte for byte (atomic,
   only if it still holds what was written) and reported as needing a manual migration,
   with its failing test ids and the first error line of each; a test that already failed
   before is not the migration's fault, and the report says so. A file green after is
   "verified".

The sessions run in a subprocess on ``--python`` (default: the active environment's
``python``, else the tool's own interpreter), with ``--timeout`` seconds each; the core never
imports pytest. Not yet here: ``--update-literals`` (writing measured values back).
"""

from __future__ import annotations

from migrator.verify.stage import VerifyOptions, verify

__all__ = ["VerifyOptions", "verify"]
