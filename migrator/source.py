"""A decoded source file: exact bytes in, exact bytes out, plus cheap position helpers.

The file is decoded once with the encoding Python itself would use (BOM, coding cookie, else
UTF-8) and encoded back the same way, so everything a rule does not touch keeps its bytes.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize
from dataclasses import dataclass
from functools import cached_property

_NEWLINE = re.compile(r"\r\n|\r|\n")
DIRECTIVE = re.compile(r"#\s*migrate-tests:\s*(ignore|skip-file)(?:\[([\w\s,-]*)\])?")
SKIP_FILE_WINDOW = 30


class SourceError(Exception):
    """The file cannot be read as Python source; the message says why, for the user."""


@dataclass(frozen=True)
class Source:
    path: str
    raw: bytes
    text: str
    encoding: str
    bom: bool

    @classmethod
    def decode(cls, path: str, raw: bytes) -> Source:
        if b"\x00" in raw:
            raise SourceError("binary file (contains NUL bytes), not Python source")
        bom = raw.startswith(codecs.BOM_UTF8)
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError as exc:
            raise SourceError(f"bad encoding declaration: {exc.msg}") from None
        if bom:
            encoding = "utf-8"
        body = raw[len(codecs.BOM_UTF8) :] if bom else raw
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            line = body[: exc.start].count(b"\n") + 1
            raise SourceError(
                f"undecodable bytes for encoding {encoding!r} at line {line}: {exc.reason}"
            ) from None
        except LookupError:
            raise SourceError(f"unknown encoding {encoding!r} in the coding cookie") from None
        return cls(path=path, raw=raw, text=text, encoding=encoding, bom=bom)

    def detached(self) -> Source:
        """The same source without its cached analyses (the ``ast`` tree...): cheap to pickle."""
        return Source(self.path, self.raw, self.text, self.encoding, self.bom)

    def encode(self, text: str) -> bytes:
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError as exc:  # e.g. a review marker quoting text, in an ascii file
            line = text[: exc.start].count("\n") + 1
            raise SourceError(
                f"the rewrite needs {exc.object[exc.start : exc.end]!r} (line {line}), which the "
                f"file's encoding {self.encoding!r} cannot represent; left unchanged: migrate it "
                "by hand"
            ) from None
        return codecs.BOM_UTF8 + data if self.bom else data

    @cached_property
    def lines(self) -> list[str]:
        """Lines as Python's tokenizer counts them (\\r\\n, \\r, \\n), ends kept; index 0 = line 1."""
        out: list[str] = []
        start = 0
        for match in _NEWLINE.finditer(self.text):
            out.append(self.text[start : match.end()])
            start = match.end()
        if start < len(self.text):
            out.append(self.text[start:])
        return out

    @cached_property
    def tree(self) -> ast.Module:
        try:
            return ast.parse(self.text, filename=self.path)
        except SyntaxError as exc:
            raise SourceError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise SourceError(f"cannot parse: {exc}") from None

    def char_col(self, line: int, byte_col: int) -> int:
        """``ast`` columns are UTF-8 byte offsets; findings use character columns."""
        if line < 1 or line > len(self.lines):
            return byte_col
        text = self.lines[line - 1]
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def segment(self, node: ast.expr | ast.stmt) -> str:
        """The exact source text of ``node`` (without the parentheses around it)."""
        end_line = node.end_lineno or node.lineno
        end_col = node.end_col_offset or 0
        first = self.lines[node.lineno - 1].encode("utf-8")
        if node.lineno == end_line:
            return first[node.col_offset : end_col].decode("utf-8")
        parts = [first[node.col_offset :].decode("utf-8")]
        parts.extend(self.lines[node.lineno : end_line - 1])
        parts.append(self.lines[end_line - 1].encode("utf-8")[:end_col].decode("utf-8"))
        return "".join(parts)

    @cached_property
    def comments(self) -> list[tuple[int, int, str]]:
        """(line, column, text) of every comment, from the tokenizer (so never inside strings)."""
        out: list[tuple[int, int, str]] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if tok.type == tokenize.COMMENT:
                    out.append((tok.start[0], tok.start[1], tok.string))
        except (tokenize.TokenError, SyntaxError, IndentationError):
            pass  # the ast parse already succeeded; a tokenizer quirk only loses comments
        return out

    @cached_property
    def directives(self) -> Directives:
        if "migrate-tests:" not in self.text:
            return Directives(skip_file=False, ignores={})
        skip = False
        ignores: dict[int, frozenset[str] | None] = {}
        for line, _col, text in self.comments:
            match = DIRECTIVE.search(text)
            if not match:
                continue
            if match.group(1) == "skip-file":
                skip = skip or line <= SKIP_FILE_WINDOW
            else:
                names = match.group(2)
                ignores[line] = (
                    frozenset(n.strip() for n in names.split(",") if n.strip())
                    if names is not None
                    else None
                )
        return Directives(skip_file=skip, ignores=ignores)


@dataclass(frozen=True)
class Directives:
    """Suppression comments: ``ignores`` maps a line to the rules it silences (None = all)."""

    skip_file: bool
    ignores: dict[int, frozenset[str] | None]

    def ignored(self, rule: str, first_line: int, last_line: int) -> bool:
        for line in range(first_line, last_line + 1):
            if line in self.ignores:
                rules = self.ignores[line]
                if rules is None or rule in rules:
                    return True
        return False
