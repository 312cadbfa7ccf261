"""The lesson slides (``make slides``) and live slides in the lab (RISE).

``make test-slides`` builds the slides and then runs this file; run alone, it uses the slides
already in artifacts/slides/ and skips those tests (outside CI) when there are none. Checked:

- every lesson has slide metadata and speaker notes, and no note points at a missing heading
  (the checkers are proven on notebooks and notes that must fail them);
- nothing a page loads comes from outside (tools/offline_check.py), every local file it names
  exists, and the copied reveal.js is the npm 4.x of slides/package-lock.json, theme white;
- Chromium, with every request that is not a file refused, steps through every slide of every
  lesson with the Reveal API, screenshots each into artifacts/slides-screenshots/<stem>/, and
  fails when a slide's content is wider or taller than the 960x700 slide box, or the template had
  to scale a slide below its floor; the speaker view (key S) shows the notes' text;
- jupyterlab-rise is installed in the course's environment, each notebook asks it for theme
  white, and RISE's page in a running lab shows lesson 00 as slides on white, network blocked.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import make_slides  # noqa: E402  (tools/ is on the path)
import offline_check  # noqa: E402

from mktme_lite import course  # noqa: E402

SLIDES = ROOT / "artifacts" / "slides"
SHOTS = ROOT / "artifacts" / "slides-screenshots"
CI = os.environ.get("CI") == "true"
WIDTH, HEIGHT = 960, 700
#: a slide's content may reach this many px past the box (sub-pixel rounding, margins)
SLACK = 4
#: the template's floor (MKTME_MIN_SCALE in slides/template/mktme_reveal/index.html.j2): a slide
#: shrunk further would be unreadable, so the rule-based pass must split it instead
MIN_SCALE = 0.75
LESSONS = [les.stem for les in course.written()]


def _nb(stem: str):
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def slides() -> Path:
    if not all((SLIDES / f"{stem}.slides.html").exists() for stem in LESSONS):
        if CI:
            pytest.fail("artifacts/slides/ is incomplete: `make test-slides` builds it first")
        pytest.skip("no slides built yet: run `make slides` (or `make test-slides`)")
    return SLIDES


# --------------------------------------------------------------------------- metadata and notes

@pytest.mark.parametrize("stem", LESSONS)
def test_every_cell_has_slide_metadata_and_rise_asks_for_theme_white(stem):
    nb = _nb(stem)
    assert make_slides.missing_slides(nb) == [], "run `make sync`"
    assert nb.metadata["rise"]["theme"] == "white"
    assert make_slides.with_slides(nb) == nb, "the rule-based pass is not idempotent; run `make sync`"
    types = [c.metadata.slideshow.slide_type for c in nb.cells]
    assert types[0] == "slide"
    for cell, kind in zip(nb.cells, types):
        if "sanity-check" in cell.metadata.get("tags", []):
            assert kind == "skip"


def test_solutions_and_exercises_carry_the_slide_metadata_too():
    for folder in ("solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            assert make_slides.missing_slides(nb) == [], path
            assert nb.metadata["rise"]["theme"] == "white", path


def test_the_rules_split_headings_predictions_and_setup():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Title"), v4.new_code_cell("from mktme_lite import lesson"),
        v4.new_markdown_cell("## Section"), v4.new_markdown_cell("Prose."),
        v4.new_markdown_cell("### Sub"), v4.new_markdown_cell("**Predict.** What happens?"),
        v4.new_code_cell("run()"), v4.new_markdown_cell("It broke."),
        v4.new_code_cell("assert True", metadata={"tags": ["sanity-check"]}),
        v4.new_code_cell('quiz.ask("x", "y")')])
    # the Predict prompt opens a subslide of its own, so its answer is revealed on the same one
    assert make_slides.slide_types(nb) == ["slide", "skip", "slide", "-", "subslide", "subslide",
                                           "fragment", "fragment", "skip", "subslide"]
    tall = v4.new_notebook(cells=[v4.new_markdown_cell("## S")] +
                           [v4.new_markdown_cell("line\n" * 10) for _ in range(4)])
    assert "subslide" in make_slides.slide_types(tall), "a tall section must be split"


@pytest.mark.parametrize("stem", LESSONS)
def test_every_lesson_has_speaker_notes_and_every_anchor_exists(stem):
    nb = _nb(stem)
    assert make_slides.note_problems(stem, nb) == []
    notes = make_slides.load_notes(stem)
    assert len(notes) >= 5, "notes for a lecturer: at least the main sections"
    assert any("ask" in n for n in notes.values()), "ask the room something before a reveal"
    staged = make_slides.with_notes(nb, notes)
    assert sum(c.metadata.get("slideshow", {}).get("slide_type") == "notes"
               for c in staged.cells) == len(notes)


def test_the_notes_checker_catches_missing_anchors_and_bad_files(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Real heading")])
    (tmp_path / "x.toml").write_text('["Real heading"]\nsay = "ok"\n["Gone"]\nsay = "x"\n',
                                     encoding="utf-8")
    found = make_slides.note_problems("x", nb, tmp_path)
    assert len(found) == 1 and "'Gone'" in found[0] and "points at no heading" in found[0]
    (tmp_path / "y.toml").write_text('["Real heading"]\nask = "?"\ncolour = 1\n', encoding="utf-8")
    found = " ".join(make_slides.note_problems("y", nb, tmp_path))
    assert "needs `say`" in found and "unknown fields ['colour']" in found
    assert "missing" in make_slides.note_problems("z", nb, tmp_path)[0]
    (tmp_path / "w.toml").write_text('["Real heading"\n', encoding="utf-8")
    assert "not valid TOML" in make_slides.note_problems("w", nb, tmp_path)[0]


def _course_copy(tmp_path: Path) -> Path:
    import shutil
    for name in ("lessons.toml", "glossary.toml", "README.md", "GLOSSARY.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("notebooks", "solutions", "slides/notes"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_sync_check_fails_when_a_notebook_lacks_slide_metadata(tmp_path, capsys):
    import sync_lessons
    root = _course_copy(tmp_path)
    assert sync_lessons.main(["--root", str(root), "--check"]) == 0
    path = root / "notebooks" / "01_tme_basics.ipynb"
    nb = nbformat.read(path, as_version=4)
    del nb.cells[3].metadata["slideshow"]
    path.write_text(sync_lessons.render(nb), encoding="utf-8")
    assert sync_lessons.main(["--root", str(root), "--check"]) == 1
    assert "notebooks/01_tme_basics.ipynb is out of date" in capsys.readouterr().err
    assert sync_lessons.main(["--root", str(root)]) == 0      # make sync puts it back
    assert sync_lessons.main(["--root", str(root), "--check"]) == 0


def test_sync_fails_on_a_note_whose_heading_is_gone(tmp_path, capsys):
    import sync_lessons
    root = _course_copy(tmp_path)
    notes = root / "slides" / "notes" / "05_swap.toml"
    notes.write_text(notes.read_text(encoding="utf-8") + '\n["A heading nobody wrote"]\nsay = "x"\n',
                     encoding="utf-8")
    assert sync_lessons.main(["--root", str(root), "--check"]) == 2
    err = capsys.readouterr().err
    assert "slides/notes/05_swap.toml: ['A heading nobody wrote'] points at no heading" in err


# --------------------------------------------------------------------------- the built slides

def test_slides_load_nothing_from_outside_and_every_local_file_exists(slides):
    assert offline_check.problems(slides) == []
    for stem in LESSONS:
        page = offline_check.parse((slides / f"{stem}.slides.html").read_text(encoding="utf-8"))
        local = [u for u in page.resources if not u.startswith("data:")]
        assert "reveal.js/dist/reveal.js" in local and "reveal.js/dist/theme/white.css" in local
        for url in local:
            assert (slides / url).exists(), (stem, url)


def test_the_local_reveal_is_the_locked_npm_4x_with_theme_white_only(slides):
    lock = json.loads((ROOT / "slides" / "package-lock.json").read_text(encoding="utf-8"))
    version = lock["packages"]["node_modules/reveal.js"]["version"]
    assert version.startswith("4."), version
    head = (slides / "reveal.js" / "dist" / "reveal.js").read_text(encoding="utf-8")[:400]
    assert version in head, "the copied reveal.js is not the locked one"
    assert [p.name for p in (slides / "reveal.js" / "dist" / "theme").glob("*.css")] == ["white.css"]
    for stem in LESSONS:
        text = (slides / f"{stem}.slides.html").read_text(encoding="utf-8")
        for cdn in ("unpkg.com", "cdnjs", "jsdelivr", "mathjax", "require.js", "mermaid"):
            assert cdn not in text.lower() or cdn in ("mathjax", "mermaid") and \
                not re.search(rf"<script[^>]*{cdn}", text, re.I), (stem, cdn)


def test_the_checker_fails_on_a_page_with_an_external_reveal(tmp_path):
    (tmp_path / "x.slides.html").write_text(
        '<link rel="stylesheet" href="https://unpkg.com/reveal.js@4.0.2/dist/reveal.css">'
        '<script src="reveal.js/dist/reveal.js"></script>', encoding="utf-8")
    found = offline_check.problems(tmp_path)
    assert any("unpkg.com" in f for f in found)
    assert any("reveal.js/dist/reveal.js: no such file" in f for f in found)


#: Run on each slide by Chromium: how far the slide's content reaches, in slide pixels.
MEASURE = """(slide) => {
  const s = slide;
  const scale = Reveal.getScale();
  const box = document.querySelector('.reveal .slides').getBoundingClientRect();
  let right = 0, bottom = 0, worst = '';
  for (const el of s.querySelectorAll('*')) {
    if (el.closest('aside.notes')) continue;
    const clip = el.parentElement && el.parentElement.closest('.mktme-scroll');
    if (clip && s.contains(clip)) continue;   // inside an output that scrolls within the slide
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const b = (r.bottom - box.top) / scale, w = (r.right - box.left) / scale;
    if (b > bottom) { bottom = b; worst = el.tagName + '.' + el.className; }
    if (w > right) right = w;
  }
  return {bottom: Math.round(bottom), right: Math.round(right), worst: String(worst).slice(0, 80),
          scale: parseFloat(s.dataset.mktmeScale || '1'), scroll: !!s.dataset.mktmeScroll,
          text: (s.innerText || '').trim().slice(0, 60)};
}"""


def step_through(page, stem: str) -> list[dict]:
    """Visit every slide of the open deck; screenshot and measure each."""
    (SHOTS / stem).mkdir(parents=True, exist_ok=True)
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    total = page.evaluate("() => Reveal.getTotalSlides()")
    order = page.evaluate("() => Reveal.getSlides().map(s => Reveal.getIndices(s))")
    assert len(order) == total
    found = []
    for n, ix in enumerate(order, start=1):
        # every fragment shown: the screenshot is the slide as the room finally sees it
        page.evaluate(f"() => Reveal.slide({ix['h']}, {ix['v'] or 0}, 1000)")
        page.wait_for_function(f"() => Reveal.getIndices().h === {ix['h']} && "
                               f"(Reveal.getIndices().v || 0) === {ix['v'] or 0}")
        page.wait_for_timeout(50)
        m = page.evaluate(f"() => ({MEASURE})(Reveal.getCurrentSlide())")
        m.update(n=n, h=ix["h"], v=ix["v"] or 0)
        page.screenshot(path=str(SHOTS / stem / f"{n:02d}.png"))
        found.append(m)
    return found


def _chromium():
    from lab_driver import CHROMIUM_ARGS, find_chromium
    exe = find_chromium()
    if not exe:
        if CI:
            pytest.fail("no Chromium or Chrome found (tools/find_chromium.py says where it looked)")
        pytest.skip("no Chromium or Chrome found")
    return exe, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the whole module (Playwright's sync API allows one at a time)."""
    exe, args = _chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser_context(slides, browser):
    outside: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def guard(route):
        if route.request.url.startswith(("file://", "about:", "data:")):
            route.continue_()
        else:                       # the network is blocked: record, then refuse
            outside.append(route.request.url)
            route.abort()
    context.route("**/*", guard)
    try:
        yield context, outside
    finally:
        context.close()


