"""One table builder for every HTML table of the course, each with a plain-text twin.

How a widget or a lesson helper calls it::

    from mktme_lite.viz.tables import Cell, table, text_columns, card

    t = table(["design", "process_vm_readv"], [["keyid0", "GARBAGE"], ["per_keyid", "right"]],
              strong=("GARBAGE",), caption="Every row: Policy.core_series().", ruled=True)
    t.html        # <table ...><caption>...</caption><thead>...</thead><tbody>...</tbody></table>
    t.text        # the caption, then aligned columns: what a screen reader or print() gets
    table(heads, rows, text="fields")             # "  head: value" per row (label/value tables)
    table(heads, rows, text=lambda row: [...])    # the caller's own lines for each row
    text_columns([("bits", "field"), ("0", "lock")])   # just the aligned text columns

Why one builder: the course's tables were written four ways, and each escaped, bolded and
aligned a little differently. Here a cell's words are escaped once, an alarming word (``strong``)
is bold in HTML *and* written out in the twin, so neither form relies on typography alone, and
the twin of a plain table lines its columns up with two spaces between them.
"""

from __future__ import annotations

import html as _html
import re
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple, Sequence

from .. import style
from ..errors import ParameterError
from ..params import flag, items, shown
from ..params import text as _text
from .figure import HTMLCard

__all__ = ["Cell", "table", "text_columns", "card", "TEXT_LAYOUTS"]

#: How the plain-text twin lays the rows out (or pass a function: row -> lines).
TEXT_LAYOUTS = ("columns", "fields")

# The same words come back on every redraw of a widget (claim texts, "GARBAGE", header labels), so
# their escaped form is cached; html.escape itself is the biggest cost of a table.
_esc = lru_cache(maxsize=4096)(_html.escape)

_CELL_STYLE = "text-align:left;vertical-align:top;padding:0.15em 0.6em"
_RULE = ";border-bottom:1px solid #ccc"


class Cell(NamedTuple):
    """One table cell: its words, and how the HTML shows them.

    ``text`` is what the twin says. ``strong`` makes it bold in HTML. ``note`` is a second line
    under it (``<br>`` in HTML, after a space in the twin), bold with ``note_strong``. ``html``
    replaces the escaped ``text`` in the HTML when the cell needs markup (a link, ``<code>``);
    the caller then owns its escaping, and ``text`` must say the same in words.

    A NamedTuple rather than a frozen dataclass: just as immutable, and three times cheaper to
    build, which a table of fifty cells redrawn on every widget update notices.
    """

    text: str
    strong: bool = False
    note: str = ""
    note_strong: bool = False
    html: str | None = None

    @property
    def plain(self) -> str:
        """The cell as one line of text (what the aligned columns show)."""
        return f"{self.text} {self.note}" if self.note else self.text


def _cells(row: Sequence[object], strong: frozenset[str], where: str) -> list[str | Cell]:
    """A row's checked cells; a plain str stays a str (building a Cell for each would cost time)."""
    out = []
    for j, value in enumerate(row):
        if isinstance(value, str):
            out.append(Cell(value, strong=True) if value in strong else value)
        elif isinstance(value, Cell):
            out.append(value)
        else:
            raise ParameterError(f"cell {j} of {where} must be a str or a Cell; got {shown(value)}")
    return out


def _as_cell(c: str | Cell) -> Cell:
    return Cell(c) if isinstance(c, str) else c


def _plain(c: str | Cell) -> str:
    return c if isinstance(c, str) else c.plain


def _inner_html(c: str | Cell) -> str:
    """What goes between a cell's tags: escaped words, bold where asked, the note after a <br>."""
    if isinstance(c, str):
        return _esc(c)
    inner = c.html if c.html is not None else _esc(c.text)
    if c.strong:
        inner = f"<strong>{inner}</strong>"
    if c.note:
        note = _esc(c.note)
        inner += f"<br><strong>{note}</strong>" if c.note_strong else f"<br>{note}"
    return inner


