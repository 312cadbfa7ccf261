"""mktme_lite.course: lessons.toml read once, checked, and followed by everything that lists the course."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from mktme_lite import course
from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.widgets import start_here

ROOT = Path(__file__).resolve().parents[2]
TOML = ROOT / "lessons.toml"
LATER = ("04", "05", "06", "07", "08")


def _planned_text() -> str:
    """The course's lessons.toml with lessons 04-08 set back to planned: the tests below edit one
    lesson of a course that still has planned ones, whichever lessons are written today."""
    import re

    text = TOML.read_text(encoding="utf-8")
    for n in LATER:
        text, count = re.subn(rf'(stem = "{n}_[a-z0-9_]+"\n)status = "(?:written|planned)"\n(title = .*\n)'
                              rf'(claims = .*\n)(?:exercises = (?:true|false)\n)?', r'\1status = "planned"\n\2\3',
                              text)
        assert count == 1, f"lesson {n} not found in lessons.toml as expected"
    return text


# --------------------------------------------------------------------------- the course itself

def test_the_course_has_nine_lessons_written_or_planned():
    lessons = course.lessons()
    assert [entry.number for entry in lessons] == [f"{i:02d}" for i in range(9)]
    assert all(entry.stem.startswith(entry.number + "_") for entry in lessons)
    assert all(entry.status in course.STATUSES for entry in lessons)
    # Every lesson is written or planned, once; each list keeps the course's order (lessons are not
    # written in order: 08 was written while 04-07 were planned).
    assert sorted(course.written() + course.planned(), key=lambda e: e.number) == list(lessons)
    assert [e for e in lessons if e.status == "written"] == list(course.written())
    assert [entry.stem for entry in course.written()] == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert not any(entry.exercises for entry in course.planned())


def test_the_lessons_table_of_the_design():
    """DESIGN.md's lessons table: which lesson covers which claim."""
    covers = {entry.number: entry.claims for entry in course.lessons()}
    assert covers == {"00": (), "01": ("C3",), "02": ("C1", "C2", "C3"), "03": ("C8", "C3"),
                      "04": ("C5", "C6"), "05": ("C4",), "06": ("C7",), "07": ("C8", "C9"),
                      "08": ("C3", "C10", "C11")}


def test_every_claim_is_covered_and_knows_its_lessons():
    for c in course.claims():
        assert c.lessons, f"{c.id} is covered by no lesson"
        assert c.lessons == tuple(e.number for e in course.lessons() if c.id in e.claims)
    assert [c.id for c in course.claims()] == [f"C{i}" for i in range(1, 12)]


def test_lookup_by_number_or_stem_and_frozen_results():
    assert course.lesson("03") is course.lesson("03_aliasing")
    assert course.lesson("03").title == "Aliasing through the direct map"
    assert course.claim("C8").lessons == ("03", "07")
    for value in (course.lesson("04"), course.claim("C5"), course.load()):
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.title = "changed"  # type: ignore[misc]
    assert course.load().root == ROOT and course.source() == TOML


@pytest.mark.parametrize("bad", ["09", "3", 3, None, "03_alias"])
def test_an_unknown_lesson_names_what_is_allowed(bad):
    with pytest.raises(ParameterError, match=r"unknown lesson .*the course has lessons 00, 01, .*, 08: give a "
                                             r"number like '08' or a stem like '08_use_cases'"):
        course.lesson(bad)


@pytest.mark.parametrize("bad", ["C12", "c3", 3])
def test_an_unknown_claim_names_what_is_allowed(bad):
    with pytest.raises(ParameterError, match="unknown claim .*; the claims are C1, C2, .*, C11"):
        course.claim(bad)


