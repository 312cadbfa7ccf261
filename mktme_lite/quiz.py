"""Self-check questions that work with a kernel, without one, and as plain text.

Questions are data: one JSON file per lesson in ``quizzes/`` at the top of the repository,
for example ``quizzes/01_tme_basics.json``::

    {"lesson": "01", "questions": [
      {"id": "where-plaintext",
       "question": "Where does a TME machine hold your data as plaintext?",
       "options": [
         {"text": "In the caches", "correct": true, "why": "Encryption happens at the memory controller ..."},
         {"text": "On the DIMMs", "correct": false, "why": "The DIMMs only ever see ciphertext ..."}],
       "explanation": "One or two sentences that tie the answer back to the lesson."}]}

Every option carries a ``why``: the feedback a learner gets for picking it. Exactly one
option is correct. ``tests/course/test_quiz.py`` validates every file.

A quiz is found by one rule, :func:`quiz_path`: the lesson is looked up in ``lessons.toml``
(:mod:`mktme_lite.course`, by number or stem) and must be written; its questions are in
``quizzes/<stem>.json`` beside that ``lessons.toml``. Tests that need another course point
``$MKTME_LESSONS_TOML`` at a temporary one; :func:`read` parses any file by path.

In a notebook, ``quiz.ask("01_tme_basics", "where-plaintext")`` as the last line of a cell
shows:

* live (a kernel and ipywidgets): the options as radio buttons; picking one shows whether it
  is right and why, at once, as often as the learner likes;
* static (``MKTME_STATIC=1``, nbconvert, GitHub): the question, the lettered options, and the
  answer with every explanation inside a collapsible ``<details>`` block. No JavaScript, no
  CDN, nothing to load.

The plain-text form (``text/plain``) reads sensibly too: question, options, then the answer.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import course
from .errors import MKTMEError, ParameterError
from .params import is_whole, shown
from .viz import HTMLCard, is_static

__all__ = ["Option", "Question", "QuizError", "quiz_path", "read", "load", "question", "feedback",
           "render_static", "ask"]

LETTERS = "ABCDEFGH"


class QuizError(MKTMEError, ValueError):
    """A quiz file is missing, malformed, or does not have the question asked for."""


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool
    why: str


@dataclass(frozen=True)
class Question:
    lesson: str
    id: str
    question: str
    options: tuple[Option, ...]
    explanation: str

    @property
    def answer(self) -> int:
        """Index of the correct option."""
        return next(i for i, o in enumerate(self.options) if o.correct)


def quiz_path(key) -> Path:
    """The quiz file of lesson ``key`` (a number like "01" or a stem like "01_tme_basics").

    One rule: the lesson as ``lessons.toml`` lists it, written (a planned lesson has no quiz
    yet), and its file ``quizzes/<stem>.json`` next to that ``lessons.toml``."""
    try:
        entry = course.lesson(key)
    except ParameterError as exc:
        raise QuizError(f"no quiz for {shown(key)}: {exc}") from None
    if not entry.is_written:
        raise QuizError(f"lesson {entry.label} is not written yet, so it has no quiz; quizzes exist for "
                        f"{', '.join(w.stem for w in course.written())}")
    return course.load().root / "quizzes" / f"{entry.stem}.json"


def _parse(data: dict, source: str) -> dict[str, Question]:
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list) or not data["questions"]:
        raise QuizError(f"{source}: needs a non-empty list under 'questions'")
    lesson = data.get("lesson")
    if not isinstance(lesson, str) or len(lesson) != 2 or not lesson.isdigit():
        raise QuizError(f"{source}: 'lesson' must be a two-digit string like '01'")
    out: dict[str, Question] = {}
    for n, q in enumerate(data["questions"], start=1):
        where = f"{source}, question {n}"
        for key in ("id", "question", "explanation"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                raise QuizError(f"{where}: '{key}' must be non-empty text")
        if q["id"] in out:
            raise QuizError(f"{where}: id {q['id']!r} is used twice")
        opts = q.get("options")
        if not isinstance(opts, list) or not 2 <= len(opts) <= len(LETTERS):
            raise QuizError(f"{where}: needs 2 to {len(LETTERS)} options")
        options = []
        for o in opts:
            if not (isinstance(o, dict) and isinstance(o.get("text"), str) and o["text"].strip()
                    and isinstance(o.get("correct"), bool) and isinstance(o.get("why"), str) and o["why"].strip()):
                raise QuizError(f"{where}: every option needs 'text', 'correct' (true/false) and 'why'")
            options.append(Option(o["text"], o["correct"], o["why"]))
        if sum(o.correct for o in options) != 1:
            raise QuizError(f"{where}: exactly one option must be correct")
        extra = set(q) - {"id", "question", "options", "explanation"}
        if extra:
            raise QuizError(f"{where}: unknown keys {sorted(extra)}")
        out[q["id"]] = Question(lesson, q["id"], q["question"], tuple(options), q["explanation"])
    return out


@lru_cache(maxsize=None)
def _load_file(path: str, mtime: float) -> dict[str, Question]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise QuizError(f"{path}: not valid JSON ({exc})") from None
    return _parse(data, Path(path).name)


def read(path) -> dict[str, Question]:
    """Every question in the quiz file at ``path``, checked (any file: tests use this)."""
    import os

    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise QuizError(f"path must be the path of a quiz file (a str or a Path); got {shown(path)}")
    try:
        path = Path(path)
        is_file = path.is_file()
    except (OSError, ValueError) as exc:  # a NUL byte, a lone surrogate, a name too long ...
        raise QuizError(f"no quiz file at {shown(str(path))}: {exc}") from None
    if not is_file:
        raise QuizError(f"no quiz file {path.name} in {path.parent}")
    return _load_file(str(path), path.stat().st_mtime)


def load(key) -> dict[str, Question]:
    """Every question of one lesson, e.g. ``load("01_tme_basics")`` or ``load("01")``, keyed by id."""
    return read(quiz_path(key))


def question(key, qid) -> Question:
    """One question of lesson ``key`` by its id."""
    questions = load(key)
    if not isinstance(qid, str) or qid not in questions:
        raise QuizError(f"{course.lesson(key).stem} has no question {shown(qid)}; its question ids are "
                        f"{', '.join(questions)}")
    return questions[qid]


def feedback(q: Question, choice: int) -> tuple[bool, str]:
    """(is it right?, what to tell the learner) for picking option ``choice``. Pure; tested."""
    if not isinstance(q, Question):
        raise QuizError(f"q must be a Question (from quiz.question(lesson, id)); got {shown(q)}")
    if not is_whole(choice) or not 0 <= choice < len(q.options):
        return False, f"Pick one of the options {LETTERS[0]} to {LETTERS[len(q.options) - 1]}."
    o = q.options[int(choice)]
    if o.correct:
        return True, f"✔ Right. {o.why} {q.explanation}"
    return False, f"✘ Not quite. {o.why} Try another option."


def _text(q: Question) -> str:
    lines = [f"Self-check: {q.question}"]
    lines += [f"  {LETTERS[i]}. {o.text}" for i, o in enumerate(q.options)]
    lines.append(f"Answer: {LETTERS[q.answer]}. {q.options[q.answer].why} {q.explanation}")
    return "\n".join(lines)


def render_static(q: Question) -> HTMLCard:
    """The kernel-free form: question, options, and a collapsible answer with every explanation."""
    if not isinstance(q, Question):
        raise QuizError(f"q must be a Question (from quiz.question(lesson, id)); got {shown(q)}")
    esc = html.escape
    items = "".join(f"<li><strong>{LETTERS[i]}.</strong> {esc(o.text)}</li>" for i, o in enumerate(q.options))
    whys = "".join(f"<li><strong>{LETTERS[i]}</strong> ({'right' if o.correct else 'wrong'}): {esc(o.why)}</li>"
                   for i, o in enumerate(q.options))
    body = (f"<div class='mktme-quiz' style='border:1px solid #999;border-left:6px solid #E69F00;padding:0.5em 0.8em;"
            f"max-width:48em'><p style='margin:0'><strong>Self-check.</strong> {esc(q.question)}</p>"
            f"<ul style='list-style:none;padding-left:0.5em'>{items}</ul>"
            f"<details><summary>Show the answer</summary><p><strong>Answer: {LETTERS[q.answer]}.</strong> "
            f"{esc(q.explanation)}</p><ul>{whys}</ul></details></div>")
    return HTMLCard(body, _text(q))


class Ask:
    """What ``ask()`` returns: displays itself live (radio buttons) or static (<details>)."""

    def __init__(self, q: Question):
        self.q = q
        self.static = render_static(q)
        self._widget = None

    def widget(self):
        """The live form (built on first use): radio buttons and a feedback line."""
        if self._widget is None:
            import ipywidgets as W

            choices = W.RadioButtons(options=[(f"{LETTERS[i]}. {o.text}", i) for i, o in enumerate(self.q.options)],
                                     value=None, description="Your answer", style={"description_width": "initial"},
                                     layout=W.Layout(width="auto"))
            out = W.HTML("<em>Pick an option to see whether it is right, and why.</em>")

            def on_pick(change):
                ok, msg = feedback(self.q, change["new"])
                weight = "bold" if ok else "normal"
                out.value = f"<p role='status' style='font-weight:{weight}'>{html.escape(msg)}</p>"

            choices.observe(on_pick, names="value")
            box = W.VBox([W.HTML(f"<strong>Self-check.</strong> {html.escape(self.q.question)}"), choices, out])
            box.add_class("mktme-quiz")
            self._widget = box
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        if is_static():
            return self.static._repr_mimebundle_()
        data = self.widget()._repr_mimebundle_()
        data["text/plain"] = _text(self.q)
        return data


def ask(stem, qid) -> Ask:
    """A self-check question for a notebook cell, e.g. ``quiz.ask("01_tme_basics", "where-plaintext")``."""
    return Ask(question(stem, qid))
