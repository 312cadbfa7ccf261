"""Every lesson's widgets work in a real browser: JupyterLab driven by Debian's Chromium.

nbval executes the notebooks but cannot see "Error displaying widget", a view that never
renders, or a slider that moves nothing; only a front end can. For each lesson listed in
lessons.toml this test opens the notebook in JupyterLab, runs all cells, and requires:

- no error output, no Python traceback on stderr, no widget that failed to render
  ("Error displaying widget" in ipywidgets 7, an error view in ipywidgets 8);
- every widget view rendered, at least one widget container per lesson;
- for every container with the CSS class ``mktme-widget``: moving its first control (slider,
  dropdown, toggle buttons, checkbox, text box or button) changes the contents of the
  ``mktme-widget-output`` area inside it within 10 s.

It saves ``artifacts/screenshots/<stem>.png`` per lesson. The fixtures
``tests/fixtures/broken_widget.ipynb`` and ``frozen_widget.ipynb`` prove that the same
checking function fails on a widget that cannot render and on one that never redraws.

Chromium comes from apt (``/usr/bin/chromium``, or set ``MKTME_CHROMIUM``); Playwright is
only the driver. Never run ``playwright install``.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("MKTME_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
RUN_TIMEOUT_MS = 300_000  # a whole lesson, Run All
CHANGE_TIMEOUT_MS = 10_000  # one widget redraw
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def lesson_stems() -> list[str]:
    with open(ROOT / "lessons.toml", "rb") as fh:
        # Only written lessons have a notebook; planned ones are listed too (docs/CONVENTIONS.md).
        return [entry["stem"] for entry in tomllib.load(fh).get("lesson", [])
                if entry.get("status") == "written"]


# --------------------------------------------------------------------------- server, browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A throw-away JupyterLab on 127.0.0.1 serving the repository; yields (base url, token)."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MKTME_STATIC", "MPLBACKEND")}
    dirs = {name: tmp / name.lower() for name in
            ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
             "MPLCONFIGDIR")}
    for name, path in dirs.items():
        path.mkdir()
        env[name] = str(path)
    # No announcement toast over the screenshots; never autosave executed lessons into git;
    # keep every cell in the DOM so selectors see all outputs.
    _write_json(dirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json",
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    settings = tmp / "user-settings"
    _write_json(settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
                {"autosave": False})
    _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    log = open(tmp / "jupyterlab.log", "w")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
           "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (tmp / "jupyterlab.log").read_text()[-3000:]
                    pytest.fail(f"JupyterLab did not start (exit {proc.poll()}):\n{tail}")
                time.sleep(0.25)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium "
                    "(or set MKTME_CHROMIUM); do not run `playwright install`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


# --------------------------------------------------------------------------- the check

KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session
                 && w.sessionContext.session.kernel;
  return !!(kernel && kernel.status === 'idle' && w.content && w.content.widgets.length);
}"""

RUN_FINISHED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const busy = [...document.querySelectorAll('.jp-InputPrompt')]
                 .some(e => e.textContent.includes('*'));
  return w.sessionContext.session.kernel.status === 'idle' && !busy;
}"""

WIDGETS_RENDERED = f"""() => [...document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="{WIDGET_MIME}"]')]
  .every(o => o.querySelector('.jupyter-widgets')
              || o.textContent.includes('Error displaying widget'))"""  # error views count too

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

# The first control of a container, in document order, and what kind it is.
CONTROLS = {
    "slider": ".widget-slider .noUi-handle",
    "select": ".widget-dropdown select, .widget-select select",
    "toggle": ".widget-toggle-buttons .widget-toggle-button, .widget-radio-box input",
    "checkbox": ".widget-checkbox input",
    "text": ".widget-text input, .widget-textarea textarea",
    "button": "button.jupyter-button",
}


def open_and_run(page, lab, relpath: str) -> None:
    base, token = lab
    page.goto(f"{base}/lab/tree/{relpath}?reset&token={token}")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the notebook
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(RUN_FINISHED, timeout=RUN_TIMEOUT_MS, polling=200)
    page.wait_for_function(WIDGETS_RENDERED, timeout=30_000, polling=200)


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


def check_notebook_in_browser(page, lab, relpath: str, *, require_widget: bool = True,
                              screenshot: Path | None = None,
                              change_timeout_ms: int = CHANGE_TIMEOUT_MS) -> None:
    """Open, Run All, inspect, move every widget's first control; AssertionError lists problems."""
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
        problems += interaction_problems(page, change_timeout_ms)
        page.wait_for_function(RUN_FINISHED, timeout=60_000, polling=200)
        problems += [p for p in page.evaluate(OUTPUT_PROBLEMS) if p not in problems]
    finally:
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            first = page.locator(".jp-OutputArea-output .mktme-widget").first
            if first.count():
                first.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest, \
        f"{relpath} was modified on disk by the browser run"
    if problems and console_errors:
        problems.append("browser console errors: " + " | ".join(console_errors[:5]))
    assert not problems, f"{relpath}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("stem", lesson_stems())
def test_lesson_widgets_work_in_browser(lab, page, stem):
    check_notebook_in_browser(page, lab, f"notebooks/{stem}.ipynb",
                              screenshot=SCREENSHOTS / f"{stem}.png")


def test_widget_that_cannot_render_fails_the_check(lab, page):
    with pytest.raises(AssertionError, match="Error displaying widget"):
        check_notebook_in_browser(page, lab, "tests/fixtures/broken_widget.ipynb")


def test_widget_that_never_redraws_fails_the_check(lab, page):
    with pytest.raises(AssertionError, match="did not change"):
        check_notebook_in_browser(page, lab, "tests/fixtures/frozen_widget.ipynb",
                                  change_timeout_ms=3000)
