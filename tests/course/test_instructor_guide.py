"""docs/instructor.md: its generated regions follow the course, and its hand-written parts cover it.

tools/make_instructor_guide.py fills the regions; `make test-sync` runs its --check. Each checker
below is proven on a bad fixture too.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

import make_instructor_guide as mig
from mktme_lite import course as course_data
from mktme_lite import quiz as quiz_data

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "instructor.md"
#: "[solutions/x.ipynb, cell 5 (id `4`)](../solutions/x.ipynb)", as cell_ref() writes it.
CELL_LINK = re.compile(r"\[(solutions|notebooks)/([\w.-]+\.ipynb), cell (\d+) \(id `([^`]+)`\)\]\(\.\./([^)]+)\)")
LINK = re.compile(r"\]\((\.\./[^)#\s]+)(?:#[^)]*)?\)")


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """Every region as the sources give it now (built once: the widgets take seconds to import)."""
    return {name: build(ROOT) for name, build in mig.BUILDERS.items()}


@pytest.fixture(scope="module")
def text() -> str:
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture
def cached(monkeypatch, built):
    """mig.main() with the module's prebuilt regions for the real course (fast, same output)."""
    real = dict(mig.BUILDERS)

    def wrap(name):
        return lambda root: built[name] if Path(root).resolve() == ROOT else real[name](root)

    monkeypatch.setattr(mig, "BUILDERS", {name: wrap(name) for name in real})


def region(text: str, name: str) -> str:
    start, end = mig.split_regions(text)[name]
    return text[start:end]


def written():
    return course_data.load(ROOT / "lessons.toml").written()


# --------------------------------------------------------------------------- the checkers

def link_problems(text: str, root: Path = ROOT) -> list[str]:
    """Links into the course that land nowhere: missing notebooks, cells, or a cell of the wrong kind."""
    problems = []
    for m in CELL_LINK.finditer(text):
        folder, name, number, cid, target = m.groups()
        if target != f"{folder}/{name}":
            problems.append(f"{m.group(0)}: the link goes to {target}, the text names {folder}/{name}")
            continue
        path = root / folder / name
        if not path.is_file():
            problems.append(f"{m.group(0)}: no notebook {folder}/{name}")
            continue
        cells = nbformat.read(path, as_version=4).cells
        n = int(number)
        if not 1 <= n <= len(cells):
            problems.append(f"{m.group(0)}: {folder}/{name} has {len(cells)} cells")
        elif cells[n - 1].get("id") != cid:
            problems.append(f"{m.group(0)}: cell {n} of {folder}/{name} has id {cells[n - 1].get('id')!r}")
    for m in LINK.finditer(text):
        target = (root / "docs" / m.group(1)).resolve()
        if not target.exists():
            problems.append(f"link {m.group(1)}: nothing there")
    return problems


def answer_cell_problems(text: str, root: Path = ROOT) -> list[str]:
    """Every "Answer: <cell>" of the answers region names a cell that holds a solution."""
    problems = []
    for line in region(text, "answers").splitlines():
        if not line.startswith("- Answer: "):
            continue
        m = CELL_LINK.search(line)
        if not m or m.group(1) != "solutions":
            problems.append(f"{line}: names no solutions/ cell")
            continue
        cell = nbformat.read(root / "solutions" / m.group(2), as_version=4).cells[int(m.group(3)) - 1]
        if mig.BEGIN not in cell.source and "solution" not in cell.metadata.get("tags", []):
            problems.append(f"{line}: that cell holds no solution")
    return problems


