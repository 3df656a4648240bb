"""The test being judged: its objects, which model an expression is about, reporting."""

from __future__ import annotations

import ast
import re

from migrator.context import RuleContext

from .._analysis.objects import Objects
from .._analysis.origins import Origin
from .._analysis.tree import walk
from .patterns import ASSERT_CALLS, EOS_TEXT, OWN_ATTRIBUTES, TOKENIZER_NAME
from .shapes import anchor_statement, source_of


class TestScope:
    """What every part of the judgement of one test shares."""

    ctx: RuleContext
    objs: Objects
    func: ast.FunctionDef | ast.AsyncFunctionDef
    own: list[ast.AST]  # the nodes of the test itself, not of functions nested in it
    toks: list[tuple[ast.expr, Origin]]  # its migrated tokenizers
    foreign: set[str]
    done: set[int]  # ids of the nodes already judged
    values: dict[str, list[ast.expr]]
    via: ast.expr | None  # the name that led to the value being judged
    collected: list[tuple[ast.expr, str]] | None
    columns: dict[str, list[tuple[ast.expr, list[ast.expr]]]]
    containment: bool  # the comparison being judged is ``a in b``
    row: list[ast.expr] | None  # the other cells of the row being judged
    judged: set[str]  # parametrize columns already reported
    direct: bool
    mocked: bool
    requested: set[int]

    def _foreign_names(self) -> set[str]:
        """Names of objects of other (not migrated) models, and locals computed from them."""
        foreign: set[str] = set()
        for node in walk(self.func):
            if isinstance(node, (ast.Name, ast.Attribute)):
                origin = self.objs.origin(node)
                if origin is not None and not origin.sources:
                    foreign.add(source_of(node))
        for _ in range(2):  # reward_ids = reward_tokenizer(...); first = reward_ids[0]
            for node in walk(self.func):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and self._mentions(node.value, foreign)
                    and not self._mentions_migrated(node.value)
                ):
                    foreign.add(node.targets[0].id)
        return foreign

    @staticmethod
    def _mentions(node: ast.AST, names: set[str]) -> bool:
        return any(
            isinstance(n, (ast.Name, ast.Attribute)) and source_of(n) in names for n in walk(node)
        )

    def _mentions_migrated(self, node: ast.AST) -> bool:
        for n in walk(node):
            if isinstance(n, (ast.Name, ast.Attribute)):
                origin = self.objs.origin(n)
                if origin is not None and origin.migrated:
                    return True
        return False

    def _about_other_model(self, side: ast.expr) -> bool:
        return self._mentions(side, self.foreign) and not self._mentions_migrated(side)

    def _in_assertion(self, node: ast.AST) -> bool:
        for anc in self.objs.found.ancestors(node):
            if isinstance(anc, ast.Assert) or (
                isinstance(anc, ast.Call) and ASSERT_CALLS.search(source_of(anc.func))
            ):
                return True
            if isinstance(anc, ast.stmt):
                return False
        return False

    def _tok(self, other: ast.expr) -> str | None:
        """The migrated tokenizer to name: the one the other side mentions, else the test's."""
        other_text = source_of(other)
        for node, _origin in self.toks:
            if source_of(node) in other_text:
                return self.ctx.source.segment(node)
        return self.ctx.source.segment(self.toks[0][0]) if self.toks else None

    def _own_attribute(self, other: ast.expr) -> bool:
        """``tok.eos_token_id`` itself (a tokenizer's own special-token attribute): replacing
        the literal with it would make the assertion vacuous."""
        if not (isinstance(other, ast.Attribute) and other.attr in OWN_ATTRIBUTES):
            return False
        owner = other.value
        origin = self.objs.origin(owner)
        if origin is not None:
            return origin.kind == "tokenizer"
        return bool(TOKENIZER_NAME.search(source_of(owner)))

    def _role(self, other: ast.expr, text: bool = False) -> str | None:
        """eos or pad, from what the value is compared with; None when it cannot tell."""
        other_text = source_of(other)
        suffix = "" if text else "_id"
        if f"pad_token{suffix}" in other_text or "attention_mask" in other_text:
            return "pad"
        if f"eos_token{suffix}" in other_text:
            return "eos"
        if other_text.endswith("[-1]") and "pad" not in other_text and self._appends_eos():
            return "eos"
        return None

    def _appends_eos(self) -> bool:
        """The last token is eos only if the test appended it (``+ [tok.eos_token_id]``,
        ``add_eos_token=True``...): otherwise it may just as well be padding."""
        text = self.objs.found.scope_text(self.func)
        return EOS_TEXT in text or bool(
            re.search(r"eos_token(_id)?\]|add_eos|append_eos|\+ *\[?\w*\.?eos", text)
        )

    # -- reporting ------------------------------------------------------------------------

    def _review(self, node: ast.expr, message: str) -> None:
        if self.collected is not None:
            self.collected.append((node, message))
            return
        if self.via is not None:
            message += f" (asserted through {source_of(self.via)} on line {self.via.lineno})"
        self.done.add(id(node))
        self.ctx.review(node, message, anchor=anchor_statement(self.objs, node))

    def _fix(self, node: ast.expr, code: str, message: str) -> None:
        self.done.add(id(node))
        self.ctx.replace(node, code, message)