@pytest.mark.parametrize("stem", LESSONS)
def test_chromium_steps_through_every_slide_and_none_overflows(browser_context, stem):
    context, outside = browser_context
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((SLIDES / f"{stem}.slides.html").as_uri(), wait_until="load")
    found = step_through(page, stem)
    page.close()
    report = SHOTS / stem / "measure.json"
    report.write_text(json.dumps(found, indent=1), encoding="utf-8")
    bad = [m for m in found if m["bottom"] > HEIGHT + SLACK or m["right"] > WIDTH + SLACK
           or m["scale"] < MIN_SCALE]
    assert errors == [], errors
    assert outside == [], f"the slides asked the network for: {sorted(set(outside))[:10]}"
    assert len(found) >= 10
    assert bad == [], f"{len(bad)} of {len(found)} slides overflow 960x700 (see {report}): {bad}"


def test_the_speaker_view_shows_the_notes(browser_context):
    context, outside = browser_context
    stem = "04_cache_incoherence"
    notes = make_slides.load_notes(stem)
    page = context.new_page()
    page.goto((SLIDES / f"{stem}.slides.html").as_uri(), wait_until="load")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    # the first note that belongs to a horizontal slide's heading
    anchor = next(a for a in notes if a in make_slides.anchors(_nb(stem)))
    index = page.evaluate("""(text) => {
        const s = [...document.querySelectorAll('.reveal .slides section')]
          .find(s => s.querySelector('aside.notes') && s.textContent.includes(text));
        return s ? Reveal.getIndices(s) : null; }""", anchor)
    assert index, anchor
    page.evaluate(f"() => Reveal.slide({index['h']}, {index['v'] or 0})")
    with context.expect_page(timeout=15_000) as popup_info:
        page.keyboard.press("s")
    popup = popup_info.value
    popup.wait_for_selector(".speaker-controls-notes .value", state="attached", timeout=15_000)
    popup.wait_for_function(
        "() => document.querySelector('.speaker-controls-notes .value').innerText.trim().length > 20",
        timeout=15_000)
    shown = popup.inner_text(".speaker-controls-notes .value")
    SHOTS.mkdir(parents=True, exist_ok=True)
    popup.screenshot(path=str(SHOTS / "speaker-view.png"))
    first_words = " ".join(notes[anchor]["say"].split()[:6])
    assert first_words in " ".join(shown.split()), (first_words, shown[:200])
    popup.close()
    page.close()
    assert outside == []


