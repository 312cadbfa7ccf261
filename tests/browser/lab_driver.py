"""Start a throw-away JupyterLab and drive it with Debian's Chromium: shared by the browser test
(tests/browser/test_widgets_in_browser.py) and the browser benchmark (benchmarks/bench_browser.py).

    from lab_driver import running_lab, chromium, open_and_run
    with running_lab() as lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        open_and_run(page, lab, "notebooks/00_start_here.ipynb")

JupyterLab listens on 127.0.0.1 only, on a free port, with a random token, no browser, no
announcements, no update checks, no autosave (an executed lesson is never written back into git)
and every cell kept in the DOM. Chromium or Chrome is found by :func:`find_chromium` (Debian, Ubuntu,
snap, Google Chrome, macOS, or ``MKTME_CHROMIUM``); Playwright is only the driver. Never run ``playwright install``.

Not a test module (pytest collects only ``test_*.py``); it imports nothing from pytest.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Where Chromium or Chrome lives, in the order :func:`find_chromium` tries: names looked up on PATH
#: (Debian ``chromium``, Ubuntu ``chromium-browser``, Google's ``google-chrome``/``-stable``), then fixed
#: paths (Debian, the Ubuntu snap, macOS application bundles). ``MKTME_CHROMIUM`` overrides them all.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium",
                  "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable",
                  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                  "/Applications/Chromium.app/Contents/MacOS/Chromium")
NO_CHROMIUM = ("no Chromium or Chrome found (tried $MKTME_CHROMIUM, " + ", ".join(CHROMIUM_NAMES)
               + " on PATH, and " + ", ".join(CHROMIUM_PATHS) + "): install one (Debian: apt-get install "
               "chromium; Ubuntu: apt-get install chromium-browser or snap install chromium; macOS: Google "
               "Chrome) or set MKTME_CHROMIUM to its path; do not run `playwright install`")


def find_chromium(environ: dict | None = None, paths: tuple[str, ...] = CHROMIUM_PATHS) -> str | None:
    """The path of a Chromium or Chrome executable, or None when there is none.

    ``MKTME_CHROMIUM`` wins when set (and must name an executable file, else None: a typo is not
    silently replaced by another browser); then the names of :data:`CHROMIUM_NAMES` on ``PATH``; then
    :data:`CHROMIUM_PATHS`. ``environ`` defaults to ``os.environ`` (tests pass their own)."""
    import shutil

    env = os.environ if environ is None else environ
    runnable = lambda f: os.path.isfile(f) and os.access(f, os.X_OK)  # noqa: E731
    chosen = env.get("MKTME_CHROMIUM", "").strip()
    if chosen:
        return chosen if runnable(chosen) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name, path=env.get("PATH", ""))
        if found:
            return found
    return next((f for f in paths if runnable(f)), None)


def in_ci(environ: dict | None = None) -> bool:
    """True in CI (``CI=true``), where a missing browser is a failure, not a skip."""
    return (os.environ if environ is None else environ).get("CI", "").strip().lower() == "true"


#: The browser every caller uses; the Debian path when none is found (callers check it exists).
CHROMIUM = find_chromium() or os.environ.get("MKTME_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
RUN_TIMEOUT_MS = 300_000  # a whole lesson, Run All
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: JupyterLab's default window in the tests: the left panel is collapsed, the notebook gets the rest.
VIEWPORT = {"width": 1280, "height": 1000}


class LabError(RuntimeError):
    """JupyterLab did not start, or Chromium is missing; the message says what to do."""


def lesson_stems() -> list[str]:
    """The stems of the written lessons, in course order (lessons.toml lists planned ones too)."""
    with open(ROOT / "lessons.toml", "rb") as fh:
        return [entry["stem"] for entry in tomllib.load(fh).get("lesson", [])
                if entry.get("status") == "written"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@contextlib.contextmanager
def running_lab(tmp: Path | None = None, start_timeout_s: float = 60):
    """A JupyterLab on 127.0.0.1 serving the repository; yields ``(base url, token)``.

    Its configuration, data, runtime and settings live in ``tmp`` (a fresh temporary folder when
    None), so nothing of the user's own Jupyter set-up leaks in. Raises :class:`LabError` with the
    end of the server log if it does not answer within ``start_timeout_s``.
    """
    with contextlib.ExitStack() as stack:
        if tmp is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mktme-lab-")))
        port, token = free_port(), secrets.token_hex(16)
        env = {k: v for k, v in os.environ.items() if k not in ("MKTME_STATIC", "MPLBACKEND")}
        dirs = {name: tmp / name.lower() for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR")}
        for name, path in dirs.items():
            path.mkdir(exist_ok=True)
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
        log_path = tmp / "jupyterlab.log"
        log = stack.enter_context(open(log_path, "w"))
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.token={token}",
               f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
        # The kernels JupyterLab starts must find this environment's python first.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        tail = log_path.read_text()[-3000:]
                        raise LabError(f"JupyterLab did not start (exit {proc.poll()}):\n{tail}") from None
                    time.sleep(0.25)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def chromium():
    """Chromium or Chrome (:func:`find_chromium`), headless, through Playwright; yields a ``Browser``."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise LabError(NO_CHROMIUM)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# --------------------------------------------------------------------------- page scripts

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

