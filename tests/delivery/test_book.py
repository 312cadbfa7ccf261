"""The static book (``make book``): nothing loads from outside, every link lands, and Chromium shows
it whole with the network blocked.

``make test-book`` builds the book and then runs this file; run alone, it uses the book already
in artifacts/book/ and skips (outside CI) when there is none. The offline checker itself is proven
on pages that must fail it, so a checker that finds nothing can never pass by accident.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import offline_check  # noqa: E402  (tools/ is on the path)

BOOK = ROOT / "artifacts" / "book"
SHOTS = ROOT / "artifacts" / "book-screenshots"
CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def book() -> Path:
    if not (BOOK / "index.html").exists():
        if CI:
            pytest.fail("artifacts/book/ is missing: `make test-book` builds it first")
        pytest.skip("no book built yet: run `make book` (or `make test-book`)")
    return BOOK


# --------------------------------------------------------------------------- the checker itself

@pytest.mark.parametrize("snippet", [
    '<script src="https://unpkg.com/thebe@0.8.2/lib/index.js"></script>',
    '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">',
    '<img src="http://example.org/a.png" alt="">',
    '<style>@import "https://cdn.example/x.css";</style>',
    '<div style="background: url(https://cdn.example/bg.png)"></div>',
    '<link rel="preload" as="script" href="https://cdn.jsdelivr.net/npm/requirejs">',
])
def test_checker_catches_an_external_resource(snippet):
    assert offline_check.external_resources(f"<html><body>{snippet}</body></html>")


def test_checker_allows_hyperlinks_and_local_files():
    page = ('<a href="https://lore.kernel.org/lkml/x@y/">mail</a>'
            '<script src="_static/a.js"></script><img src="img/b.png" alt="b">')
    assert offline_check.external_resources(page) == []


def test_checker_catches_broken_links_and_anchors(tmp_path):
    (tmp_path / "index.html").write_text(
        '<a href="missing.html">x</a><a href="other.html#nowhere">y</a><a href="other.html#here">z</a>',
        encoding="utf-8")
    (tmp_path / "other.html").write_text('<p id="here">here</p>', encoding="utf-8")
    found = offline_check.problems(tmp_path)
    assert any("missing.html" in f for f in found)
    assert any("nowhere" in f for f in found)
    assert not any("#here" in f for f in found)


# --------------------------------------------------------------------------- the built book

def test_book_holds_every_written_lesson_exercise_solution_and_the_glossary(book):
    from mktme_lite import course
    for les in course.written():
        assert (book / "notebooks" / f"{les.stem}.html").exists(), les.stem
        for folder in ("exercises", "solutions"):
            if (ROOT / folder / f"{les.stem}.ipynb").exists():
                assert (book / folder / f"{les.stem}.html").exists(), (folder, les.stem)
    assert (book / "glossary.html").exists()
    assert (book / "search.html").exists() and (book / "searchindex.js").exists()


def test_book_loads_nothing_from_outside_and_every_link_lands(book):
    assert offline_check.problems(book) == []


def test_book_pages_hide_the_sanity_checks_but_keep_the_lessons_outputs(book):
    page = (book / "notebooks" / "01_tme_basics.html").read_text(encoding="utf-8")
    assert "sanity-check" not in page          # the assert cells are executed, then removed
    figures = offline_check.parse(page).resources
    assert any(u.startswith("data:image/png") or u.endswith(".png") for u in figures), \
        "the lesson's figures are missing"


def test_chromium_shows_the_book_whole_with_the_network_blocked(book):
    from lab_driver import CHROMIUM, CHROMIUM_ARGS
    if not os.path.exists(CHROMIUM):
        if CI:
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    pages = ["index.html", "notebooks/00_start_here.html", "notebooks/04_cache_incoherence.html",
             "glossary.html"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def guard(route):
                url = route.request.url
                if url.startswith("file://"):
                    route.continue_()
                else:                       # the network is blocked: record, then refuse
                    outside.append(url)
                    route.abort()
            context.route("**/*", guard)
            page = context.new_page()
            for rel in pages:
                page.goto((book / rel).as_uri(), wait_until="load")
                page.wait_for_timeout(300)
                state = page.evaluate("""() => ({
                    overflow: document.documentElement.scrollWidth - window.innerWidth,
                    article: (document.querySelector('article') || {}).innerText?.length || 0,
                    broken: [...document.images].filter(i => i.complete && i.naturalWidth === 0)
                                                 .map(i => i.getAttribute('src')),
                    missingAlt: [...document.querySelectorAll('article img')]
                                  .filter(i => !i.getAttribute('alt')).length,
                })""")
                page.screenshot(path=str(SHOTS / (rel.replace("/", "_") + ".png")), full_page=False)
                assert state["overflow"] <= 1, (rel, "page wider than the window", state)
                assert state["article"] > 200, (rel, "no content", state)
                assert state["broken"] == [], (rel, "images that did not load", state)
                assert state["missingAlt"] == 0, (rel, "figures without alt text", state)
            # search works offline: the index is a local file
            page.goto((book / "search.html").as_uri() + "?q=KeyID", wait_until="load")
            page.wait_for_selector("#search-results li, .search li", timeout=15_000)
            page.screenshot(path=str(SHOTS / "search_KeyID.png"))
        finally:
            browser.close()
    assert outside == [], f"pages asked the network for: {sorted(set(outside))[:10]}"
