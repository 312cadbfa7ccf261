"""Self-check questions: valid data, honest feedback, a kernel-free form, and no dangling ids."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mktme_lite import course, quiz
from mktme_lite.errors import MKTMEError

ROOT = Path(__file__).resolve().parents[2]
QUIZ_FILES = sorted((ROOT / "quizzes").glob("*.json"))
ASK = re.compile(r"""quiz\.ask\(\s*["']([^"']+)["']\s*,\s*["']([^"']+)["']\s*\)""")


@pytest.mark.parametrize("path", QUIZ_FILES, ids=lambda p: p.name)
def test_quiz_file_is_valid(path):
    questions = quiz.load(path.stem)
    assert 2 <= len(questions) <= 6
    for q in questions.values():
        assert sum(o.correct for o in q.options) == 1
        assert q.lesson == path.stem[:2]


def test_every_lesson_with_a_quiz_file_has_a_notebook():
    for path in QUIZ_FILES:
        assert (ROOT / "notebooks" / f"{path.stem}.ipynb").exists(), path.name
        assert course.lesson(path.stem).is_written, path.name


def _asked():
    for folder in ("notebooks", "solutions"):
        for nb_path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(nb_path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    for stem, qid in ASK.findall(cell.source):
                        yield nb_path, stem, qid


def test_every_asked_question_exists():
    for nb_path, stem, qid in _asked():
        quiz.question(stem, qid)  # raises QuizError with a clear message if not


def test_feedback_right_wrong_and_out_of_range():
    q = quiz.question("01_tme_basics", "bit-flip")
    ok, msg = quiz.feedback(q, q.answer)
    assert ok and msg.startswith("✔ Right.") and q.explanation in msg
    wrong = next(i for i, o in enumerate(q.options) if not o.correct)
    ok, msg = quiz.feedback(q, wrong)
    assert not ok and msg.startswith("✘ Not quite.") and q.options[wrong].why in msg
    ok, msg = quiz.feedback(q, 99)
    assert not ok and "Pick one" in msg
    assert quiz.feedback(q, None)[0] is False


def test_static_form_needs_no_kernel_and_hides_the_answer():
    q = quiz.question("01_tme_basics", "bit-flip")
    card = quiz.render_static(q)
    assert "<details>" in card.html and "<summary>" in card.html
    assert "<script" not in card.html and "http" not in card.html  # no JS, no CDN
    before_details = card.html.split("<details>")[0]
    assert "Answer:" not in before_details
    for i, o in enumerate(q.options):
        assert o.text.replace("'", "&#x27;") in card.html
    lines = card.text.splitlines()
    assert lines[0].startswith("Self-check:") and lines[-1].startswith("Answer: B.")


def test_ask_displays_static_or_live(monkeypatch):
    a = quiz.ask("00_start_here", "cpu-key")
    monkeypatch.setenv("MKTME_STATIC", "1")
    assert "text/html" in a._repr_mimebundle_()
    monkeypatch.setenv("MKTME_STATIC", "0")
    data = a._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("Self-check:")
    box = a.widget()
    radio = box.children[1]
    radio.value = a.q.answer
    assert box.children[2].value.count("Right") == 1
    radio.value = (a.q.answer + 1) % len(a.q.options)
    assert "Not quite" in box.children[2].value


def _write(tmp_path, data) -> None:
    (tmp_path / "99_bad.json").write_text(json.dumps(data))


@pytest.mark.parametrize("data, message", [
    ({"lesson": "99", "questions": []}, "non-empty list"),
    ({"lesson": "9", "questions": [{}]}, "two-digit"),
    ({"lesson": "99", "questions": [{"id": "a", "question": "q", "explanation": "e",
                                     "options": [{"text": "x", "correct": True, "why": "w"},
                                                 {"text": "y", "correct": True, "why": "w"}]}]},
     "exactly one option"),
    ({"lesson": "99", "questions": [{"id": "a", "question": "q", "explanation": "e",
                                     "options": [{"text": "x", "correct": True}]}]}, "2 to"),
    ({"lesson": "99", "questions": [{"id": "a", "question": "q", "explanation": "e",
                                     "options": [{"text": "x", "correct": True, "why": ""},
                                                 {"text": "y", "correct": False, "why": "w"}]}]}, "'why'"),
])
def test_malformed_quiz_files_are_refused(tmp_path, data, message):
    _write(tmp_path, data)
    with pytest.raises(quiz.QuizError, match=message):
        quiz.read(tmp_path / "99_bad.json")


def test_missing_file_and_question(tmp_path):
    with pytest.raises(quiz.QuizError, match="no question"):
        quiz.question("01_tme_basics", "nope")
    with pytest.raises(quiz.QuizError, match="no quiz file"):
        quiz.read(tmp_path / "42_nothing.json")
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe not text")
    with pytest.raises(quiz.QuizError, match="not valid JSON"):
        quiz.read(tmp_path / "bad.json")


def test_a_quiz_is_found_by_one_rule():
    """By number or stem, through lessons.toml, for written lessons only."""
    assert quiz.quiz_path("01") == quiz.quiz_path("01_tme_basics") == ROOT / "quizzes" / "01_tme_basics.json"
    assert quiz.load("01") == quiz.load("01_tme_basics")
    for entry in course.planned():
        with pytest.raises(quiz.QuizError, match="not written yet"):
            quiz.quiz_path(entry.number)
    with pytest.raises(quiz.QuizError, match="the course has lessons"):
        quiz.quiz_path("42_nothing")


@pytest.mark.parametrize("key, qid", [("01", []), ("01", None), ([], "bit-flip"), (None, "x"), (1, "bit-flip"),
                                      ("01", "\ud800"), ("\ud800", "x")])
def test_odd_arguments_are_refused_inside_the_family(key, qid):
    with pytest.raises(quiz.QuizError) as info:
        quiz.ask(key, qid)
    assert isinstance(info.value, MKTMEError)


def test_another_course_brings_its_own_quizzes(tmp_path, monkeypatch):
    """$MKTME_LESSONS_TOML moves the quizzes too: they sit beside the lessons.toml in use."""
    (tmp_path / "lessons.toml").write_bytes((ROOT / "lessons.toml").read_bytes())
    (tmp_path / "quizzes").mkdir()
    data = json.loads((ROOT / "quizzes" / "01_tme_basics.json").read_text())
    data["questions"] = data["questions"][:2]
    (tmp_path / "quizzes" / "01_tme_basics.json").write_text(json.dumps(data))
    monkeypatch.setenv(course.ENV, str(tmp_path / "lessons.toml"))
    assert quiz.quiz_path("01").parent == tmp_path / "quizzes"
    assert len(quiz.load("01")) == 2
    with pytest.raises(quiz.QuizError, match="no quiz file"):
        quiz.load("02")
