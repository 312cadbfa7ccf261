"""p50/p95 of every widget control in a real browser: input event -> new content in the widget's output.

The other bench scripts time the Python side of a widget update. What a learner waits for is
longer: the comm message to the kernel, the render, the PNG, the message back, and JupyterLab
replacing the output. This script measures that whole round trip in Debian's Chromium:

1. start a throw-away JupyterLab on 127.0.0.1 (free port, token, no browser, offline), the same way
   the browser test does (tests/browser/lab_driver.py);
2. open each written lesson (lessons.toml via :mod:`mktme_lite.course`) and Run All;
3. for EVERY control of every ``.mktme-widget`` container (sliders, dropdowns, toggle buttons,
   checkboxes, text boxes, buttons) move it ``--moves`` times (default 20), one move at a time,
   waiting for the kernel to be idle in between, then put it back where it was. A control the widget
   has disabled (it would change nothing in that state: the stepper's "◀ step back" at step 0, its
   prediction outside predict mode) is not moved, since no redraw can follow; it is tried again after
   the widget's other controls, and reported under ``skipped`` if still disabled. A button that
   becomes disabled while it is moved (a step button at its end) is rewound: the widget's other
   controls, except buttons and controls disabled then, are put back, untimed, where they stood when
   its timing began, and it goes on, so it too gets ``--moves`` moves (a p95 over the stepper's 7
   steps was its slowest move); ``rewinds`` counts that. A button still disabled after a rewind, and
   any other control that becomes disabled, stops there;
4. per move, in the page: the input event's ``timeStamp`` (keydown of the arrow key or Enter, the
   dropdown's change, the click) -> the first DOM mutation of the ``.mktme-widget-output`` that
   brings new content (``content``; a page panel's "Drawing this setting..." placeholder,
   ``.mktme-pending``, does not count: the clock runs until the picture is there) -> every ``<img>`` in it decoded (``decoded``) -> the next
   animation frame (``frame``), all on ``performance.now()``'s clock (a MutationObserver);
5. per control, from the kernel (``mktme_lite.widgets.TIMINGS``): the Python render, the bundle (PNG
   encode + base64), sending the output, and the bytes sent, so the round trip can be split.

It reports p50/p95 per control against the 100 ms budget, the machine (cores, CPU model) and the
load average before and after, and saves everything as JSON under benchmarks/results/
(``browser_<label>.json``; ``make bench`` also keeps the last run as ``bench_browser.json``).
Without Chromium, :func:`main` returns ``{"skipped": ...}`` so ``make bench`` runs on.

    .venv/bin/python benchmarks/bench_browser.py                 # every lesson, 20 moves
    .venv/bin/python benchmarks/bench_browser.py --lessons 02 03 --moves 10 --label after
    .venv/bin/python benchmarks/bench_browser.py --compare results/browser_before.json results/browser_after.json

Not a test: timings on a shared 2-core machine are too noisy to gate on (benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT))

from lab_driver import (CHROMIUM, KERNEL_IDLE, VIEWPORT, chromium, kernel_execute,  # noqa: E402
                        open_and_run, running_lab)

from mktme_lite import course  # noqa: E402

BUDGET_MS = 100.0
MOVE_TIMEOUT_MS = 10_000

#: One entry per control kind: the element that holds one control inside a widget container.
KINDS = {
    "slider": ".widget-slider",
    "select": ".widget-dropdown",
    "toggle": ".widget-toggle-buttons",
    "checkbox": ".widget-checkbox",
    "text": ".widget-text, .widget-textarea",
    "button": "button.jupyter-button:not(.widget-toggle-button)",
}
#: The input event a move starts with, per kind (the first such event after arming is t0).
START_EVENTS = {"slider": ["keydown"], "select": ["change"], "toggle": ["click"], "checkbox": ["click"],
                "text": ["keydown"], "button": ["click"]}

ARM = """([container, output, events]) => {
  const st = {t0: null, content: null, decoded: null, frame: null, error: false, done: false, html: 0};
  window.__mktmeBench = st;
  const start = e => {
    if (st.t0 !== null) return;
    if (e.type === 'keydown' && !['ArrowLeft', 'ArrowRight', 'Enter'].includes(e.key)) return;
    st.t0 = e.timeStamp;
  };
  events.forEach(t => container.addEventListener(t, start, true));
  const finish = async () => {
    obs.disconnect();
    events.forEach(t => container.removeEventListener(t, start, true));
    await Promise.all([...output.querySelectorAll('img')].map(i => i.decode().catch(() => null)));
    st.decoded = performance.now();
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    st.frame = performance.now();
    st.error = !!output.querySelector('.mktme-widget-error');
    st.html = output.innerHTML.length;
    st.done = true;
  };
  const obs = new MutationObserver(records => {
    if (st.t0 === null || st.content !== null) return;
    const fresh = records.some(r => r.addedNodes.length || (r.type === 'attributes' && r.attributeName === 'src'));
    const shown = output.querySelector('.jp-OutputArea-output, img, .widget-html-content');
    // A page panel's leaf not drawn yet says "Drawing this setting..." (.mktme-pending): not the picture.
    const pending = !!output.querySelector('.mktme-pending');
    if (fresh && shown && !pending && (shown.childNodes.length || shown.tagName === 'IMG')) {
      st.content = performance.now();
      finish();
    }
  });
  obs.observe(output, {childList: true, subtree: true, characterData: true, attributes: true,
                       attributeFilter: ['src']});
}"""

STATE = "() => window.__mktmeBench"


# --------------------------------------------------------------------------- machine

def nodelay_on() -> bool:
    """Whether the lab this bench starts sets TCP_NODELAY on its kernel websockets: the course's server
    extension is enabled in this environment (tools/lab_settings.py) and MKTME_NODELAY is not 0."""
    sys.path.insert(0, str(HERE.parent / "tools"))
    import lab_settings

    return (lab_settings.server_config_path(Path(sys.prefix)).exists()
            and os.environ.get("MKTME_NODELAY", "1").strip() != "0")


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "chromium": CHROMIUM, "load_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def stats(samples: list[float]) -> dict:
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    s = sorted(samples)
    return {"p50_ms": round(statistics.median(s), 1),
            "p95_ms": round(s[min(len(s) - 1, round(0.95 * (len(s) - 1)))], 1), "n": len(s)}


# --------------------------------------------------------------------------- moving controls

class Control:
    """One control of one widget container, and how to move it and put it back."""

    def __init__(self, page, container, kind: str, locator):
        self.page, self.container, self.kind, self.loc = page, container, kind, locator
        label = locator.locator(".widget-label").first
        self.label = (label.inner_text().strip() if label.count() else "") or \
            (locator.inner_text().strip() if kind == "button" else kind)
        self.direction = 1
        self.original = self.state()

    def state(self):
        k, loc = self.kind, self.loc
        if k == "slider":
            return int(float(loc.locator(".noUi-handle").first.get_attribute("aria-valuenow")))
        if k == "select":
            return loc.locator("select").evaluate("el => el.selectedIndex")
        if k == "toggle":
            return loc.locator(".widget-toggle-button").evaluate_all(
                "bs => bs.findIndex(b => b.classList.contains('mod-active'))")
        if k == "checkbox":
            return loc.locator("input").is_checked()
        if k == "text":
            return loc.locator("input, textarea").first.input_value()
        return None

    def disabled(self) -> bool:
        """The widget disabled this control: moving it would change nothing (a step button at its end,
        a prediction outside predict mode), so no redraw can be waited for."""
        return bool(self.loc.evaluate("el => el.matches(':disabled') || !!el.querySelector(':disabled, [disabled]')"))

    def move(self, i: int) -> None:
        """The i-th move: a step that always changes the value (sliders bounce at their ends)."""
        k, loc, page = self.kind, self.loc, self.page
        if k == "slider":
            handle = loc.locator(".noUi-handle").first
            now, lo, hi = (int(float(handle.get_attribute(a))) for a in
                           ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
            if now >= hi:
                self.direction = -1
            elif now <= lo:
                self.direction = 1
            handle.focus()
            page.keyboard.press("ArrowRight" if self.direction > 0 else "ArrowLeft")
        elif k == "select":
            sel = loc.locator("select")
            n = sel.locator("option").count()
            sel.select_option(index=(sel.evaluate("el => el.selectedIndex") + 1) % max(n, 1))
        elif k == "toggle":
            buttons = loc.locator(".widget-toggle-button")
            buttons.nth((self.state() + 1) % buttons.count()).click()
        elif k == "checkbox":
            loc.locator("input").click()
        elif k == "text":
            box = loc.locator("input, textarea").first
            box.fill(self.original + ("!" if i % 2 == 0 else ""))
            box.press("Enter")
        else:
            loc.click()

    def restore(self) -> bool:
        """Put the control back to its first value; True if that needed a move (and an update)."""
        k, loc = self.kind, self.loc
        if k in ("button",) or self.state() == self.original:
            return False
        if k == "slider":
            handle = loc.locator(".noUi-handle").first
            handle.focus()
            for _ in range(100):  # a slider whose range shrank meanwhile cannot get all the way back
                if (now := self.state()) == self.original:
                    break
                self.page.keyboard.press("ArrowRight" if now < self.original else "ArrowLeft")
                wait_idle(self.page)
                if self.state() == now:
                    break
        elif k == "select":
            if self.original >= loc.locator("select option").count():
                return False
            loc.locator("select").select_option(index=self.original)
        elif k == "toggle":
            loc.locator(".widget-toggle-button").nth(self.original).click()
        elif k == "checkbox":
            loc.locator("input").click()
        elif k == "text":
            box = loc.locator("input, textarea").first
            box.fill(self.original)
            box.press("Enter")
        return True


def wait_idle(page, settle_s: float = 0.05) -> None:
    time.sleep(settle_s)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000, polling=20)
    time.sleep(settle_s)


def timed_move(page, control: Control, output, i: int) -> dict:
    page.evaluate(ARM, [control.container.element_handle(), output.element_handle(), START_EVENTS[control.kind]])
    control.move(i)
    try:
        page.wait_for_function("() => window.__mktmeBench.done", timeout=MOVE_TIMEOUT_MS, polling="raf")
    except Exception:
        st = page.evaluate(STATE)
        return {"timeout": True, "started": st["t0"] is not None}
    st = page.evaluate(STATE)
    return {"content": st["content"] - st["t0"], "decoded": st["decoded"] - st["t0"],
            "frame": st["frame"] - st["t0"], "error": st["error"], "html_chars": st["html"]}


def kernel_timings(page) -> list[dict]:
    out = kernel_execute(page, "import json as _j\nfrom mktme_lite.widgets import TIMINGS as _T\n"
                               "print(_j.dumps(list(_T)))\n_T.clear()")
    try:
        return json.loads(out)
    except ValueError:
        return []


def rewind(page, others: list[Control], states: list) -> bool:
    """Put the widget's other controls back where they stood (``states``), untimed; True if one moved."""
    moved = False
    for o, was in zip(others, states):
        if o.kind == "button" or o.disabled():
            continue
        kept, o.original = o.original, was
        try:
            if o.restore():
                moved = True
                wait_idle(page, 0.3)
        finally:
            o.original = kept
    return moved


