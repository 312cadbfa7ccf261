#!/usr/bin/env python3
"""Fill the generated regions of docs/instructor.md from the course's own sources.

The instructor guide mixes hand-written advice (plans, what to demo, misconceptions) with parts that
would drift if they were copied by hand. Those parts sit between markers::

    <!-- generated:<name>:start -->
    ... written by this tool; never edit by hand ...
    <!-- generated:<name>:end -->

and are rebuilt from:

- ``times``: lessons.toml (title, claims) and each notebook's ``metadata["mktme"]`` (planned
  ``teaching_min`` / ``exercise_min``), the minutes in the ``## Exercise N — ... (M min)`` headings
  of solutions/, and the estimate ``make sync`` derives from the words (tools/sync_lessons.py);
- ``demos``: every widget a lesson displays (a bare call of a function imported from
  ``mktme_lite.widgets``), built once to read its controls and its telling settings, the same
  settings its static twin draws;
- ``predictions``: every "**Predict ...**" prompt of a lesson (the points where a learner's first
  guess is wrong most often), with its cell;
- ``selfchecks``: every question of quizzes/<stem>.json (mktme_lite/quiz.py), the cell that asks
  it (``quiz.ask(stem, id)`` in notebooks/ or solutions/), its answer and why each option is wrong;
- ``answers``: every exercise of solutions/<stem>.ipynb: its heading, its goal (the first paragraph
  under the heading), the cells holding the answer (``### BEGIN SOLUTION`` regions and cells tagged
  ``solution``) with their code, the check that grades it, and the authors' notes cells.

Cells are named as "cell N (id `x`)": N counts from 1 as a reader counts cells in JupyterLab, x is
the cell's nbformat id.

    python tools/make_instructor_guide.py            # rewrite the generated regions (make sync)
    python tools/make_instructor_guide.py --check    # change nothing; exit 1 naming stale regions (make test-sync)

Exit codes: 0 up to date (or written), 1 stale (with --check), 2 bad input (a missing or broken
marker, an unreadable lesson), with a message saying what is wrong and what is allowed.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_lessons import estimate_minutes  # noqa: E402  (tools/ is on the path)

from mktme_lite import course as course_data  # noqa: E402
from mktme_lite import quiz as quiz_data  # noqa: E402

GUIDE = Path("docs") / "instructor.md"
REGIONS = ("times", "demos", "predictions", "selfchecks", "answers")
MARKER_RE = re.compile(r"<!-- generated:([a-z0-9_-]+):(start|end) -->")
EXERCISE_RE = re.compile(r"^## Exercise (\d+) — (.+?)(?: \((\d+) min\))?\s*$", re.M)
ASK_RE = re.compile(r"""quiz\.ask\(\s*["']([\w-]+)["']\s*,\s*["']([\w-]+)["']\s*\)""")
CHECK_RE = re.compile(r"^(check_\w+)\(", re.M)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LETTERS = quiz_data.LETTERS


class GuideError(Exception):
    """The guide or a source it is built from is not as this tool needs it."""


# --------------------------------------------------------------------------- reading the sources

def read_nb(path: Path) -> dict:
    import nbformat

    try:
        return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError) as exc:
        raise GuideError(f"cannot read notebook {path}: {exc}") from None


def cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def cell_ref(folder: str, stem: str, nb: dict, index: int) -> str:
    """A link naming one cell: [solutions/x.ipynb, cell 5 (id `4`)](../solutions/x.ipynb)."""
    cid = nb["cells"][index].get("id", str(index))
    return f"[{folder}/{stem}.ipynb, cell {index + 1} (id `{cid}`)](../{folder}/{stem}.ipynb)"


def md_inline(text: str) -> str:
    """One paragraph of a cell as one line (the guide's tables and paragraphs)."""
    return " ".join(line.strip() for line in text.strip().splitlines())


def first_paragraph(text: str) -> str:
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.strip():
            return md_inline(para)
    return ""


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def written_lessons(root: Path):
    try:
        course = course_data.load(root / "lessons.toml")
    except course_data.CourseError as exc:
        raise GuideError(str(exc)) from None
    return course, course.written()


