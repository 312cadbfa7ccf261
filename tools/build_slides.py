#!/usr/bin/env python3
"""Write every lesson as reveal.js slides (``make slides``) into ``artifacts/slides/``, offline.

    python tools/build_slides.py                    # every written lesson
    python tools/build_slides.py 04_cache_incoherence 08_use_cases   # some of them
    python tools/build_slides.py --stage-only       # only the staging copies (for tests)
    python tools/build_slides.py --jobs 1           # one lesson at a time (default: 2 at once)

Each lesson is copied to ``artifacts/slides-src/`` (nothing under notebooks/ is rewritten, and
``my-work/`` is never read) with its speaker notes from ``slides/notes/<stem>.toml`` inserted as
cells of slide_type ``notes`` and markdown cells too tall for one slide cut between paragraphs
onto subslides (tools/make_slides.py), links pointed at files that exist from
``artifacts/slides/`` (another lesson's slides, the clone's GLOSSARY.md, solutions/ and
exercises/), and the saved widget state dropped. Then ``jupyter nbconvert --to slides
--execute`` runs it with the static twins (``MKTME_STATIC=1``: every widget drawn as pictures)
through the course's template ``slides/template/mktme_reveal`` (nbconvert's reveal template
without jQuery, require.js, mermaid, MathJax or the widget manager, all of which come from CDNs),
and the npm reveal.js 4 of ``slides/package-lock.json`` (``npm ci --prefix slides``) is copied
beside the pages as ``reveal.js/`` (only its dist/ and plugin/ folders). Theme ``white``: reveal's
other themes import Google Fonts.

``tests/delivery/test_slides.py`` (``make test-slides``) checks that nothing loads from outside and
steps through every slide in Chromium with the network blocked.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from mktme_lite import course as course_data  # noqa: E402
import make_slides  # noqa: E402

SRC = ROOT / "artifacts" / "slides-src"
OUT = ROOT / "artifacts" / "slides"
REVEAL = ROOT / "slides" / "node_modules" / "reveal.js"
TEMPLATES = ROOT / "slides" / "template"
TEMPLATE = "mktme_reveal"
THEME = "white"
#: the environment the lessons execute in (the Makefile's NB_ENV)
NB_ENV = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "MKTME_STATIC": "1"}
#: a lesson cell may take this long (the Makefile's --nbval-cell-timeout)
CELL_TIMEOUT_S = 300
LINK_REWRITES = [
    # a learner's own copy (my-work/, git-ignored) may not exist: the slides point at the exercise
    (re.compile(r"\]\(\.\./my-work/(\d\d_[a-z0-9_]+\.ipynb)\)"), r"](../../exercises/\1)"),
    # another lesson: its slides
    (re.compile(r"\]\((\d\d_[a-z0-9_]+)\.ipynb(#[^)]*)?\)"), r"](\1.slides.html)"),
    # anything else of the clone (GLOSSARY.md, README.md, solutions/, exercises/): two levels up
    (re.compile(r"\]\(\.\./(?!\.\./)"), "](../../"),
]


class SlidesError(RuntimeError):
    """The slides could not be built; the message says which step and why."""


def rewrite_links(text: str) -> str:
    for pattern, repl in LINK_REWRITES:
        text = pattern.sub(repl, text)
    return text


def stage_notebook(stem: str, dst_dir: Path = SRC) -> Path:
    """Write the slide build's copy of notebooks/<stem>.ipynb; returns its path."""
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    missing = make_slides.missing_slides(nb)
    if missing:
        raise SlidesError(f"notebooks/{stem}.ipynb: cells {missing} have no slide metadata; "
                          "run `make sync`")
    problems = make_slides.note_problems(stem, nb)
    if problems:
        raise SlidesError("\n".join(problems))
    nb = make_slides.with_notes(make_slides.split_tall(nb), make_slides.load_notes(stem))
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source)
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / f"{stem}.ipynb"
    nbformat.write(nb, dst)
    return dst


def copy_reveal(out: Path = OUT) -> None:
    if not (REVEAL / "dist" / "reveal.js").exists():
        raise SlidesError(f"{REVEAL.relative_to(ROOT)} is missing: `make slides` installs it with "
                          "`npm ci --prefix slides` (from slides/package-lock.json)")
    target = out / "reveal.js"
    if target.exists():
        shutil.rmtree(target)
    # Only what the pages load: reveal's other themes import Google Fonts, so they stay behind.
    (target / "dist" / "theme").mkdir(parents=True)
    for name in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copy(REVEAL / "dist" / name, target / "dist" / name)
    shutil.copy(REVEAL / "dist" / "theme" / f"{THEME}.css", target / "dist" / "theme")
    shutil.copytree(REVEAL / "dist" / "theme" / "fonts" / "source-sans-pro",
                    target / "dist" / "theme" / "fonts" / "source-sans-pro")
    shutil.copytree(REVEAL / "plugin" / "notes", target / "plugin" / "notes")
    shutil.copy(REVEAL / "LICENSE", target / "LICENSE")


def convert(src: Path, out: Path = OUT) -> Path:
    """nbconvert one staged notebook to slides in out/; returns the HTML path."""
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {**os.environ, **NB_ENV,
           "PATH": f"{jupyter.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(jupyter), "nbconvert", "--to", "slides", "--execute", str(src),
           f"--TemplateExporter.extra_template_basedirs={TEMPLATES}", "--template", TEMPLATE,
           "--SlidesExporter.reveal_url_prefix=reveal.js", f"--SlidesExporter.reveal_theme={THEME}",
           "--SlidesExporter.reveal_transition=none", "--SlidesExporter.reveal_number=c/t",
           f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", "--output-dir", str(out)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SlidesError(f"nbconvert failed on {src.name} (exit {proc.returncode}):\n"
                          f"{proc.stderr.strip()[-3000:]}")
    return out / f"{src.stem}.slides.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stems", nargs="*", help="lessons to build (default: every written lesson)")
    ap.add_argument("--stage-only", action="store_true")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="lessons converted at once (default: 2, or 1 on one CPU)")
    args = ap.parse_args(argv)
    written = [les.stem for les in course_data.load().written()]
    unknown = [s for s in args.stems if s not in written]
    if unknown:
        print(f"make slides: {unknown} are not written lessons; choose from {written}",
              file=sys.stderr)
        return 2
    stems = args.stems or written
    try:
        staged = [stage_notebook(stem) for stem in stems]
        if args.stage_only:
            print(f"staged {len(staged)} lesson(s) in {SRC.relative_to(ROOT)}")
            return 0
        OUT.mkdir(parents=True, exist_ok=True)
        copy_reveal()
        if args.jobs < 1:
            raise SlidesError(f"--jobs {args.jobs}: give at least 1")

        def one(src: Path) -> str:
            start = time.monotonic()
            html = convert(src)
            return f"make slides: {html.relative_to(ROOT)} ({time.monotonic() - start:.0f} s)"
        # each conversion is its own kernel and process: a thread per job only waits for it
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for line in pool.map(one, staged):
                print(line, flush=True)
    except SlidesError as exc:
        print(f"make slides: {exc}", file=sys.stderr)
        return 1
    print(f"make slides: open {OUT.relative_to(ROOT)}/NN_*.slides.html; S opens the speaker notes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