def time_control(page, c: Control, output, moves: int, title: str, log,
                 others: list[Control] = ()) -> dict:
    """``moves`` timed moves of one control, then the control put back; its entry for the report.

    A button the widget disables on the way (a step button at the last step) is rewound: ``others``,
    the widget's other controls, go back where they stood when this began (untimed), and the moves go
    on; fewer moves only if that does not enable it again."""
    wait_idle(page)
    c.original = c.state()  # where this control stands now (another control may have moved it)
    others = [o for o in others if o is not c]
    states = [o.state() for o in others]
    kernel_timings(page)
    samples, rewinds, py = [], 0, []
    for i in range(moves):
        wait_idle(page)
        if c.disabled() and c.kind == "button":
            py += kernel_timings(page)  # the moves' updates so far; the rewind's are not this control's
            if rewind(page, others, states):
                rewinds += 1
                wait_idle(page)
            kernel_timings(page)
        if c.disabled():  # e.g. "step ▶" at the last step, and nothing to rewind: no move can redraw
            break
        samples.append(timed_move(page, c, output, i))
    py += kernel_timings(page)
    if c.restore():
        wait_idle(page, 0.3)
    ok = [s for s in samples if not s.get("timeout")]
    # Moves the widget's cache answered are fast for a reason a first visit does not share:
    # "cold" is the same numbers over the moves that rendered (when updates and moves pair up).
    paired = len(py) == len(ok)
    cold = [s["content"] for s, t in zip(ok, py) if not t.get("cached")] if paired else None
    entry = {"control": c.label, "kind": c.kind, "moves": len(samples), "rewinds": rewinds,
             "timeouts": len(samples) - len(ok), "error_cards": sum(s["error"] for s in ok),
             **{k: stats([s[k] for s in ok]) for k in ("content", "decoded", "frame")},
             "cold": stats(cold) if cold is not None else None,
             "cache_hits": sum(bool(t.get("cached")) for t in py),
             "page_hits": sum(bool(t.get("front")) for t in py),
             "python": {k: stats([t[k] for t in py if not t.get("cached")])
                        for k in ("render_ms", "bundle_ms", "send_ms", "cpu_ms")},
             "bytes_p50": int(statistics.median([t["bytes"] for t in py])) if py else None,
             "samples_ms": [round(s["content"], 1) for s in ok]}
    flag = "ok" if entry["content"]["p95_ms"] is not None and entry["content"]["p95_ms"] <= BUDGET_MS \
        else "OVER"
    log(f"  {title} / {c.label} ({c.kind}): p50 {entry['content']['p50_ms']} ms, "
        f"p95 {entry['content']['p95_ms']} ms [frame p95 {entry['frame']['p95_ms']}; "
        f"cold p95 {(entry['cold'] or {}).get('p95_ms')} over {(entry['cold'] or {}).get('n')}], "
        f"python render p50 {entry['python']['render_ms']['p50_ms']} + bundle "
        f"{entry['python']['bundle_ms']['p50_ms']} + send {entry['python']['send_ms']['p50_ms']} ms "
        f"(CPU p50 {entry['python']['cpu_ms']['p50_ms']}, p95 {entry['python']['cpu_ms']['p95_ms']} ms; "
        f"rendered moves only), "
        f"{entry['bytes_p50']} bytes; {entry['page_hits']} moves the page had drawn; {rewinds} rewinds; {entry['timeouts']} timeouts, {entry['error_cards']} error cards "
        f"{flag}")
    return entry


