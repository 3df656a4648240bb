"""Jupyter notebooks: the code cells go through the Python rules; everything else stays.

The code cells are joined into one module (a cell's IPython lines, ``%magic`` and ``!shell``,
become comments of the same length in it), one sentinel comment between cells, and that module
is migrated like a ``.py`` file. Each cell whose code changed gets its ``source`` array written
back in the notebook's own layout (one JSON string per line, the array's indentation); outputs,
metadata and every other byte of the file are untouched. Findings carry the line of the file
where their code line is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SENTINEL = "# migrate-tests: notebook cell boundary"
MAGIC = re.compile(r"^\s*[%!]")


class NotebookError(ValueError):
    """The file is not a notebook this module can edit."""


@dataclass(frozen=True)
class Cell:
    index: int
    lines: list[str]  # the decoded source lines, with their line endings
    span: tuple[int, int]  # character span of the ``source`` value in the file
    line_of: list[int]  # the file's line (1-based) of each source line


def code_cells(text: str) -> list[Cell]:
    """The code cells of a notebook, with where their sources are written."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("no 'cells' list: not a Jupyter notebook")
    spans = _Scanner(text).sources()
    cells = []
    for index, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or index not in spans:
            continue
        source = cell.get("source", [])
        lines = [source] if isinstance(source, str) else list(source)
        if not all(isinstance(line, str) for line in lines):
            continue
        span, starts = spans[index]
        line_of = [text.count("\n", 0, start) + 1 for start in starts]
        if len(line_of) != len(lines):  # a single string source: every line on its first line
            line_of = [line_of[0] if line_of else text.count("\n", 0, span[0]) + 1] * len(lines)
        cells.append(Cell(index, lines, span, line_of))
    return cells


def markdown_lines(text: str) -> list[tuple[int, str]]:
    """(the file's line, the text) of each source line of the Markdown cells."""
    data = json.loads(text)
    spans = _Scanner(text).sources()
    out: list[tuple[int, str]] = []
    for index, cell in enumerate(data.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown" or index not in spans:
            continue
        source = cell.get("source", [])
        lines = [source] if isinstance(source, str) else source
        starts = spans[index][1]
        for line, start in zip(lines, starts, strict=False):
            if isinstance(line, str):
                out.append((text.count("\n", 0, start) + 1, line))
    return out


def module_of(cells: list[Cell]) -> tuple[str, list[int]]:
    """The Python module of the code cells and, per module line, the file's line."""
    parts: list[str] = []
    lines: list[int] = []
    for position, cell in enumerate(cells):
        if position:
            parts.append(SENTINEL + "\n")
            lines.append(cell.line_of[0] if cell.line_of else 0)
        code = "".join(_python_line(line) for line in cell.lines)
        if code and not code.endswith("\n"):
            code += "\n"
        parts.append(code)
        lines.extend(cell.line_of or [])
        lines.extend(
            [cell.line_of[-1] if cell.line_of else 0] * (code.count("\n") - len(cell.line_of))
        )
    return "".join(parts), lines


def _python_line(line: str) -> str:
    """An IPython line becomes a comment of its own text: the module still parses."""
    if MAGIC.match(line):
        body = line.rstrip("\r\n")
        return "#" + body[1:] + line[len(body) :] if body.startswith(("%", "!")) else "#" + line
    return line


def rewritten(text: str, cells: list[Cell], new_module: str) -> str:
    """The notebook with each changed cell's ``source`` written back in the file's layout."""
    chunks = new_module.split(SENTINEL + "\n")
    if len(chunks) != len(cells):
        raise NotebookError("the rewrite moved a cell boundary: left as is")
    out = text
    for cell, chunk in sorted(zip(cells, chunks, strict=True), key=lambda p: -p[0].span[0]):
        old = "".join(_python_line(line) for line in cell.lines)
        had_newline = old.endswith("\n")
        if not had_newline and chunk.endswith("\n"):
            chunk = chunk[:-1]
        if chunk == old:
            continue
        new_lines = _restore_magics(cell.lines, chunk.splitlines(keepends=True))
        start, end = cell.span
        out = out[:start] + _dump(new_lines, text, start) + out[end:]
    return out


def _restore_magics(old: list[str], new: list[str]) -> list[str]:
    """Put the original IPython lines back where their comment stands."""
    magics = {_python_line(line): line for line in old if MAGIC.match(line)}
    return [magics.get(line, line) for line in new]


def _dump(lines: list[str], text: str, start: int) -> str:
    """A JSON array of ``lines`` laid out as the array at ``start`` is (nbformat: one string
    per line, indented one level deeper than the key)."""
    line_start = text.rfind("\n", 0, start) + 1
    key_indent = re.match(r"[ \t]*", text[line_start:]).group()  # type: ignore[union-attr]
    inner = re.match(r"\[\s*\n([ \t]*)", text[start:])
    if inner is None:  # a one-line array
        return json.dumps(lines, ensure_ascii=False)
    indent = inner.group(1)
    newline = "\r\n" if "\r\n" in text[start : start + inner.end()] else "\n"
    items = ("," + newline + indent).join(json.dumps(line, ensure_ascii=False) for line in lines)
    return f"[{newline}{indent}{items}{newline}{key_indent}]"


class _Scanner:
    """The spans of each cell's ``source`` value and of its strings, from the raw text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def sources(self) -> dict[int, tuple[tuple[int, int], list[int]]]:
        out: dict[int, tuple[tuple[int, int], list[int]]] = {}
        self._value(path=(), out=out)
        return out

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def _value(self, path: tuple[object, ...], out: dict) -> None:  # type: ignore[type-arg]
        self._skip()
        char = self.text[self.pos]
        start = self.pos
        if char == "{":
            self.pos += 1
            while True:
                self._skip()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                key = self._string()
                self._skip()
                self.pos += 1  # ':'
                self._value((*path, key), out)
                self._skip()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif char == "[":
            self.pos += 1
            starts: list[int] = []
            index = 0
            while True:
                self._skip()
                if self.text[self.pos] == "]":
                    self.pos += 1
                    break
                starts.append(self.pos)
                self._value((*path, index), out)
                index += 1
                self._skip()
                if self.text[self.pos] == ",":
                    self.pos += 1
            if len(path) == 3 and path[0] == "cells" and path[2] == "source":
                out[path[1]] = ((start, self.pos), starts)
        elif char == '"':
            self._string()
            if len(path) == 3 and path[0] == "cells" and path[2] == "source":
                out[path[1]] = ((start, self.pos), [start])
        else:
            match = re.compile(r"[^,\]}\s]+").match(self.text, self.pos)
            self.pos = match.end() if match else self.pos + 1

    def _string(self) -> str:
        end = self.pos + 1
        while self.text[end] != '"':
            end += 2 if self.text[end] == "\\" else 1
        value: str = json.loads(self.text[self.pos : end + 1])
        self.pos = end + 1
        return value