def test_course_is_in_the_base_layer_with_a_synopsis_and_all():
    tree = ast.parse((ROOT / "mktme_lite" / "course.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert imported <= {"errors", "params"}
    doc = ast.get_docstring(tree)
    assert doc and "course.lessons()" in doc and "course.lesson(" in doc
    assert set(course.__all__) <= set(dir(course))


# --------------------------------------------------------------------------- lessons.toml can be wrong

def _use(tmp_path: Path, monkeypatch, text: str) -> Path:
    path = tmp_path / "lessons.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(course.ENV, str(path))
    return path


BROKEN = {
    "unknown status": (('status = "planned"\ntitle = "Swap"', 'status = "maybe"\ntitle = "Swap"'),
                       "05_swap: status is 'maybe'; it must be one of 'written', 'planned'"),
    "no title": (('title = "Swap"', 'title = " "'), "05_swap: 'title' must be non-empty text"),
    "unknown claim": (('claims = ["C4"]', 'claims = ["C40"]'),
                      "05_swap: claim 'C40' is not in lessons.toml [claims] (known: C1, C2"),
    "claim twice": (('claims = ["C4"]', 'claims = ["C4", "C4"]'), "05_swap: 'claims' names a claim twice"),
    "no claims": (('claims = ["C4"]', 'claims = []'), "05_swap: 'claims' must not be empty"),
    "bad stem": (('stem = "05_swap"', 'stem = "5-swap"'), "stem '5-swap' is not like '01_tme_basics'"),
    "unknown key": (('title = "Swap"', 'title = "Swap"\nminutes = 30'),
                    "05_swap: unknown keys ['minutes']; allowed: stem, status, title, claims, exercises"),
    "planned with exercises": (('title = "Swap"', 'title = "Swap"\nexercises = true'),
                               "05_swap: a planned lesson has no exercises yet"),
    "written without exercises flag": (('status = "planned"\ntitle = "Swap"', 'status = "written"\ntitle = "Swap"'),
                                       "05_swap: 'exercises' must be true or false"),
    "listed twice": (('stem = "06_pconfig_races"', 'stem = "05_swap"'), "05_swap is listed twice"),
    "out of order": (('stem = "06_pconfig_races"', 'stem = "03_pconfig_races"'),
                     "03_pconfig_races comes after 05_swap; lessons are not in increasing order"),
    "claim without text": (('[claims.C11]\ntext = "Why use anything but a CPU-managed key, except for pmem?"',
                            '[claims.C11]\ntext = ""'), "[claims.C11]: 'text' must be one line of non-empty text"),
    "claim short too long": (('short = "why not a CPU key?"', 'short = "' + "x" * 41 + '"'),
                             "[claims.C11]: 'short' has 41 characters; at most 40"),
    "bad claim id": (("[claims.C11]", "[claims.X11]"), "a claim id is C followed by a number"),
    "unknown table": (("[claims.C1]", "[course]\nname = 'x'\n\n[claims.C1]"),
                      "unknown tables ['course']; it holds only [claims.*] and [[lesson]]"),
    "not TOML": (('title = "Swap"', 'title = Swap'), "is not valid TOML"),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_a_broken_lessons_toml_is_refused_saying_what_is_allowed(tmp_path, monkeypatch, breakage):
    (old, new), message = BROKEN[breakage]
    text = _planned_text()
    assert old in text, f"{breakage}: the course no longer has {old!r}"
    _use(tmp_path, monkeypatch, text)
    assert len(course.lessons()) == 9  # the copy starts clean
    _use(tmp_path, monkeypatch, text.replace(old, new, 1))
    with pytest.raises(course.CourseError) as caught:
        course.lessons()
    assert message in str(caught.value), str(caught.value)
    assert isinstance(caught.value, MKTMEError)


def test_a_missing_lessons_toml_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(course.ENV, str(tmp_path / "nowhere.toml"))
    with pytest.raises(course.CourseError, match="which is not a file; point it at a lessons.toml"):
        course.lessons()
    with pytest.raises(course.CourseError, match="does not exist; a course needs a lessons.toml"):
        course.load(tmp_path / "nowhere.toml")
    _use(tmp_path, monkeypatch, "# nothing here\n")
    with pytest.raises(course.CourseError, match=r"needs a \[claims.C1\] table per claim") as caught:
        course.lessons()
    assert "lists no [[lesson]]" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path, monkeypatch):
    text = _planned_text().replace('title = "Swap"', 'title = ""').replace('status = "planned"\ntitle = "PCONFIG',
                                                                            'status = "soon"\ntitle = "PCONFIG')
    _use(tmp_path, monkeypatch, text)
    with pytest.raises(course.CourseError) as caught:
        course.lessons()
    assert "05_swap: 'title'" in str(caught.value) and "06_pconfig_races: status is 'soon'" in str(caught.value)


# --------------------------------------------------------------------------- one edit, everything follows

def test_writing_lesson_04_touches_lessons_toml_once(tmp_path, monkeypatch):
    """Point the course at a copy of lessons.toml in which lesson 04 is written: the lesson list,
    the claim map (card, table, figure, labels) and the quiz rule all follow, with no code change."""
    text = _planned_text()
    _use(tmp_path, monkeypatch, text)
    before_table = start_here.claim_table().text
    assert "04 (planned)" in before_table and course.lesson("04").is_planned
    written_before = [e.number for e in course.written()]
    planned_after = [e.number for e in course.planned() if e.number != "04"]
    written_after = sorted(written_before + ["04"])
    old = 'stem = "04_cache_incoherence"\nstatus = "planned"'
    assert old in text
    _use(tmp_path, monkeypatch, text.replace(old, 'stem = "04_cache_incoherence"\nstatus = "written"\n'
                                                  'exercises = false'))

    assert [e.number for e in course.written()] == written_after
    assert [e.number for e in course.planned()] == planned_after
    assert not course.lesson("04").is_planned
    assert course.lesson("04").label == "04 — Cache incoherence"
    table = start_here.claim_table().text
    assert "04 (planned)" not in table and "C5 [04]" in table and "C6 [04]" in table
    assert f"the course so far has lessons {', '.join(written_after)}." in table
    card = start_here.render_claim_card("C5")
    assert "Lesson 04 — Cache incoherence" in card.text and "(planned)" not in card.text
    assert "not written yet" not in card.text  # no lesson of C5 is planned any more
    alt = start_here.claim_figure().mktme_alt
    assert "04" not in alt.split("planned:")[-1] and "05" in alt.split("planned:")[-1]

    _use(tmp_path, monkeypatch, text)  # and back to the course before the edit
    assert course.lesson("04").is_planned and start_here.claim_table().text == before_table


def test_a_retitled_lesson_is_retitled_everywhere_it_is_shown(tmp_path, monkeypatch):
    text = _planned_text().replace('title = "Swap"', 'title = "Swapping"')
    _use(tmp_path, monkeypatch, text)
    assert course.lesson("05").label == "05 — Swapping (planned)"
    assert "Lesson 05 — Swapping (planned)" in start_here.render_claim_card("C4").text
    labels = [t.get_text() for t in start_here.claim_figure().axes[0].get_xticklabels()]
    assert "05\nSwapping\n(planned)" in labels