def bench_lesson(page, lab, stem: str, moves: int, log) -> dict:
    t0 = time.perf_counter()
    open_and_run(page, lab, f"notebooks/{stem}.ipynb")
    ran_s = time.perf_counter() - t0
    kernel_timings(page)  # forget the updates of Run All
    containers = page.locator(".jp-OutputArea-output .mktme-widget")
    widgets = []
    for w in range(containers.count()):
        container = containers.nth(w)
        container.scroll_into_view_if_needed()
        title = container.locator("strong").first
        title = title.inner_text().strip() if title.count() else f"widget #{w + 1}"
        output = container.locator(".mktme-widget-output").first
        controls = []
        for kind, sel in KINDS.items():
            found = container.locator(sel)
            for j in range(found.count()):
                controls.append(Control(page, container, kind, found.nth(j)))
        result = {"title": title, "controls": []}
        # A disabled control is one the widget says would change nothing now (e.g. the stepper's
        # "◀ step back" at step 0, its prediction outside predict mode): moving it cannot redraw, so it
        # is not timed then. It is tried again once after the other controls moved (they may have
        # enabled it), and reported as skipped if it is still disabled.
        pending = list(controls)
        for _ in range(2):
            later = []
            for c in pending:
                wait_idle(page)
                if c.disabled():
                    later.append(c)
                    continue
                result["controls"].append(time_control(page, c, output, moves, title, log, controls))
            pending = later
        for c in pending:
            log(f"  {title} / {c.label} ({c.kind}): skipped, disabled by the widget (it would change nothing in "
                "this state)")
            result["controls"].append({"control": c.label, "kind": c.kind, "moves": 0,
                                       "skipped": "disabled by the widget: moving it would change nothing"})
        widgets.append(result)
    return {"run_all_s": round(ran_s, 1), "widgets": widgets}