def lesson_meta(root: Path, stem: str) -> tuple[dict, dict]:
    nb = read_nb(root / "notebooks" / f"{stem}.ipynb")
    meta = nb.get("metadata", {}).get("mktme")
    if not isinstance(meta, dict):
        raise GuideError(f"notebooks/{stem}.ipynb has no metadata['mktme'] (docs/authoring.md says what it holds)")
    for key in ("teaching_min", "exercise_min"):
        if not isinstance(meta.get(key), int):
            raise GuideError(f"notebooks/{stem}.ipynb: metadata['mktme']['{key}'] must be whole minutes")
    return nb, meta


def exercises(nb: dict) -> list[dict]:
    """Every ``## Exercise N`` of a solution notebook, with the cells up to the next one."""
    starts = []
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "markdown":
            m = EXERCISE_RE.search(cell_text(cell))
            if m:
                starts.append((i, m))
    out = []
    for k, (i, m) in enumerate(starts):
        stop = starts[k + 1][0] if k + 1 < len(starts) else len(nb["cells"])
        text = cell_text(nb["cells"][i])
        goal = first_paragraph(text[m.end():])
        if not goal and i + 1 < stop and nb["cells"][i + 1].get("cell_type") == "markdown":
            goal = first_paragraph(cell_text(nb["cells"][i + 1]))
        if goal.endswith(":"):
            goal = goal[:-1].rstrip() + " … (the exercise cell goes on)."
        ex = {"number": int(m.group(1)), "title": m.group(2).strip(),
              "minutes": int(m.group(3)) if m.group(3) else None, "cell": i, "goal": goal,
              "answers": [], "checks": [], "notes": []}
        # Cells before the heading in the same cell (text above it) belong to the previous exercise.
        for j in range(i, stop):
            cell = nb["cells"][j]
            src = cell_text(cell)
            if cell.get("cell_type") == "code":
                if BEGIN in src or "solution" in tags(cell):
                    ex["answers"].append((j, solution_code(src, "solution" in tags(cell))))
                for name in CHECK_RE.findall(src):
                    ex["checks"].append((j, name))
            elif j != i or src.find("<summary>") > m.start():
                for summary in re.findall(r"<summary>(.*?)</summary>", src):
                    ex["notes"].append((j, re.sub(r"<[^>]+>", "", summary).strip()))
        out.append(ex)
    return out


def solution_code(src: str, whole: bool) -> str:
    if whole:
        return src.strip("\n")
    lines, keep = [], False
    for line in src.splitlines():
        if line.strip() == BEGIN:
            keep = True
            continue
        if line.strip() == END:
            keep = False
            lines.append("")
            continue
        if keep:
            lines.append(line)
    block = "\n".join(lines).strip("\n")
    # Dedent to the region's own indentation, keeping its relative indents.
    body = [ln for ln in block.splitlines() if ln.strip()]
    pad = min((len(ln) - len(ln.lstrip()) for ln in body), default=0)
    return "\n".join(ln[pad:] for ln in block.splitlines())


def asked_where(root: Path) -> dict[tuple[str, str], list[str]]:
    """(stem, question id) -> the cells that ask it, notebooks first."""
    where: dict[tuple[str, str], list[str]] = {}
    for folder in ("notebooks", "solutions"):
        for path in sorted((root / folder).glob("*.ipynb")):
            nb = read_nb(path)
            for i, cell in enumerate(nb["cells"]):
                if cell.get("cell_type") != "code":
                    continue
                for stem, qid in ASK_RE.findall(cell_text(cell)):
                    where.setdefault((stem, qid), []).append(cell_ref(folder, path.stem, nb, i))
    return where


# --------------------------------------------------------------------------- the regions

