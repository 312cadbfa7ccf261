"""Every lesson's widgets work in a real browser: JupyterLab driven by Debian's Chromium.

nbval executes the notebooks but cannot see "Error displaying widget", a view that never
renders, or a slider that moves nothing; only a front end can. For each lesson listed in
lessons.toml this test opens the notebook in JupyterLab, runs all cells, and requires:

- no error output, no Python traceback on stderr, no widget that failed to render
  ("Error displaying widget" in ipywidgets 7, an error view in ipywidgets 8);
- every widget view rendered, at least one widget container per lesson;
- for every container with the CSS class ``mktme-widget``: moving its first control (slider,
  dropdown, toggle buttons, checkbox, text box or button) changes the contents of the
  ``mktme-widget-output`` area inside it within 10 s;
- no text inside a widget is cut off at JupyterLab's width in the test (1280 px, left panel
  collapsed): no element's text is wider than its box, no dropdown option wider than the dropdown
  (``lab_driver.WIDGET_OVERFLOW``), and no two labels of the controls run together (drawn text of
  two labels/buttons/readouts on one line less than 2 px apart);
- in JupyterLab Light and then JupyterLab Dark (switched in the same page with
  ``apputils:change-theme``, issue 11): every visible text in widget views and HTML outputs has a
  WCAG contrast of 4.5:1 (3:1 large) against its effective background, and every figure is opaque
  with a light background of its own (``lab_driver.CONTRAST_PROBLEMS``).

It saves ``artifacts/screenshots/<stem>.png`` and ``artifacts/browser-screenshots/dark-<stem>.png``
per lesson. The fixtures
``tests/fixtures/broken_widget.ipynb``, ``frozen_widget.ipynb`` and ``overflowing_widget.ipynb``
prove that the same checking function fails on a widget that cannot render, on one that never
redraws and on one whose text does not fit; ``runtogether_widget.ipynb`` on labels that run together
and ``dark_unreadable.ipynb`` on text and a figure that vanish in the dark theme.

Chromium comes from apt (``/usr/bin/chromium``, or set ``MKTME_CHROMIUM``); Playwright is
only the driver. Never run ``playwright install``. Starting JupyterLab and Chromium lives in
``lab_driver.py`` next to this file, shared with ``benchmarks/bench_browser.py``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

# The server, the browser and the page scripts are shared with benchmarks/bench_browser.py.
from lab_driver import (CONTRAST_PROBLEMS, DARK_THEME, LIGHT_THEME, set_theme)
from lab_driver import (CONTROLS, NO_CHROMIUM, ROOT, RUN_FINISHED, VIEWPORT, WIDGET_OVERFLOW, LabError,
                        chromium, find_chromium, in_ci, lesson_stems, open_and_run, running_lab)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DARK_SCREENSHOTS = ROOT / "artifacts" / "browser-screenshots"
CHANGE_TIMEOUT_MS = 10_000  # one widget redraw


# --------------------------------------------------------------------------- server, browser

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A throw-away JupyterLab on 127.0.0.1 serving the repository; yields (base url, token)."""
    try:
        with running_lab(tmp_path_factory.mktemp("jupyterlab")) as lab:
            yield lab
    except LabError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:  # `make test` said so before the long stages (tools/find_chromium.py)
        if in_ci():
            pytest.fail(f"CI=true and {NO_CHROMIUM}")
        pytest.skip(NO_CHROMIUM)
    try:
        with chromium() as b:
            yield b
    except LabError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    yield pg
    context.close()


# --------------------------------------------------------------------------- the check