def main(lessons: list[str] | None = None, moves: int = 20, label: str | None = None, width: int | None = None,
         log=print) -> dict:
    """Benchmark every control of every widget of ``lessons`` (numbers or stems; default: every written one)."""
    if not os.path.exists(CHROMIUM):
        log(f"skipped: no Chromium at {CHROMIUM} (apt-get install chromium, or set MKTME_CHROMIUM)")
        return {"skipped": f"no Chromium at {CHROMIUM}"}
    stems = [course.lesson(n).stem for n in lessons] if lessons else [e.stem for e in course.written()]
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "moves": moves, "budget_ms": BUDGET_MS,
              "viewport": {**VIEWPORT, **({"width": width} if width else {})}, "machine": machine(),
              "draw_ahead": os.environ.get("MKTME_DRAW_AHEAD", "1").strip() != "0",
              "nodelay": nodelay_on(), "lessons": {}}
    log(f"machine: {report['machine']['cores']} cores, {report['machine']['cpu']}, "
        f"load {report['machine']['load_1_5_15']}; drawing ahead {'on' if report['draw_ahead'] else 'off'}; "
        f"kernel websockets {'with' if report['nodelay'] else 'without'} TCP_NODELAY (mktme_lite_lab)")
    with running_lab() as lab, chromium() as browser:
        for stem in stems:
            log(f"== {stem}")
            context = browser.new_context(viewport=report["viewport"])
            page = context.new_page()
            try:
                report["lessons"][stem] = bench_lesson(page, lab, stem, moves, log)
            finally:
                context.close()
    report["load_after_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    every = [(stem, w, c) for stem, lr in report["lessons"].items() for w in lr["widgets"] for c in w["controls"]]
    worst = [(c["content"]["p95_ms"] or 1e9, f"{stem} / {w['title']} / {c['control']}")
             for stem, w, c in every if "skipped" not in c]
    over = [name for p95, name in worst if p95 > BUDGET_MS]
    report["over_budget"] = over
    report["skipped"] = [f"{stem} / {w['title']} / {c['control']}" for stem, w, c in every if "skipped" in c]
    log(f"load after: {report['load_after_1_5_15']}; {len(worst)} controls, {len(over)} over "
        f"{BUDGET_MS:.0f} ms p95" + (": " + "; ".join(over) if over else "")
        + (f"; {len(report['skipped'])} skipped (disabled): " + "; ".join(report["skipped"])
           if report["skipped"] else ""))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"browser_{label or time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1))
    log(f"saved {out.relative_to(ROOT)}")
    return report


def compare(before: Path, after: Path, log=print) -> list[dict]:
    """A per-control table of two saved runs: p50/p95 before -> after (and the cold p95 after)."""
    runs = [json.loads(Path(f).read_text()) for f in (before, after)]
    for name, run in zip(("before", "after"), runs):
        m = run["machine"]
        log(f"{name}: {run['when']}, {m['cores']} cores {m['cpu']}, load {m['load_1_5_15']} -> "
            f"{run.get('load_after_1_5_15')}, {run['moves']} moves")

    def controls(run):
        return {(stem, w["title"], c["control"]): c for stem, lr in run["lessons"].items()
                for w in lr["widgets"] for c in w["controls"]}

    old, new = controls(runs[0]), controls(runs[1])
    rows = []
    log(f"{'widget / control':44} {'p50 before':>10} {'p95 before':>10} {'p50 after':>10} {'p95 after':>10} "
        f"{'cold p95':>9}")
    for key in list(dict.fromkeys([*old, *new])):
        a, b = old.get(key, {}), new.get(key, {})
        row = {"control": " / ".join(key[1:]), "lesson": key[0],
               "before": a.get("content"), "after": b.get("content"), "after_cold": b.get("cold")}
        rows.append(row)

        def f(d, k):
            return f"{d[k]:.0f}" if d and d.get(k) is not None else "-"
        log(f"{row['control'][:44]:44} {f(a.get('content'), 'p50_ms'):>10} {f(a.get('content'), 'p95_ms'):>10} "
            f"{f(b.get('content'), 'p50_ms'):>10} {f(b.get('content'), 'p95_ms'):>10} {f(b.get('cold'), 'p95_ms'):>9}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                    help="print a per-control table of two saved runs instead of measuring")
    ap.add_argument("--lessons", nargs="*", help="lesson numbers or stems (default: every written lesson)")
    ap.add_argument("--moves", type=int, default=20, help="moves per control (default 20)")
    ap.add_argument("--label", help="name of the JSON file under benchmarks/results/ (default: the time)")
    ap.add_argument("--no-draw-ahead", action="store_true",
                    help="run the lab's kernels with MKTME_DRAW_AHEAD=0 (no neighbour settings drawn in idle time)")
    ap.add_argument("--no-nodelay", action="store_true",
                    help="run the lab with MKTME_NODELAY=0 (the course's server extension leaves Nagle's "
                         "algorithm on the kernel websockets, as a plain jupyter_server does)")
    args = ap.parse_args()
    if args.no_nodelay:
        os.environ["MKTME_NODELAY"] = "0"  # the lab inherits it: mktme_lite_lab leaves Nagle on
    if args.no_draw_ahead:
        os.environ["MKTME_DRAW_AHEAD"] = "0"  # the lab and its kernels inherit it (lab_driver)
    if args.compare:
        compare(*map(Path, args.compare))
    else:
        main(args.lessons, args.moves, args.label)