def text_columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows of strings as aligned columns, two spaces apart, no trailing blanks.

    The last column is not padded, so a long last column (a meaning, a sentence) does not push
    every shorter line out to its width."""
    rows = [items(r, "a row of text_columns") for r in items(rows, "rows (a list of rows)")]
    for r in rows:
        for v in r:
            if not isinstance(v, str):
                raise ParameterError(f"every cell of text_columns must be a str; got {shown(v)}")
    if not rows:
        return ""
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ParameterError(f"every row needs the same {n} columns; got rows of {sorted({len(r) for r in rows})}")
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def table(columns: Sequence[str] | None, rows: Sequence[Sequence[str | Cell]], *, strong: Iterable[str] = (),
          caption: str = "", footer: str = "", row_heads: bool = False, ruled: bool = False, css_class: str = "",
          text: str | Callable[[list[Cell]], list[str]] = "columns") -> HTMLCard:
    """An HTML table and its plain-text twin, as an :class:`HTMLCard`.

    ``columns`` are the header labels (``None``: no header row). A cell is a str or a
    :class:`Cell`; a str cell that equals one of the ``strong`` words is bold. ``caption`` goes
    above the table, ``footer`` below it in italics, and both are the twin's first and last
    lines. ``row_heads`` makes each row's first cell a ``<th>``; ``ruled`` draws a line under
    every row (tables that stand alone); ``css_class`` names the table for a stylesheet.
    ``text`` is the twin's layout: ``"columns"`` (aligned, with the header line), ``"fields"``
    (``  first cell: second cell`` per row) or a function from a row's cells to its lines.
    """
    strong = list(strong) if isinstance(strong, (set, frozenset)) else items(strong, "strong (words to bold)")
    words = frozenset(_text(w, "a word in strong") for w in strong)
    if not isinstance(rows, (list, tuple)):
        raise ParameterError(f"rows must be a list of rows; got {shown(rows)}")
    caption, footer = _text(caption, "caption"), _text(footer, "footer")
    css_class = _text(css_class, "css_class", 0, 60)
    row_heads, ruled = flag(row_heads, "row_heads"), flag(ruled, "ruled")
    heads = None if columns is None else _cells(items(columns, "columns (the header labels, or None)"),
                                                frozenset(), "the column labels")
    body = []
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or isinstance(row, Cell):
            raise ParameterError(f"row {i} must be a list of cells; got {shown(row)}")
        if heads is not None and len(row) != len(heads):
            raise ParameterError(f"row {i} has {len(row)} cells; the table has {len(heads)} columns")
        body.append(_cells(row, words, f"row {i}"))
    if not ((isinstance(text, str) and text in TEXT_LAYOUTS) or (callable(text) and not isinstance(text, type))):
        raise ParameterError(f"unknown text layout {shown(text)}; choose one of {', '.join(TEXT_LAYOUTS)} "
                             "or give a function from a row's cells to its lines")
    if text == "fields" and any(len(r) != 2 for r in body):
        raise ParameterError("the 'fields' layout needs rows of exactly two cells (a label and a value)")

    style_ = _CELL_STYLE + (_RULE if ruled else "")
    attrs = (f" class='{_html.escape(css_class, quote=True)}'" if css_class else "") + \
        (" style='border-collapse:collapse;font-size:0.9em'" if ruled else "")
    parts = [f"<table{attrs}>"]
    if caption:
        parts.append("<caption style='caption-side:top;text-align:left;padding-bottom:0.3em'>"
                     f"{_html.escape(caption)}</caption>")
    th, td = f"<th style='{style_}'>", f"<td style='{style_}'>"
    if heads is not None:
        parts.append("<thead><tr>" + "".join(f"{th}{_inner_html(h)}</th>" for h in heads) + "</tr></thead>")
    parts.append("<tbody>")
    for row in body:
        first, rest = (f"{th}{_inner_html(row[0])}</th>", row[1:]) if row_heads and row else ("", row)
        parts.append(f"<tr>{first}" + "".join(f"{td}{_inner_html(c)}</td>" for c in rest) + "</tr>")
    parts.append("</tbody></table>")
    if footer:
        parts.append(f"<p style='margin:0.4em 0 0 0'><em>{_html.escape(footer)}</em></p>")

    lines = [caption] if caption else []
    if text == "columns":
        lines += text_columns(([[_plain(h) for h in heads]] if heads is not None else [])
                              + [[_plain(c) for c in r] for r in body]).splitlines()
    elif text == "fields":
        lines += [f"  {_plain(k)}: {_plain(v)}" for k, v in body]
    else:
        for row in body:
            got = text([_as_cell(c) for c in row])
            if not isinstance(got, (list, tuple)) or not all(isinstance(line, str) for line in got):
                raise ParameterError(f"the text layout function must return a list of lines (str); got {shown(got)}")
            lines += list(got)
    if footer:
        lines.append(footer)
    return HTMLCard("".join(parts), "\n".join(lines))


def _markup_text(markup: str) -> str:
    """Inline HTML as text: a link becomes ``words [url]``, tags go, entities are decoded."""
    markup = re.sub(r"<a href='([^']*)'>([^<]*)</a>", r"\2 [\1]", markup)
    return _html.unescape(re.sub(r"<[^>]+>", "", markup))


def card(title: str, rows: Sequence[tuple[str, str]], *, footer: str | None = None) -> HTMLCard:
    """A framed card: a bold title and label/value rows. Values (and ``footer``) are inline HTML
    (links, ``<code>``), so their twin is derived from the markup: a link reads ``words [url]``."""
    if not isinstance(title, str) or not title.strip():
        raise ParameterError(f"a card needs a title (a non-empty str); got {shown(title)}")
    rows = items(rows, "rows (label, value pairs)")
    for row in rows:
        if not isinstance(row, (list, tuple)) or len(row) != 2 or not all(isinstance(x, str) for x in row):
            raise ParameterError(f"a card row is a pair of texts (label, value); got {shown(row)}")
    footer = None if footer is None else _text(footer, "footer")
    cells = [[str(k), Cell(_markup_text(v), html=v)] for k, v in rows]
    body = table(None, cells, row_heads=True, text="fields")
    foot = f"<p style='margin:0.4em 0 0 0'><em>{footer}</em></p>" if footer else ""
    html = (f"<div class='mktme-card' style='border:1px solid #999;border-left:6px solid {style.OKABE_ITO['blue']};"
            f"padding:0.5em 0.8em;max-width:48em'><p style='margin:0 0 0.3em 0'><strong>{_html.escape(title)}"
            f"</strong></p>{body.html}{foot}</div>")
    text = "\n".join([title, *body.text.splitlines(), *([_markup_text(footer)] if footer else [])])
    return HTMLCard(html, text)