def region_times(root: Path) -> str:
    course, lessons = written_lessons(root)
    rows = ["| Lesson | Title | Claims | Planned minutes, teaching + exercises (`metadata[\"mktme\"]`) "
            "| Exercise headings in solutions/ (sum of their minutes) | `make sync`'s estimate from the words "
            "| Self-checks |",
            "|---|---|---|---|---|---|---|"]
    total_t = total_e = 0
    for les in lessons:
        nb, meta = lesson_meta(root, les.stem)
        sol_path = root / "solutions" / f"{les.stem}.ipynb"
        sol = read_nb(sol_path) if sol_path.exists() else None
        exs = exercises(sol) if sol else []
        mins = [e["minutes"] for e in exs if e["minutes"] is not None]
        heads = f"{len(exs)} ({sum(mins)} min)" if exs else "none"
        est_t, est_e = estimate_minutes(nb, sol)
        qpath = root / "quizzes" / f"{les.stem}.json"
        nq = len(quiz_data.read(qpath)) if qpath.exists() else 0
        claims = ", ".join(les.claims) or "—"
        rows.append(f"| [{les.number}](../notebooks/{les.stem}.ipynb) | {les.title} | {claims} "
                    f"| {meta['teaching_min']} + {meta['exercise_min']} | {heads} | {est_t} + {est_e} | {nq} |")
        total_t += meta["teaching_min"]
        total_e += meta["exercise_min"]
    total = total_t + total_e
    rows.append(f"| all | | | {total_t} + {total_e} = {total} min ({total // 60} h {total % 60:02d}) | | | |")
    return "\n".join(rows)


def _widget_calls(nb: dict) -> list[tuple[int, str, str, str]]:
    """(cell index, section heading, module, function) of every widget a notebook displays."""
    imported: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
    calls = []
    section = ""
    for i, cell in enumerate(nb["cells"]):
        src = cell_text(cell)
        if cell.get("cell_type") == "markdown":
            heads = re.findall(r"^## (.+)$", src, re.M)
            section = heads[-1].strip() if heads else section
            continue
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.module == "mktme_lite.widgets":
                for a in node.names:  # `from mktme_lite.widgets import start_here`: a module
                    imported[a.asname or a.name] = (f"mktme_lite.widgets.{a.name}", None)
            elif node.module.startswith("mktme_lite.widgets."):
                for a in node.names:
                    imported[a.asname or a.name] = (node.module, a.name)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
            f = last.value.func
            if isinstance(f, ast.Name) and f.id in imported and imported[f.id][1] and not f.id.startswith("render_"):
                calls.append((i, section, imported[f.id][0], imported[f.id][1]))
            elif (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in imported
                  and imported[f.value.id][1] is None and not f.attr.startswith("render_")):
                calls.append((i, section, imported[f.value.id][0], f.attr))
    return calls


def _label(control, value) -> str:
    for opt in getattr(control, "options", None) or ():
        if isinstance(opt, tuple) and len(opt) == 2 and opt[1] == value:
            return str(opt[0])
        if opt == value:
            return str(opt)
    return repr(value) if isinstance(value, str) else str(value)


def _control_summary(control) -> str:
    kind = type(control).__name__
    opts = getattr(control, "options", None)
    if not opts:
        return f"{control.description} ({kind})"
    labels = [str(o[0]) if isinstance(o, tuple) else str(o) for o in opts]
    if len(labels) > 6:
        return f"{control.description} ({kind}, {labels[0]} … {labels[-1]}, {len(labels)} values)"
    return f"{control.description} ({kind}: " + "; ".join(labels) + ")"


def region_demos(root: Path) -> str:
    _, lessons = written_lessons(root)
    out = []
    for les in lessons:
        nb, _ = lesson_meta(root, les.stem)
        calls = _widget_calls(nb)
        out.append(f"**Lesson {les.number} — {les.title}.**" + ("" if calls else " No widget."))
        for i, section, module, fname in calls:
            try:
                widget = getattr(importlib.import_module(module), fname)()
            except Exception as exc:  # a widget that cannot be built is a bug the lesson's run shows too
                raise GuideError(f"notebooks/{les.stem}.ipynb cell {i + 1}: building {module}.{fname}() "
                                 f"raised {type(exc).__name__}: {exc}") from None
            controls = getattr(widget, "controls", None)
            telling = getattr(widget, "telling", None)
            if controls is None or telling is None:
                continue
            out.append("")
            out.append(f"- *{widget.title}* (`{fname}()`, section \"{section}\", "
                       f"{cell_ref('notebooks', les.stem, nb, i)}). Controls: "
                       + "; ".join(_control_summary(c) for c in controls.values()) + ".")
            default = ", ".join(f"{c.description} = {_label(c, c.value)}" for c in controls.values())
            for k, t in enumerate(telling, start=1):
                if t.params:
                    setting = ", ".join(f"{controls[n].description} = {_label(controls[n], v)}"
                                        for n, v in t.params.items())
                else:
                    setting = f"the defaults ({default})"
                out.append(f"  {k}. {setting}: {md_inline(t.caption)}")
        out.append("")
    return "\n".join(out).rstrip()


