"""migrate-tests: migrate ML test suites off GPT2 onto small instruct models."""

from __future__ import annotations

__version__ = "0.1.0"