# --------------------------------------------------------------------------- RISE in the lab

def test_rise_is_installed_in_the_lab_environment():
    from importlib import metadata
    try:
        version = metadata.version("jupyterlab-rise")
    except metadata.PackageNotFoundError:
        pytest.fail("jupyterlab-rise is not installed: `make slides` installs the `slides` extra")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        extra = tomllib.load(fh)["project"]["optional-dependencies"]["slides"]
    assert any(req.startswith("jupyterlab-rise") for req in extra)
    labext = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-rise"
    assert (labext / "package.json").exists(), f"no lab extension in {labext} (version {version})"


def test_rise_shows_a_lesson_as_slides_in_the_lab_with_theme_white(browser):
    """RISE's own page (``/rise/<notebook>``, served by the lab) opens lesson 00 as reveal.js
    slides in theme white, with every request that is not to the lab on loopback refused."""
    pytest.importorskip("jupyterlab_rise", reason="the `slides` extra installs jupyterlab-rise")
    from lab_driver import running_lab
    outside: list[str] = []
    with running_lab() as (base, token):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:

            def guard(route):
                if route.request.url.startswith((base, "data:", "blob:", "about:")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()
            context.route("**/*", guard)
            page = context.new_page()
            page.goto(f"{base}/rise/notebooks/00_start_here.ipynb?token={token}", wait_until="load")
            page.wait_for_selector(".reveal .slides section", timeout=60_000)
            page.wait_for_timeout(2000)
            state = page.evaluate("""() => ({
                sections: document.querySelectorAll('.reveal .slides > section').length,
                text: document.querySelector('.reveal .slides').innerText.slice(0, 200),
                background: getComputedStyle(document.querySelector('.reveal-viewport')
                                             || document.body).backgroundColor,
            })""")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "rise_00_start_here.png"))
        finally:
            context.close()
    assert state["sections"] >= 5, state
    assert state["background"] == "rgb(255, 255, 255)", f"not theme white: {state}"
    assert "Lesson 00" in state["text"] or "LESSON 00" in state["text"], state
    assert outside == [], f"RISE asked the network for: {sorted(set(outside))[:10]}"