OUTPUT_PROBLEMS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const problems = [];
  w.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    if (cell.model.executionCount === null && cell.model.sharedModel.getSource().trim())
      problems.push(`cell ${i} did not run (Run All stopped before it)`);
    for (const o of cell.model.outputs.toJSON()) {
      if (o.output_type === 'error')
        problems.push(`cell ${i} raised ${o.ename}: ${o.evalue}`);
      const text = Array.isArray(o.text) ? o.text.join('') : (o.text || '');
      if (o.output_type === 'stream' && o.name === 'stderr' && text.includes('Traceback'))
        problems.push(`cell ${i} printed a traceback: ${text.slice(-300)}`);
    }
  });
  for (const e of document.querySelectorAll(
      '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'))
    if (e.textContent.includes('Traceback'))
      problems.push('a traceback is shown: ' + e.textContent.slice(-300));
  // ipywidgets 7 wrote "Error displaying widget"; ipywidgets 8 draws an error view instead.
  const failed = document.querySelectorAll('.jp-OutputArea .jupyter-widgets-error-widget').length
    + [...document.querySelectorAll('.jp-OutputArea')]
        .filter(e => e.textContent.includes('Error displaying widget')).length;
  if (failed)
    problems.push(`Error displaying widget: ${failed} widget view(s) failed to render`);
  return problems;
}"""


def _first_control(container):
    selector = ", ".join(CONTROLS.values())
    control = container.locator(selector).first
    if control.count() == 0:
        return None, None
    for kind, sel in CONTROLS.items():
        if control.evaluate("(el, sel) => el.matches(sel)", sel):
            return kind, control
    return None, None


def _move(page, container, kind: str, control) -> str:
    """Change the control's value once; return a description for messages."""
    if kind == "slider":
        readout = container.locator(".widget-readout").first
        before = readout.inner_text() if readout.count() else None
        control.focus()
        page.keyboard.press("ArrowRight")
        if before is not None:
            try:  # at the maximum already: go the other way
                page.wait_for_function("([el, b]) => el.textContent !== b",
                                       arg=[readout.element_handle(), before], timeout=1500)
            except Exception:
                page.keyboard.press("ArrowLeft")
        return "slider moved one step"
    if kind == "select":
        options = control.locator("option")
        current = control.evaluate("el => el.selectedIndex")
        control.select_option(index=(current + 1) % max(options.count(), 1))
        return "dropdown changed"
    if kind == "toggle":
        inactive = container.locator(".widget-toggle-button:not(.mod-active), "
                                     ".widget-radio-box input:not(:checked)").first
        (inactive if inactive.count() else control).click()
        return "toggle changed"
    if kind == "checkbox":
        control.click()
        return "checkbox clicked"
    if kind == "text":
        control.fill((control.input_value() or "") + "1")
        control.press("Enter")
        return "text edited"
    control.click()
    return "button clicked"


def interaction_problems(page, change_timeout_ms: int = CHANGE_TIMEOUT_MS) -> list[str]:
    problems = []
    containers = page.locator(".jp-OutputArea-output .mktme-widget")
    for i in range(containers.count()):
        container = containers.nth(i)
        name = f"widget #{i + 1} (.mktme-widget)"
        output = container.locator(".mktme-widget-output").first
        if output.count() == 0:
            problems.append(f"{name} has no .mktme-widget-output inside it")
            continue
        kind, control = _first_control(container)
        if control is None:
            problems.append(f"{name} has no control to move")
            continue
        container.scroll_into_view_if_needed()
        before = output.inner_html()
        what = _move(page, container, kind, control)
        try:
            page.wait_for_function("([el, b]) => el.innerHTML !== b && el.children.length",
                                   arg=[output.element_handle(), before],
                                   timeout=change_timeout_ms, polling=100)
        except Exception:
            problems.append(f"{name}: {what}, but its .mktme-widget-output did not change "
                            f"within {change_timeout_ms / 1000:g} s")
    return problems


