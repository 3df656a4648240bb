"""The shared analysis, one module per concern (bump-pydantic style: rules ask, they do not
re-walk the tree for facts these modules already know).

Computed once per file from Python's ``ast`` (cheap) and cached on the file context, so every
rule asks the same questions and gets the same answers: ``model-id`` rewrites exactly the
literals that ``auto-classes`` (and later rules) consider migrated. ``Analysis`` is assembled
from one class per concern, each reading only the ones before it:

- ``tree``: the tree index (parents, the walk cache, strings, imports, the function, statement,
  class and scope around a node);
- ``labels``: parametrize rows, and the values that label a branch of a test, not a model;
- ``peers``: other architectures and GPT2-derived artefacts next to an id;
- ``evidence``: GPT2 internals, the file testing GPT2 itself, why an id stays or goes to review;
- ``values``: the migrated id (or known target id) an expression evaluates to;
- ``shapes``: what a string looks like (a model id, a command line, code);
- ``consumers``: which calls, fields and command-line flags are known to take a hub id;
- ``keys``, ``flow``, ``bindings``: a source id, everything loaded from it, everywhere that
  flows, and the one decision (migrate / keep / review) the whole binding gets;
- ``origins``, ``objects``: where each tokenizer and model comes from, for the rules that
  remove GPT2 workarounds (``objects(ctx)``);
- ``expected``: the values a test's names are bound to, and which are literals (the expected
  values ``token-literals`` judges).

Not analysis, but shared the same way: ``rules/_layout.py`` lays out model-id's rewrites
within the project's line length, ``rules/_cst.py`` holds the rewrites as picklable data.
"""

from __future__ import annotations

from migrator.context import RuleContext

from .evidence import Evidence
from .labels import Labels
from .peers import Peers
from .tree import TreeIndex
from .values import Values


class Analysis(Values, Evidence, Peers, Labels, TreeIndex):
    """Per-file facts about GPT2 ids; build with ``analysis(ctx)``."""


def analysis(ctx: RuleContext) -> Analysis:
    result: Analysis = ctx.memo("analysis", lambda: Analysis(ctx))
    return result