def coverage_problems(text: str, root: Path = ROOT) -> list[str]:
    """Every written lesson in every region, every quiz question and every exercise in the answers."""
    problems = []
    for les in course_data.load(root / "lessons.toml").written():
        name = f"Lesson {les.number} — {les.title}"
        for reg in mig.REGIONS:
            body = region(text, reg)
            if reg == "times":
                if f"[{les.number}](../notebooks/{les.stem}.ipynb)" not in body:
                    problems.append(f"times: no row for lesson {les.number}")
            elif name not in body:
                problems.append(f"{reg}: no {name}")
        checks = region(text, "selfchecks")
        for q in quiz_data.read(root / "quizzes" / f"{les.stem}.json").values():
            right = q.options[q.answer]
            if f"**`{q.id}`**" not in checks or mig.md_inline(right.text) not in checks:
                problems.append(f"selfchecks: question {les.stem}/{q.id} or its answer is missing")
        sol = root / "solutions" / f"{les.stem}.ipynb"
        if les.exercises:
            answers = region(text, "answers")
            for ex in mig.exercises(nbformat.read(sol, as_version=4)):
                if f"**Exercise {ex['number']} — {ex['title']}" not in answers:
                    problems.append(f"answers: exercise {les.number}-{ex['number']} is missing")
    return problems


def unnamed_lessons(text: str, root: Path = ROOT) -> list[str]:
    """Written lessons the hand-written parts never name, or that have no paragraph of their own."""
    hand = mig.hand_written(text)
    problems = []
    for les in course_data.load(root / "lessons.toml").written():
        if f"**Lesson {les.number} — {les.title}.**" not in hand:
            problems.append(f"lesson {les.number} has no demo-and-misconceptions paragraph")
        plans = hand[hand.index("## 3. Plans"):hand.index("## 4. ")] if "## 3. Plans" in hand else ""
        if not re.search(rf"\b[Ll]essons? (?:[0-9, -]*\b)?{les.number}\b|\b{les.number} \(\d+\)", plans):
            problems.append(f"lesson {les.number} is in none of the plans")
    return problems


# --------------------------------------------------------------------------- the guide as it is

def test_generated_regions_are_up_to_date(text, built):
    for name in mig.REGIONS:
        assert region(text, name) == "\n" + built[name] + "\n", (
            f"docs/instructor.md region {name!r} is stale: run `make sync`")


def test_every_lesson_question_and_exercise_appears(text):
    assert coverage_problems(text) == []
    # The course really has what is counted: 9 lessons, 31 or more questions, an exercise per solution.
    assert len(written()) >= 9
    assert sum(len(quiz_data.read(ROOT / "quizzes" / f"{les.stem}.json")) for les in written()) >= 30


def test_every_link_lands_on_an_existing_notebook_and_cell(text):
    assert link_problems(text) == []
    assert answer_cell_problems(text) == []
    assert len(CELL_LINK.findall(region(text, "answers"))) > 50  # the links are really there


def test_hand_written_parts_name_every_lesson(text):
    assert unnamed_lessons(text) == []


def test_hand_written_parts_describe_the_lesson_04_exercise_by_its_goal(text):
    hand = mig.hand_written(text)
    para = hand[hand.index("**Lesson 04 — Cache incoherence.**"):hand.index("**Lesson 05 — Swap.**")]
    assert "never loses data" in para and "NOT ENOUGH" in para
    assert "check passes" not in para and "the check accepts" not in para


def test_the_tool_reads_nothing_of_my_work():
    src = (ROOT / "tools" / "make_instructor_guide.py").read_text(encoding="utf-8")
    assert "my-work" not in src and "LEARNER_DIR" not in src


# --------------------------------------------------------------------------- the checkers can fail