PREDICT_RE = re.compile(r"\*\*Predict[^*]*\*\*")


def region_predictions(root: Path) -> str:
    """Every "**Predict ...**" prompt of a lesson: where a learner's first guess shows what they believe."""
    _, lessons = written_lessons(root)
    out = []
    for les in lessons:
        nb, _ = lesson_meta(root, les.stem)
        prompts = []
        for i, cell in enumerate(nb["cells"]):
            if cell.get("cell_type") != "markdown":
                continue
            for para in re.split(r"\n\s*\n", cell_text(cell)):
                m = PREDICT_RE.search(para)
                if m:
                    prompts.append(f"- {cell_ref('notebooks', les.stem, nb, i)}: {md_inline(para[m.start():])}")
        out.append(f"**Lesson {les.number} — {les.title}.**" + ("" if prompts else " No predict-first prompt."))
        if prompts:
            out += [""] + prompts
        out.append("")
    return "\n".join(out).rstrip()


def region_selfchecks(root: Path) -> str:
    _, lessons = written_lessons(root)
    where = asked_where(root)
    out = []
    for les in lessons:
        qpath = root / "quizzes" / f"{les.stem}.json"
        if not qpath.exists():
            raise GuideError(f"quizzes/{les.stem}.json is missing: every written lesson has one "
                             "(docs/authoring.md, step 3)")
        try:
            questions = quiz_data.read(qpath)
        except quiz_data.QuizError as exc:
            raise GuideError(str(exc)) from None
        out.append(f"#### Lesson {les.number} — {les.title} (`quizzes/{les.stem}.json`)")
        out.append("")
        for n, q in enumerate(questions.values(), start=1):
            asked = where.get((les.stem, q.id)) or ["not asked in any notebook"]
            right = q.options[q.answer]
            out.append(f"{n}. **`{q.id}`** ({'; '.join(asked)}): {md_inline(q.question)}")
            out.append("")
            out.append(f"   **Answer {LETTERS[q.answer]}: {md_inline(right.text)}.** {md_inline(right.why)} "
                       f"{md_inline(q.explanation)}")
            out.append("   <details><summary>Why the other options are wrong</summary>")
            out.append("")
            for k, o in enumerate(q.options):
                if not o.correct:
                    out.append(f"   - {LETTERS[k]}. {md_inline(o.text)}: {md_inline(o.why)}")
            out.append("")
            out.append("   </details>")
            out.append("")
    return "\n".join(out).rstrip()


def region_answers(root: Path) -> str:
    _, lessons = written_lessons(root)
    out = []
    for les in lessons:
        if not les.exercises:
            out += [f"#### Lesson {les.number} — {les.title}", "", "No exercises.", ""]
            continue
        path = root / "solutions" / f"{les.stem}.ipynb"
        if not path.exists():
            raise GuideError(f"lessons.toml says {les.stem} has exercises, but solutions/{les.stem}.ipynb "
                             "does not exist")
        nb = read_nb(path)
        exs = exercises(nb)
        if not exs:
            raise GuideError(f"solutions/{les.stem}.ipynb has no '## Exercise N — title (M min)' heading")
        link = f"[solutions/{les.stem}.ipynb](../solutions/{les.stem}.ipynb)"
        out += [f"#### Lesson {les.number} — {les.title} ({link})", ""]
        for ex in exs:
            mins = f" ({ex['minutes']} min)" if ex["minutes"] is not None else ""
            out.append(f"**Exercise {ex['number']} — {ex['title']}{mins}** "
                       f"({cell_ref('solutions', les.stem, nb, ex['cell'])}). {ex['goal']}")
            out.append("")
            if not ex["answers"]:
                out.append("- The answer is in the text of the exercise (no solution region).")
            for j, code in ex["answers"]:
                out.append(f"- Answer: {cell_ref('solutions', les.stem, nb, j)}:")
                out.append("")
                out.append("  ```python")
                out += [f"  {ln}".rstrip() for ln in code.splitlines()]
                out.append("  ```")
            if ex["checks"]:
                out.append("- Checked by " + ", ".join(
                    f"`{name}` ({cell_ref('solutions', les.stem, nb, j)})" for j, name in ex["checks"]) + ".")
            for j, summary in ex["notes"]:
                out.append(f"- The authors' notes, \"{summary}\": {cell_ref('solutions', les.stem, nb, j)}.")
            out.append("")
    return "\n".join(out).rstrip()


