"""GPT2's special token (50256, ``<|endoftext|>``) in its roles: fixed by role or review."""

from __future__ import annotations

import ast

from .patterns import ENCODERS, EOS_TEXT
from .scope import TestScope
from .shapes import int_value, own_value_message, source_of


class SpecialTokens(TestScope):
    """eos, bos and pad: one token in GPT2, several in the target."""

    def _eos_id(self, literal: ast.Constant, other: ast.expr) -> None:
        if self._own_attribute(other):
            self._review(literal, own_value_message(source_of(other)))
            return
        role = self._role(other)
        tok = self._tok(other)
        if role is None or tok is None:
            self._unknown_eos(literal)
            return
        self._fix(literal, f"{tok}.{role}_token_id", f"50256 ({role}) -> {tok}.{role}_token_id")

    def _unknown_eos(self, literal: ast.Constant) -> None:
        self._review(
            literal,
            "50256 is GPT2's eos/bos/unk (and pad after the workaround) token id; the target "
            "splits these roles: compare with <tokenizer>.eos_token_id or .pad_token_id, "
            "whichever this value stands for",
        )

    def _eos_text(self, literal: ast.Constant, other: ast.expr) -> None:
        if self._own_attribute(other):
            self._review(literal, own_value_message(source_of(other)))
            return
        role = self._role(other, text=True)
        tok = self._tok(other)
        if role is None or tok is None:
            self._review(
                literal,
                f"{EOS_TEXT!r} is GPT2's eos (and pad after the workaround) text: compare with "
                "<tokenizer>.eos_token or .pad_token, whichever this value stands for",
            )
            return
        self._fix(literal, f"{tok}.{role}_token", f"{EOS_TEXT!r} ({role}) -> {tok}.{role}_token")

    def _slicing(self, node: ast.Subscript) -> None:
        assert isinstance(node.slice, ast.Slice)
        bounds = [node.slice.lower, node.slice.upper]
        if any(b is not None and int_value(b) is not None for b in bounds) and ENCODERS.search(
            source_of(node.value)
        ):
            self._review(
                node,
                "slicing an encoded template at GPT2-specific positions: recompute the offsets "
                "for the target's tokenizer and chat template",
            )

    def _eos_first(self, node: ast.Attribute) -> None:
        """``(tok.eos_token_id, *ids)``, ``expected.insert(0, tok.eos_token_id)``: eos put
        where a sequence starts, which is GPT2's bos (both are ``<|endoftext|>``)."""
        origin = self.objs.origin(node.value)
        if id(node) in self.done or origin is None or not origin.migrated:
            return
        facts = self.objs.targets(origin)
        if facts and all(f.bos_token is not None and f.bos_token == f.eos_token for f in facts):
            return  # the target's bos is its eos too
        targets = "; ".join(
            f"{f.model_id}: eos {f.eos_token or '?'}, bos {f.bos_token or 'another or none'}"
            for f in facts
        )
        self._review(
            node,
            f"{source_of(node)} put first: in GPT2 that is also the bos token (both are "
            f"<|endoftext|>), not in the target ({targets}); if the code under test starts "
            "sequences with bos_token_id, expect that",
        )

    def _appended_eos(self, node: ast.Constant) -> None:
        value = str(node.value)
        raw = self.ctx.source.segment(node)
        if (
            not value.endswith(EOS_TEXT)
            or value == EOS_TEXT
            or not raw.endswith(EOS_TEXT + raw[-1])
        ):
            return
        if not self.toks:
            self._review(
                node, f"text ends with GPT2's eos {EOS_TEXT!r}: use the target's eos_token"
            )
            return
        tok = self.ctx.source.segment(self.toks[0][0])
        head = raw[: len(raw) - len(EOS_TEXT) - 1] + raw[-1]
        code = f"{head} + {tok}.eos_token"
        parent = self.objs.found.parent.get(id(node))
        if isinstance(parent, (ast.Attribute, ast.Subscript, ast.UnaryOp)) or (
            isinstance(parent, ast.BinOp) and not isinstance(parent.op, ast.Add)
        ):
            code = f"({code})"  # "a<eos>".lower() -> ("a" + tok.eos_token).lower()
        self._fix(node, code, f"text ending in {EOS_TEXT!r} -> ... + {tok}.eos_token")