def test_check_fails_on_a_stale_guide_and_writing_repairs_it(tmp_path, cached, capsys):
    stale = tmp_path / "instructor.md"
    good = GUIDE.read_text(encoding="utf-8")
    stale.write_text(good.replace("| 35 + 35 |", "| 30 + 30 |", 1), encoding="utf-8")
    assert stale.read_text() != good
    assert mig.main(["--check", "--guide", str(stale)]) == 1
    err = capsys.readouterr().err
    assert "region 'times' is stale" in err and "make sync" in err and "30 + 30" in err
    assert mig.main(["--guide", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == good
    assert mig.main(["--check", "--guide", str(stale)]) == 0


def test_check_fails_when_a_source_changes(tmp_path, cached, capsys):
    """A course whose quiz changed: the guide of the real course is stale for it, in 'selfchecks'."""
    root = tmp_path / "course"
    root.mkdir()
    for name in ("lessons.toml", "notebooks", "solutions", "quizzes"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    quiz = root / "quizzes" / "05_swap.json"
    data = json.loads(quiz.read_text(encoding="utf-8"))
    data["questions"][0]["explanation"] = "A changed explanation."
    quiz.write_text(json.dumps(data), encoding="utf-8")
    assert mig.main(["--check", "--root", str(root), "--guide", str(GUIDE)]) == 1
    err = capsys.readouterr().err
    assert "region 'selfchecks' is stale" in err
    assert "region 'times' is stale" not in err and "region 'answers' is stale" not in err


@pytest.mark.parametrize("damage, words", [
    (lambda t: t.replace("<!-- generated:answers:end -->", ""), "never closed"),
    (lambda t: t.replace("<!-- generated:times:start -->\n", "").replace("<!-- generated:times:end -->\n", ""),
     "missing region(s) times"),
    (lambda t: t + "\n<!-- generated:nonsense:start -->\n<!-- generated:nonsense:end -->\n",
     "unknown region 'nonsense'"),
    (lambda t: t + "\n<!-- generated:times:start -->\n<!-- generated:times:end -->\n", "appears twice"),
])
def test_broken_markers_are_refused_with_a_reason(tmp_path, capsys, damage, words):
    bad = tmp_path / "instructor.md"
    bad.write_text(damage(GUIDE.read_text(encoding="utf-8")), encoding="utf-8")
    before = bad.read_text()
    assert mig.main(["--guide", str(bad)]) == 2
    assert words in capsys.readouterr().err
    assert bad.read_text() == before  # nothing written


def test_a_missing_guide_is_refused(tmp_path, capsys):
    assert mig.main(["--check", "--guide", str(tmp_path / "nope.md")]) == 2
    assert "no guide at" in capsys.readouterr().err


def test_link_checker_catches_bad_links(text):
    target = "](../solutions/04_cache_incoherence.ipynb)"
    bad = (text.replace(f"(id `4`){target}", f"(id `99`){target}", 1)
           + "\n[solutions/09_none.ipynb, cell 1 (id `0`)](../solutions/09_none.ipynb)\n[x](../nowhere.md)\n")
    problems = link_problems(bad)
    assert any("has id '4'" in p for p in problems)
    assert any("no notebook solutions/09_none.ipynb" in p for p in problems)
    assert any("../nowhere.md" in p for p in problems)


def test_answer_cell_checker_catches_a_cell_without_a_solution(text):
    # cell 1 of a solution notebook is its header: no solution in it
    line = "- Answer: [solutions/04_cache_incoherence.ipynb, cell 1 (id `0`)](../solutions/04_cache_incoherence.ipynb):"
    start, end = mig.split_regions(text)["answers"]
    bad = text[:end] + line + "\n" + text[end:]
    assert any("holds no solution" in p for p in answer_cell_problems(bad))


def test_coverage_checker_catches_a_missing_question_and_exercise(text):
    bad = (text.replace("**`twist`**", "**`gone`**")
           .replace("**Exercise 2 — read a stolen swap disk", "**Exercise 2 — gone"))
    problems = coverage_problems(bad)
    assert any("05_swap/twist" in p for p in problems)
    assert any("exercise 05-2" in p for p in problems)


def test_lesson_checker_catches_an_unnamed_lesson(text):
    hand_start = text.index("**Lesson 07 — XPO comparison.** Demo")
    hand_end = text.index("**Lesson 08 — Use cases and verdict.** Demo")
    bad = text[:hand_start] + text[hand_end:]
    assert unnamed_lessons(bad) == ["lesson 07 has no demo-and-misconceptions paragraph"]
    plans_start, plans_end = bad.index("## 3. Plans"), bad.index("## 4. ")
    plans = bad[plans_start:plans_end]
    no_06 = re.sub(r"\b06\b", "XX", plans)
    assert "lesson 06 is in none of the plans" in unnamed_lessons(bad[:plans_start] + no_06 + bad[plans_end:])
