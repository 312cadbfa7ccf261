"""One glossary (glossary.toml, read by mktme_lite.glossary), rendered as GLOSSARY.md, linked from every
lesson's header, and matched against the terms the lessons mark as defined (links to its anchors)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import sync_lessons as sl
from mktme_lite import ParameterError, glossary

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(\.\./GLOSSARY\.md#([a-z0-9-]+)\)")


def linked(stem: str) -> list[str]:
    """Anchors a lesson links to, in order, outside its generated header and footer."""
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    body = [c for c in nb.cells if c.cell_type == "markdown"
            and not {sl.HEADER_TAG, sl.FOOTER_TAG} & set(c.metadata.get("tags", []))]
    return [a for c in body for a in LINK.findall(c.source)]


def test_every_marked_term_is_in_the_glossary_and_every_term_is_marked_where_it_is_defined():
    terms = {t.anchor: t for t in glossary.terms()}
    marked = {}
    for entry in sl.load_course(ROOT).written():
        for anchor in linked(entry.stem):
            assert anchor in terms, f"{entry.stem} links GLOSSARY.md#{anchor}, which glossary.toml lacks"
            marked.setdefault(anchor, entry.number)  # the first lesson that links it
    for anchor, t in terms.items():
        assert anchor in marked, f"glossary term {t.name!r} is linked from no lesson (it says lesson {t.lesson})"
        assert marked[anchor] == t.lesson, (f"{t.name!r} is first linked in lesson {marked[anchor]}, "
                                            f"but glossary.toml says lesson {t.lesson} defines it")


def test_glossary_md_is_generated_and_every_header_links_it():
    text = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
    assert text == sl.glossary_source(glossary.terms(), sl.load_course(ROOT))
    for t in glossary.terms():
        assert f'<a id="{t.anchor}"></a>**{t.name}**' in text
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            header = next(c.source for c in nbformat.read(path, as_version=4).cells
                          if sl.HEADER_TAG in c.metadata.get("tags", []))
            assert f"]({sl.GLOSSARY_LINK})" in header, f"{folder}/{path.name}: header has no glossary link"


def test_first_use_jargon_of_lesson_00_is_defined_in_lesson_00():
    """The terms a new learner met undefined in lesson 00 (issue 11) are marked there."""
    assert {"pconfig", "xpfo", "get-user-pages", "pmem", "tdx", "hpa", "tme-bypass"} <= set(linked("00_start_here"))


@pytest.mark.parametrize("text, message", [
    ("", "lists no [[term]]"),
    ('[[term]]\nname = "X"\nanchor = "Bad Anchor"\nlesson = "00"\ntext = "t"\n', "lower-case"),
    ('[[term]]\nname = "X"\nanchor = "x"\nlesson = "0"\ntext = "t"\n', "two-digit"),
    ('[[term]]\nname = "X"\nanchor = "x"\nlesson = "00"\ntext = "t"\n' * 2, "used twice"),
    ('[[term]]\nname = "X"\nanchor = "x"\nlesson = "00"\n', "text must be non-empty"),
    ("not toml [", "not valid TOML"),
])
def test_a_malformed_glossary_is_refused(tmp_path, text, message):
    path = tmp_path / "glossary.toml"
    path.write_text(text)
    with pytest.raises(glossary.GlossaryError, match=re.escape(message)):
        glossary.load(path)


def test_unknown_term_names_the_anchors():
    with pytest.raises(ParameterError, match="pconfig"):
        glossary.term("no-such-term")
