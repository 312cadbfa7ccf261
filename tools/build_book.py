#!/usr/bin/env python3
"""Build the course as a static, offline Jupyter Book (``make book``) into ``artifacts/book/``.

    python tools/build_book.py                 # stage, execute, build, check
    python tools/build_book.py --stage-only    # only write the staging copy (for tests)

Why a staging copy (``artifacts/book-src/``): the book is built from copies, so nothing under
``notebooks/``, ``solutions/`` or ``exercises/`` is ever rewritten and a learner's ``my-work/`` is
never read. In the copies:
- cells tagged ``sanity-check`` get the tag ``remove-cell``: Jupyter Book still executes them (so a
  wrong sentence still fails the build) but leaves them out of the pages;
- lesson links that only make sense in a clone are pointed at pages of the book: ``../my-work/NN``
  (the learner's own copy) at the exercise page, ``../README.md#lessons`` at the book's first page;
- the saved widget state is dropped: every notebook runs with ``MKTME_STATIC=1``, so each widget
  is drawn as pictures at its telling settings and no page needs the widget manager's JavaScript,
  which Jupyter Book would otherwise load from a CDN.

The pages use only files the build writes itself: ``tests/delivery/test_book.py`` greps every page
for a script, style, font or image from outside and opens the book in Chromium with the network
blocked.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mktme_lite import course as course_data  # noqa: E402

SRC = ROOT / "artifacts" / "book-src"
OUT = ROOT / "artifacts" / "book"
BOOK_CONFIG = ROOT / "book" / "_config.yml"
#: the environment the lessons execute in (the Makefile's NB_ENV)
NB_ENV = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "MKTME_STATIC": "1"}
#: Sphinx extensions Jupyter Book enables that would make a page load something from outside
OFFLINE_UNSAFE = ("sphinx_thebe", "sphinx_comments")
LINK_REWRITES = [
    (re.compile(r"\]\(\.\./my-work/(\d\d_[a-z0-9_]+)\.ipynb\)"), r"](../exercises/\1.ipynb)"),
    (re.compile(r"\]\(\.\./README\.md#lessons\)"), "](../index.md)"),
    # the glossary's entries are raw <a id> targets: MyST resolves ``doc.md#id`` only for headings,
    # (MyST resolves ``#label`` against every label of the book; the glossary page defines them)
    (re.compile(r"\]\(\.\./GLOSSARY\.md#([a-z0-9-]+)\)"), r"](#glossary-\1)"),
    (re.compile(r"\]\(\.\./GLOSSARY\.md\)"), "](../glossary.md)"),
]


class BookError(RuntimeError):
    """The book could not be built; the message says which step and why."""


def rewrite_links(text: str) -> str:
    for pattern, repl in LINK_REWRITES:
        text = pattern.sub(repl, text)
    return text


def stage_notebook(src: Path, dst: Path) -> None:
    nb = nbformat.read(src, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "sanity-check" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)


def glossary_page() -> str:
    """GLOSSARY.md as a book page: each term gets a MyST target so ``glossary.md#id`` resolves."""
    text = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->\n*", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        m = re.match(r'- <a id="([a-z0-9-]+)"></a>(.*)$', line)
        if m:
            out += [f"(glossary-{m.group(1)})=", f"{m.group(2).strip()}", ""]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def index_page(course) -> str:
    lines = ["# MKTME, hands-on", "",
             "A course on Intel's Total Memory Encryption and its multi-key extension (TME / MKTME), "
             "built around Andy Lutomirski's reply of 4 December 2018 to the MKTME API RFC and the "
             "answers it got. Each lesson runs experiments on `mktme_lite`, a small simulator of the "
             "hardware and of a tiny kernel.", "",
             "This is the static form of the course: every lesson was executed when the book was "
             "built, and each widget is shown as pictures at the settings the text discusses. To "
             "move the sliders yourself, clone the course and run `make lab`.", "",
             "## Lessons", "",
             "| Lesson | Title | Claims | Exercises | Worked solutions |",
             "|---|---|---|---|---|"]
    for les in course.written():
        ex = f"[exercises](exercises/{les.stem}.ipynb)" if (ROOT / "exercises" / f"{les.stem}.ipynb").exists() else "—"
        so = f"[solutions](solutions/{les.stem}.ipynb)" if (ROOT / "solutions" / f"{les.stem}.ipynb").exists() else "—"
        claims = ", ".join(les.claims) or "—"
        lines.append(f"| [{les.stem[:2]}](notebooks/{les.stem}.ipynb) | {les.title} | {claims} | {ex} | {so} |")
    lines += ["", "The [glossary](glossary.md) explains every term the lessons use.", ""]
    return "\n".join(lines)


