from __future__ import annotations

from migrator.cli import entry

if __name__ == "__main__":
    entry()