def _screenshot(page, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    first = page.locator(".jp-OutputArea-output .mktme-widget").first
    if first.count():
        first.scroll_into_view_if_needed()
    page.screenshot(path=str(path))


def check_notebook_in_browser(page, lab, relpath: str, *, require_widget: bool = True,
                              screenshot: Path | None = None, dark_screenshot: Path | None = None,
                              dark: bool = True, change_timeout_ms: int = CHANGE_TIMEOUT_MS) -> None:
    """Open, Run All, inspect, move every widget's first control; then (``dark``) switch the same page
    to JupyterLab Dark and check contrast there too. AssertionError lists the problems."""
    source = ROOT / relpath
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    problems: list[str] = []
    console_errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text[:300]))
    try:
        open_and_run(page, lab, relpath)
        problems += page.evaluate(OUTPUT_PROBLEMS)
        if require_widget and page.locator(".jp-OutputArea-output .mktme-widget").count() == 0:
            problems.append("no widget with the CSS class mktme-widget was displayed")
        problems += page.evaluate(WIDGET_OVERFLOW)
        problems += interaction_problems(page, change_timeout_ms)
        page.wait_for_function(RUN_FINISHED, timeout=60_000, polling=200)
        problems += [p for p in page.evaluate(OUTPUT_PROBLEMS) if p not in problems]
        problems += [f"light theme: {p}" for p in page.evaluate(CONTRAST_PROBLEMS)]
        if dark:
            try:
                set_theme(page, DARK_THEME)
                problems += [f"dark theme: {p}" for p in page.evaluate(CONTRAST_PROBLEMS)]
                if dark_screenshot is not None:
                    _screenshot(page, dark_screenshot)
            finally:
                set_theme(page, LIGHT_THEME)  # the theme is saved in the lab's settings: the next page is light
    finally:
        if screenshot is not None:
            _screenshot(page, screenshot)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest, \
        f"{relpath} was modified on disk by the browser run"
    if problems and console_errors:
        problems.append("browser console errors: " + " | ".join(console_errors[:5]))
    assert not problems, f"{relpath}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("stem", lesson_stems())
def test_lesson_widgets_work_in_browser(lab, page, stem):
    check_notebook_in_browser(page, lab, f"notebooks/{stem}.ipynb", screenshot=SCREENSHOTS / f"{stem}.png",
                              dark_screenshot=DARK_SCREENSHOTS / f"dark-{stem}.png")


def test_widget_that_cannot_render_fails_the_check(lab, page):
    with pytest.raises(AssertionError, match="Error displaying widget"):
        check_notebook_in_browser(page, lab, "tests/fixtures/broken_widget.ipynb")


def test_widget_that_never_redraws_fails_the_check(lab, page):
    with pytest.raises(AssertionError, match="did not change"):
        check_notebook_in_browser(page, lab, "tests/fixtures/frozen_widget.ipynb",
                                  change_timeout_ms=3000)


def test_widget_whose_text_does_not_fit_fails_the_check(lab, page):
    with pytest.raises(AssertionError) as info:
        check_notebook_in_browser(page, lab, "tests/fixtures/overflowing_widget.ipynb")
    message = str(info.value)
    assert "is cut off when chosen" in message and "an option far too long" in message
    assert "text does not fit its box" in message and "a label wider than its button" in message
    assert "did not change" not in message  # the fixture redraws: only its text is wrong


def test_text_and_figures_that_vanish_in_the_dark_theme_fail_the_check(lab, page):
    with pytest.raises(AssertionError) as info:
        check_notebook_in_browser(page, lab, "tests/fixtures/dark_unreadable.ipynb", require_widget=False,
                                  dark_screenshot=DARK_SCREENSHOTS / "dark-fixture.png")
    message = str(info.value)
    assert "dark theme: text \"grey card text\"" in message
    assert "dark theme: text \"grey widget label\"" in message
    assert "transparent pixel(s)" in message
    assert "light theme: text" not in message  # #444 on the light page is readable: only dark fails


def test_labels_that_run_together_fail_the_check(lab, page):
    with pytest.raises(AssertionError) as info:
        check_notebook_in_browser(page, lab, "tests/fixtures/runtogether_widget.ipynb", dark=False)
    message = str(info.value)
    assert 'labels run together' in message and '"Flush before swap-out" / "Swap-in frame"' in message
    assert "did not change" not in message and "text does not fit" not in message


def test_the_lab_runs_the_courses_server_extension(lab, page, tmp_path_factory):
    """The kernel websockets of the lab the learner starts have TCP_NODELAY on (mktme_lite_lab,
    installed with the course; tests/course/test_lab_server.py tests what it does)."""
    open_and_run(page, lab, "tests/fixtures/good_notebook.ipynb")
    logs = sorted(tmp_path_factory.getbasetemp().glob("jupyterlab*/jupyterlab.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    assert "mktme_lite_lab: kernel websockets send each frame at once" in text, text[-3000:]
    assert "mktme_lite_lab: TCP_NODELAY set on a kernel websocket" in text, text[-3000:]
    assert "could not set TCP_NODELAY" not in text
