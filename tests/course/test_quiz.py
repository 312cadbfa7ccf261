"""Self-check questions: valid data, honest feedback, a kernel-free form, and no dangling ids."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mktme_lite import quiz

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
def test_malformed_quiz_files_are_refused(tmp_path, monkeypatch, data, message):
    monkeypatch.setenv("MKTME_QUIZ_DIR", str(tmp_path))
    _write(tmp_path, data)
    with pytest.raises(quiz.QuizError, match=message):
        quiz.load("99_bad")


def test_missing_file_and_question(tmp_path, monkeypatch):
    with pytest.raises(quiz.QuizError, match="no question"):
        quiz.question("01_tme_basics", "nope")
    monkeypatch.setenv("MKTME_QUIZ_DIR", str(tmp_path))
    with pytest.raises(quiz.QuizError, match="no quiz file"):
        quiz.load("42_nothing")
