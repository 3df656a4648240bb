"""The shared analysis, one module per concern (bump-pydantic style: rules ask, they do not
re-walk the tree for facts these modules already know).

- ``consumers``: which calls, fields and command-line flags are known to take a hub id;
- ``bindings``: a source id, everything loaded from it, everywhere that flows, and the one
  decision (migrate / keep / review) the whole binding gets.
"""
