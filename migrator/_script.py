"""The ``migrate-tests`` console script: the CLI, and Ctrl-C while it is still importing.

Importing click and the engine takes a noticeable moment on a busy machine; a Ctrl-C in that
window would otherwise end in a ``KeyboardInterrupt`` traceback. Nothing has started yet (no
file read, no child process), so it ends like click's own abort: "Aborted!", exit code 1.
"""

from __future__ import annotations

import sys


def entry() -> None:
    try:
        from migrator.cli import entry as cli_entry
    except KeyboardInterrupt:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    cli_entry()