#: The controls a widget container may hold, by kind: the element a learner moves.
CONTROLS = {
    "slider": ".widget-slider .noUi-handle",
    "select": ".widget-dropdown select, .widget-select select",
    "toggle": ".widget-toggle-buttons .widget-toggle-button, .widget-radio-box input",
    "checkbox": ".widget-checkbox input",
    "text": ".widget-text input, .widget-textarea textarea",
    "button": "button.jupyter-button",
}


def open_and_run(page, lab, relpath: str, run_timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Open ``relpath`` (relative to the repository) in JupyterLab, Run All, wait for every widget view."""
    base, token = lab
    page.goto(f"{base}/lab/tree/{relpath}?reset&token={token}")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the notebook
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(RUN_FINISHED, timeout=run_timeout_ms, polling=200)
    page.wait_for_function(WIDGETS_RENDERED, timeout=30_000, polling=200)


def kernel_execute(page, code: str, timeout_ms: int = 30_000) -> str:
    """Run ``code`` in the open notebook's kernel (not in a cell); return what it printed to stdout."""
    return page.evaluate("""async ([code, timeout]) => {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      const future = kernel.requestExecute({code, silent: false, store_history: false});
      let out = '';
      future.onIOPub = msg => {
        if (msg.header.msg_type === 'stream' && msg.content.name === 'stdout') out += msg.content.text;
        if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
      };
      await Promise.race([future.done, new Promise((_, no) => setTimeout(() => no('timeout'), timeout))]);
      return out;
    }""", [code, timeout_ms])


#: Text inside a ``.mktme-widget`` that does not fit its box: every element with a box whose content is
#: wider than the box (``scrollWidth > clientWidth``: labels, readouts, buttons, card paragraphs and
#: table cells, ...), and every dropdown option whose text is wider than the dropdown shows (a
#: ``<select>`` clips its chosen option without any scroll width, so its options are measured with the
#: select's own font). Returns one line per problem: widget title, element, text.
WIDGET_OVERFLOW = """() => {
  const problems = [];
  const ctx = document.createElement('canvas').getContext('2d');
  const px = v => parseFloat(v) || 0;
  const name = w => { const s = w.querySelector('strong'); return s ? s.textContent.trim() : 'a widget'; };
  const short = t => (t || '').replace(/\\s+/g, ' ').trim().slice(0, 80);
  for (const w of document.querySelectorAll('.jp-OutputArea-output .mktme-widget')) {
    for (const el of w.querySelectorAll('*')) {
      if (!el.getClientRects().length || el.tagName === 'SELECT' || el.tagName === 'OPTION') continue;
      const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
      if (!text || el.clientWidth === 0) continue;  // inline elements have no box of their own
      if (el.scrollWidth > el.clientWidth + 1)
        problems.push(`${name(w)}: <${el.tagName.toLowerCase()} class="${el.className}"> text does not fit `
                      + `its box (${el.scrollWidth} > ${el.clientWidth} px): "${short(el.textContent)}"`);
    }
    // Run-together labels: two texts of the controls (labels, buttons, readouts; not the output) on one
    // line whose drawn text overlaps or touches (< 2 px apart), e.g. "...swap-outSwap-in frame".
    const runs = [];
    const walker = document.createTreeWalker(w, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || el.closest('.mktme-widget-output, select, option')) continue;
      const range = document.createRange(); range.selectNodeContents(n);
      const box = el.closest('.widget-label, .widget-readout, button, label, .widget-html-content') || el;
      for (const r of range.getClientRects()) if (r.width > 0) runs.push({r, t: n.textContent, box});
    }
    for (let i = 0; i < runs.length; i++) for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i].r, b = runs[j].r;
      if (runs[i].box === runs[j].box) continue;  // inline runs of one label touch by design
      const sameLine = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > Math.min(a.height, b.height) / 2;
      const gap = Math.max(a.left, b.left) - Math.min(a.right, b.right);
      if (sameLine && gap < 2)
        problems.push(`${name(w)}: labels run together (${gap.toFixed(1)} px apart): "${short(runs[i].t)}" / `
                      + `"${short(runs[j].t)}"`);
    }
    for (const sel of w.querySelectorAll('select')) {
      if (!sel.getClientRects().length) continue;
      const cs = getComputedStyle(sel);
      ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      // The arrow sits in the right padding; the text gets the rest.
      const room = sel.clientWidth - px(cs.paddingLeft) - px(cs.paddingRight);
      for (const opt of sel.options) {
        const need = ctx.measureText(opt.text).width;
        if (need > room + 1)
          problems.push(`${name(w)}: dropdown option "${short(opt.text)}" is cut off when chosen `
                        + `(${Math.ceil(need)} > ${Math.floor(room)} px)`);
      }
    }
  }
  return problems;
}"""


# --------------------------------------------------------------------------- the dark theme (issue 11)

LIGHT_THEME, DARK_THEME = "JupyterLab Light", "JupyterLab Dark"


def set_theme(page, theme: str, timeout_ms: int = 20_000) -> None:
    """Switch the open JupyterLab to ``theme`` (``apputils:change-theme``, no reload) and wait for it.

    The choice is saved in the lab's throw-away user settings, so callers switch back when done."""
    page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    light = "true" if theme == LIGHT_THEME else "false"
    page.wait_for_function("l => document.body.dataset.jpThemeLight === l", arg=light, timeout=timeout_ms)
    page.wait_for_timeout(300)  # the theme's CSS variables apply after the attribute


#: Text that loses contrast (WCAG 2): every visible text node inside a widget view
#: (``.jupyter-widgets``: labels, readouts, buttons, the live output's cards) or an HTML output of a
#: cell (the course's cards and tables), its computed colour against its effective background (the
#: first ancestor with a non-transparent background, semi-transparent ones blended over what is under
#: them; the notebook's background if none). Needs 4.5:1, or 3:1 for large text (24 px, or 18.66 px
#: bold). And every <img> there must be opaque and light at its edges: a figure on a transparent
#: background shows the page through it, and its dark text vanishes on a dark page. One line per problem.
CONTRAST_PROBLEMS = """() => {
  const problems = [];
  const rgba = s => { const m = (s || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const over = (top, under) => { const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); };
  const nb = document.querySelector('.jp-NotebookPanel-notebook') || document.body;
  let page = rgba(getComputedStyle(nb).backgroundColor);
  if (!page || page[3] === 0) page = rgba(getComputedStyle(document.body).backgroundColor) || [255, 255, 255, 1];
  const background = el => { const layers = [];
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = page[3] >= 1 ? page : [255, 255, 255, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
    while (layers.length) bg = over(layers.pop(), bg);
    return bg; };
  const short = t => t.replace(/\\s+/g, ' ').trim().slice(0, 60);
  const roots = document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets, '
                                          + '.jp-OutputArea-output.jp-RenderedHTML');
  const seen = new Set();
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || seen.has(el) || !el.getClientRects().length) continue;
      seen.add(el);
      const cs = getComputedStyle(el);
      if (cs.visibility === 'hidden' || el.closest('option, style, script')) continue;
      let fg = rgba(cs.color); if (!fg) continue;
      const bg = background(el);
      if (fg[3] < 1) fg = over(fg, bg);
      const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
      const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
      const r = ratio(fg, bg);
      if (r < need)
        problems.push(`text "${short(n.textContent)}" in <${el.tagName.toLowerCase()} class="${el.className}"> `
          + `has contrast ${r.toFixed(2)}:1 < ${need}:1 (colour ${cs.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
    }
  }
  const canvas = document.createElement('canvas'), ctx = canvas.getContext('2d', {willReadFrequently: true});
  for (const img of document.querySelectorAll('.jp-OutputArea-output img')) {
    if (!img.complete || !img.naturalWidth || !img.getClientRects().length) continue;
    const w = img.naturalWidth, h = img.naturalHeight;
    canvas.width = w; canvas.height = h; ctx.clearRect(0, 0, w, h); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, w, h).data;
    let transparent = 0, dark = 0, edge = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      if (d[i + 3] < 255) transparent++;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) { edge++; if (lum([d[i], d[i+1], d[i+2]]) < 0.6) dark++; }
    }
    const what = `figure "${short(img.alt || img.src.slice(0, 40))}"`;
    if (transparent) problems.push(`${what} has ${transparent} transparent pixel(s): it needs an opaque background`);
    else if (dark > edge / 2) problems.push(`${what} has no light background of its own (dark edges)`);
  }
  return problems;
}"""