BUILDERS = {"times": region_times, "demos": region_demos, "predictions": region_predictions,
            "selfchecks": region_selfchecks, "answers": region_answers}


# --------------------------------------------------------------------------- filling the guide

def split_regions(text: str, where: str = str(GUIDE)) -> dict[str, tuple[int, int]]:
    """name -> (start, end) offsets of the text between each region's two markers."""
    spans: dict[str, tuple[int, int]] = {}
    open_name, open_at = None, 0
    for m in MARKER_RE.finditer(text):
        name, side = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if name not in BUILDERS:
            raise GuideError(f"{where}, line {line}: unknown region '{name}'; the regions are "
                             + ", ".join(REGIONS))
        if side == "start":
            if open_name:
                raise GuideError(f"{where}, line {line}: region '{name}' starts inside '{open_name}'; "
                                 "close it first with <!-- generated:" + open_name + ":end -->")
            if name in spans:
                raise GuideError(f"{where}, line {line}: region '{name}' appears twice; each region once")
            open_name, open_at = name, m.end()
        else:
            if open_name != name:
                raise GuideError(f"{where}, line {line}: end of '{name}' without its start marker "
                                 f"<!-- generated:{name}:start -->")
            spans[name] = (open_at, m.start())
            open_name = None
    if open_name:
        raise GuideError(f"{where}: region '{open_name}' is never closed; add <!-- generated:{open_name}:end -->")
    missing = [n for n in REGIONS if n not in spans]
    if missing:
        raise GuideError(f"{where}: missing region(s) " + ", ".join(missing) + "; each needs "
                         "<!-- generated:NAME:start --> and <!-- generated:NAME:end --> on lines of their own")
    return spans


def fill(text: str, root: Path, where: str = str(GUIDE)) -> tuple[str, list[str]]:
    """(the guide with every region rebuilt, names of the regions that changed)."""
    spans = split_regions(text, where)
    changed, pieces, at = [], [], 0
    for name, (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        new = "\n" + BUILDERS[name](root) + "\n"
        if text[start:end] != new:
            changed.append(name)
        pieces += [text[at:start], new]
        at = end
    pieces.append(text[at:])
    return "".join(pieces), changed


def hand_written(text: str) -> str:
    """The guide without its generated regions (what an author writes)."""
    spans = split_regions(text)
    out, at = [], 0
    for start, end in sorted(spans.values()):
        out.append(text[at:start])
        at = end
    out.append(text[at:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a region is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course (lessons.toml, notebooks/, ...)")
    parser.add_argument("--guide", type=Path, default=None, help="the guide (default: ROOT/docs/instructor.md)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    guide = args.guide or root / GUIDE
    try:
        if not guide.is_file():
            raise GuideError(f"no guide at {guide}; it must exist with the markers of the regions "
                             + ", ".join(REGIONS))
        text = guide.read_text(encoding="utf-8")
        new, changed = fill(text, root, str(guide))
    except GuideError as exc:
        print(f"make_instructor_guide: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            for name in changed:
                old_region = text[split_regions(text)[name][0]:split_regions(text)[name][1]].splitlines()
                new_region = new[split_regions(new)[name][0]:split_regions(new)[name][1]].splitlines()
                diff = [d for d in difflib.unified_diff(old_region, new_region, lineterm="", n=0)
                        if d[:1] in "+-" and not d.startswith(("+++", "---"))]
                print(f"make_instructor_guide: {guide} region '{name}' is stale "
                      f"({len(diff)} line(s) differ from the sources; first: {diff[0][:160] if diff else '?'}); "
                      "run `make sync`", file=sys.stderr)
            return 1
        print(f"make_instructor_guide: {guide.name}: every generated region is up to date")
        return 0
    if changed:
        guide.write_text(new, encoding="utf-8")
        print(f"make_instructor_guide: wrote {guide} (regions: {', '.join(changed)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
