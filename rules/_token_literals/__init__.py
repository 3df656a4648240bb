"""The analysis of the ``token-literals`` rule: one test function at a time."""
