"""String shapes: what a literal looks like (a model id, a command line, a snippet of code).

Plain functions of a string, no tree: ``model-id`` uses them to find ids inside longer strings,
the evidence to tell checkpoints from model types.
"""

from __future__ import annotations

import re

MODEL_LIKE = re.compile(r"^[\w.-]+/[\w.-]+$")
# A bare architecture name: "llama", "gpt_neox", "t5", "bert" (no org, no size suffix).
MODEL_TYPE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")

CODE = re.compile(r"^\s*(import \w|from [\w.]+ import |def \w|class \w)|from_pretrained\(", re.M)


def token_pattern(ids: list[str]) -> re.Pattern[str]:
    """An id as a whole token of a command line or key=value string: delimited by whitespace,
    quotes, ``=`` or ``,`` on both sides (so never inside ``gpt2-sentiment.ipynb``)."""
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![^\s=,'\"\\])({alternatives})(?![^\s,'\"\\])")


def is_code_string(value: str) -> bool:
    """A string of Python code (a snippet a test runs or writes out)."""
    return "\n" in value and bool(CODE.search(value))


def is_cli_string(value: str) -> bool:
    """A command line (``--flag value``) or a key=value argument string (``a=b,c=d``)."""
    return bool(re.search(r"(^|\s)--?[A-Za-z]", value) or re.search(r"\w=[^=\s,]+(,|$)", value))
