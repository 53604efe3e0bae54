"""Plain-text tables that fit the terminal, fast enough to stream 100,000 rows.

The rules, in order: ids and pids are never cut (a cut id cannot be pasted into `show`);
when a table is wider than the terminal, the columns that matter least are left out first;
what is left of a long text (a command, an error) is cut with an ellipsis, or wrapped onto
continuation lines where it is the last column. Widths come from the rows given to
``Table.fit``; a longer value in a later streamed row is still printed whole.

Off a terminal nothing is left out or cut unless ``COLUMNS`` says how wide to be, so that
`grep` sees whole rows; there is no colour off a terminal or with ``NO_COLOR`` set.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TextIO

GAP = "  "
ELLIPSIS = "…"
RESET = "\x1b[0m"
STYLES = {"bold": "\x1b[1m", "dim": "\x1b[2m", "red": "\x1b[31m", "green": "\x1b[32m"}
STYLES |= {"yellow": "\x1b[33m", "magenta": "\x1b[35m", "cyan": "\x1b[36m"}
UNCUT = 120  # with no width to fit, a cuttable text still stops here


class Column(NamedTuple):
    header: str
    keep: int = 50  # columns with the lowest value are left out first
    never_drop: bool = False  # ids and pids: never left out, never cut
    right: bool = False
    cut: int = 0  # > 0: may be cut with an ellipsis down to this many cells
    wrap: bool = False  # the last column may wrap onto continuation lines instead


Cell = str | tuple[str, str]  # text, or (text, style)


class Screen:
    """Where a table goes: its width (None: no limit) and whether it may use colour."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        tty = self.stream.isatty()
        columns = os.environ.get("COLUMNS", "")
        if tty:
            self.width: int | None = shutil.get_terminal_size().columns
        elif columns.isdigit() and int(columns) > 0:
            self.width = int(columns)
        else:
            self.width = None
        self.color = tty and not os.environ.get("NO_COLOR")

    def style(self, text: str, style: str) -> str:
        if not self.color or not style:
            return text
        return "".join(STYLES.get(s, "") for s in style.split()) + text + RESET

    def write(self, text: str) -> None:
        self.stream.write(text)


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(_char_cells(c) for c in text)


def _char_cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def printable(text: str) -> str:
    """One line of text that cannot steer the terminal: whitespace runs become one space,
    other control characters a visible escape (a job's command or error is anyone's text)."""
    if text.isprintable():
        return text
    line = " ".join(text.split())
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def _prefix(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` cells."""
    if text.isascii():
        return text[:width]
    used = 0
    for n, char in enumerate(text):
        used += _char_cells(char)
        if used > width:
            return text[:n]
    return text


def cut(text: str, width: int) -> str:
    if cells(text) <= width:
        return text
    return _prefix(text, width - 1) + ELLIPSIS


def _split(text: str, width: int) -> list[str]:
    """Wrap at spaces. A word longer than the line (an id, a path) is never broken: it
    stays whole on a line of its own, because a broken one cannot be copied."""
    lines = []
    while cells(text) > width:
        head = _prefix(text, width + 1)
        space = head.rfind(" ")
        if space <= 0:
            space = text.find(" ")
            if space < 0:
                break
        lines.append(text[:space].rstrip())
        text = text[space:].lstrip()
    lines.append(text)
    return lines


class Table:
    def __init__(self, columns: Sequence[Column], screen: Screen) -> None:
        self.columns = list(columns)
        self.screen = screen
        self.shown: list[int] = []  # indexes of the columns that fit
        self.widths: dict[int, int] = {}
        self.left_out: list[str] = []  # headers of the columns that did not fit

    def fit(self, rows: Sequence[Sequence[Cell]]) -> None:
        """Choose the columns and their widths for these rows and the screen's width."""
        natural = {
            i: max([cells(col.header)] + [_widest(_text(row[i])) for row in rows])
            for i, col in enumerate(self.columns)
        }
        limit = self.screen.width
        for i, col in enumerate(self.columns):
            if col.cut and limit is None:
                natural[i] = min(natural[i], UNCUT)
        shown = list(range(len(self.columns)))
        while True:
            least = {i: self._least(i, natural[i]) for i in shown}
            need = sum(least.values()) + len(GAP) * (len(shown) - 1)
            droppable = [i for i in shown if not self.columns[i].never_drop]
            if limit is None or need <= limit or not droppable:
                break
            shown.remove(min(droppable, key=lambda i: self.columns[i].keep))
        widths = dict(least) if limit is not None else {i: natural[i] for i in shown}
        spare = (limit - need) if limit is not None else 0
        for i in sorted(shown, key=lambda i: -self.columns[i].keep):
            grow = min(natural[i] - widths[i], max(0, spare))
            widths[i] += grow
            spare -= grow
        self.shown, self.widths = shown, widths
        self.left_out = [c.header for i, c in enumerate(self.columns) if i not in shown]

    def _least(self, i: int, natural: int) -> int:
        col = self.columns[i]
        header = cells(col.header)
        if col.cut:
            return min(natural, max(col.cut, header))
        if col.wrap and i == len(self.columns) - 1:
            return min(natural, max(12, header))
        return natural

    def header(self) -> str:
        names = [self.columns[i].header for i in self.shown]
        rule = "─" * (sum(self.widths[i] for i in self.shown) + len(GAP) * (len(self.shown) - 1))
        return self._line(names, bold=True) + "\n" + self.screen.style(rule, "dim") + "\n"

    def rows(self, rows: Iterable[Sequence[Cell]]) -> str:
        return "".join(self._row(row) for row in rows)

    def _line(self, texts: Sequence[str], bold: bool) -> str:
        parts = []
        last = len(self.shown) - 1
        for n, (i, text) in enumerate(zip(self.shown, texts, strict=True)):
            col = self.columns[i]
            pad = " " * max(0, self.widths[i] - cells(text))
            shown = self.screen.style(text, "bold") if bold else text
            parts.append(pad + shown if col.right else shown + ("" if n == last else pad))
        return GAP.join(parts)

    def _row(self, row: Sequence[Cell]) -> str:
        parts: list[str] = []
        more: list[str] = []
        last = len(self.shown) - 1
        offset = 0
        for n, i in enumerate(self.shown):
            col = self.columns[i]
            width = self.widths[i]
            cell = row[i]
            text, style = (cell, "") if isinstance(cell, str) else cell
            if col.wrap and n == last and ("\n" in text or cells(text) > width):
                first, *more = [piece for part in text.split("\n") for piece in _split(part, width)]
                text = first
            elif col.cut and cells(text) > width:
                text = cut(text, width)
            pad = " " * max(0, width - cells(text))
            text = self.screen.style(text, style)
            parts.append(pad + text if col.right else text + ("" if n == last else pad))
            if n < last:
                offset += width + len(GAP)
        line = GAP.join(parts) + "\n"
        return line + "".join(" " * offset + extra + "\n" for extra in more)


def _widest(text: str) -> int:
    return max(map(cells, text.split("\n"))) if "\n" in text else cells(text)


def _text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]