def toc(course) -> str:
    def files(folder):
        return [f"{folder}/{les.stem}" for les in course.written()
                if (ROOT / folder / f"{les.stem}.ipynb").exists()]
    parts = [("Lessons", files("notebooks")), ("Exercises", files("exercises")),
             ("Worked solutions", files("solutions")), ("Reference", ["glossary"])]
    lines = ["# Written by tools/build_book.py; do not edit.", "format: jb-book", "root: index",
             "parts:"]
    for caption, entries in parts:
        lines.append(f"  - caption: {caption}")
        lines.append("    chapters:")
        lines += [f"      - file: {e}" for e in entries]
    return "\n".join(lines) + "\n"


def stage() -> Path:
    course = course_data.load()
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    for folder in ("notebooks", "exercises", "solutions"):
        for les in course.written():
            src = ROOT / folder / f"{les.stem}.ipynb"
            if src.exists():
                stage_notebook(src, SRC / folder / src.name)
    (SRC / "glossary.md").write_text(glossary_page(), encoding="utf-8")
    (SRC / "index.md").write_text(index_page(course), encoding="utf-8")
    (SRC / "_toc.yml").write_text(toc(course), encoding="utf-8")
    shutil.copy(BOOK_CONFIG, SRC / "_config.yml")
    return SRC


def build(src: Path) -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():
        raise BookError(f"jupyter-book is not installed in {sys.prefix}: run `make book`, which "
                        "installs the course's `book` extra")
    env = {**os.environ, **NB_ENV, "PATH": f"{jb.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    build_dir = ROOT / "artifacts" / "book-build"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    # Jupyter Book writes the Sphinx configuration; the course then drops the two extensions that
    # reach outside (Thebe's launcher names a CDN script in every page; the comment widgets load
    # Hypothesis/utterances) and builds with Sphinx itself.
    proc = subprocess.run([str(jb), "config", "sphinx", str(src)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode:
        raise BookError(f"`jupyter-book config sphinx` failed: {proc.stderr.strip()[-2000:]}")
    with open(src / "conf.py", "a", encoding="utf-8") as fh:
        fh.write("\n# added by tools/build_book.py: nothing a page loads may come from outside\n"
                 "extensions = [e for e in extensions if e not in OFFLINE_UNSAFE]\n"
                 .replace("OFFLINE_UNSAFE", repr(OFFLINE_UNSAFE)))
    html = build_dir / "html"
    # -W: a warning (a broken link, a missing page, an error in a cell) fails the build.
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
           "-d", str(build_dir / "doctrees"),
           str(src), str(html)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT)
    if proc.returncode:
        raise BookError(f"sphinx-build failed (exit {proc.returncode}); see the log above")
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(html, OUT)
    shutil.rmtree(build_dir)
    return OUT


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage-only", action="store_true")
    args = ap.parse_args(argv)
    try:
        src = stage()
        if args.stage_only:
            print(f"staged in {src}")
            return 0
        out = build(src)
    except BookError as exc:
        print(f"make book: {exc}", file=sys.stderr)
        return 1
    print(f"make book: the static book is in {out.relative_to(ROOT)}/ (open index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
