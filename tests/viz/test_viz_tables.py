"""mktme_lite.viz.tables: one builder for every HTML table, each with a plain-text twin.

What the builder promises: a cell's words are escaped exactly once, an alarming word is bold in
HTML and still written out in the twin, the twin's columns line up, and a bad table is refused
with a sentence."""
from __future__ import annotations

import pytest

from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.viz import HTMLCard
from mktme_lite.viz.tables import Cell, card, table, text_columns


def test_cell_words_are_escaped_once():
    t = table(["a<b"], [["<script>x</script> & 'q'"]])
    assert "<script>" not in t.html and "&lt;script&gt;" in t.html and "&amp;" in t.html
    assert "&amp;amp;" not in t.html
    assert "<th style='text-align:left;vertical-align:top;padding:0.15em 0.6em'>a&lt;b</th>" in t.html
    assert t.text.splitlines() == ["a<b", "<script>x</script> & 'q'"]  # the twin is text, never escaped


def test_alarming_words_are_bold_and_still_written_out():
    t = table(["design", "read"], [["keyid0", "GARBAGE"], ["per_keyid", "right"], ["GARBAGE", "garbage"]],
              strong=("GARBAGE",))
    assert t.html.count("<strong>GARBAGE</strong>") == 2  # a cell equal to the word, wherever it is
    assert "<strong>garbage</strong>" not in t.html and "<strong>right</strong>" not in t.html
    assert "<strong>" not in t.html.split("</thead>")[0]  # header labels are never "alarming"
    assert "GARBAGE" in t.text.splitlines()[1] and "<" not in t.text


def test_text_twin_columns_line_up():
    t = table(["direct-map design", "gup", "O_DIRECT"], [["keyid0", "GARBAGE", "right"],
                                                      ["per_keyid", "right", "right"]], caption="Every row: x.")
    caption, head, *rows = t.text.splitlines()
    assert caption == "Every row: x."
    starts = [[line.index(word) for word in words] for line, words in
              ((head, ("gup", "O_DIRECT")), (rows[0], ("GARBAGE", "right")), (rows[1], ("right  ", "right")))]
    assert starts[0] == starts[1], t.text  # every column starts where its header starts
    assert head.index("gup") == len("direct-map design") + 2  # two spaces between columns
    assert all(line == line.rstrip() for line in t.text.splitlines())


def test_text_columns_pads_all_but_the_last_column():
    out = text_columns([("bits", "field", "meaning"), ("0", "lock", "locked"), ("35:32", "KeyID bits", "six")])
    assert out.splitlines() == ["bits   field       meaning", "0      lock        locked",
                                "35:32  KeyID bits  six"]
    assert text_columns([]) == ""
    with pytest.raises(ParameterError, match="same 2 columns"):
        text_columns([("a", "b"), ("c",)])


def test_cells_with_notes_markup_and_row_heads():
    t = table(["KeyID", "entry"], [[Cell("3", strong=True, note="packages disagree"),
                                     Cell("own key", note="(changed)", note_strong=True)],
                                    [Cell("link", html="<a href='u'>link</a>"), "x"]], row_heads=True)
    assert "<th style='text-align:left;vertical-align:top;padding:0.15em 0.6em'><strong>3</strong>" \
           "<br>packages disagree</th>" in t.html
    assert "own key<br><strong>(changed)</strong>" in t.html and "<a href='u'>link</a>" in t.html
    assert t.text.splitlines()[1].split("  ")[0] == "3 packages disagree"  # the note is written out too


def test_plain_and_ruled_tables():
    plain = table(["a"], [["b"]])
    assert plain.html.startswith("<table><thead>") and "border-bottom" not in plain.html
    ruled = table(["a"], [["b"]], ruled=True, css_class="mktme-x")
    assert ruled.html.startswith("<table class='mktme-x' style='border-collapse:collapse")
    assert "border-bottom:1px solid #ccc" in ruled.html
    assert table(None, [["a", "b"]]).html.count("<thead>") == 0


def test_fields_and_custom_text_layouts_and_footer():
    t = table(None, [["Claim", "C5"], ["Said by", "Andy"]], text="fields", footer="a & b")
    assert t.text.splitlines() == ["  Claim: C5", "  Said by: Andy", "a & b"]
    assert t.html.endswith("<p style='margin:0.4em 0 0 0'><em>a &amp; b</em></p>")
    t = table(["id", "what"], [["C1", "one"], ["C2", "two"]], text=lambda r: [f"{r[0].text} -> {r[1].text}"])
    assert t.text.splitlines() == ["C1 -> one", "C2 -> two"]


@pytest.mark.parametrize("call, words", [
    (lambda: table(["a", "b"], [["x"]]), "row 0 has 1 cells; the table has 2 columns"),
    (lambda: table(["a"], [[3]]), "cell 0 of row 0 must be a str or a Cell; got 3"),
    (lambda: table(["a"], "rows"), "rows must be a list of rows"),
    (lambda: table(["a"], [["x"]], text="grid"), "choose one of columns, fields"),
    (lambda: table(None, [["a", "b", "c"]], text="fields"), "exactly two cells"),
    (lambda: card("", [("a", "b")]), "a card needs a title"),
])
def test_bad_tables_are_refused_with_a_sentence(call, words):
    with pytest.raises(ParameterError, match=words) as info:
        call()
    assert isinstance(info.value, MKTMEError)


def test_card_keeps_links_and_its_twin_reads_them():
    c = card("Title", [("Link", "<a href='https://example.org'>here</a>"), ("Q", "a &amp; b")], footer="<em>f</em>")
    assert isinstance(c, HTMLCard) and c.html.startswith("<div class='mktme-card'")
    assert "<a href='https://example.org'>here</a>" in c.html and "<table><tbody>" in c.html
    assert c.text.splitlines() == ["Title", "  Link: here [https://example.org]", "  Q: a & b", "f"]
