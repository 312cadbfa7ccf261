"""Where one widget move's time goes, in the browser: input event -> message out -> kernel -> message in -> DOM.

bench_browser.py gives the whole round trip per control. This probe splits it for the controls of one
lesson (or one widget), on one clock (epoch milliseconds: the page's ``performance.timeOrigin + now``
and the kernel's ``time.time()``, the same machine):

- ``out``: the first websocket frame the page sends after the input event (the front end's share
  before the kernel can start);
- ``kernel``: the kernel starting the update (``TIMINGS[...]["t_wall"]``) and ending it;
- ``in``: the websocket frames received after that, their count and bytes (every comm message the
  move causes, the kernel's busy/idle status included);
- ``content``: the new content in the widget's output (as bench_browser.py's MutationObserver);
- ``prefetch``: whether a setting was being drawn ahead when the move reached the kernel
  (``PREFETCHES``), which makes the move wait.

    .venv/bin/python benchmarks/probe_roundtrip.py --lessons 08 --moves 8 [--widget "pmem lab"]

Not a test, and its numbers are noisy like bench_browser.py's; the counts (frames, bytes) are not.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_browser as bb  # noqa: E402
from lab_driver import chromium, kernel_execute, open_and_run, running_lab  # noqa: E402

from mktme_lite import course  # noqa: E402

WS_HOOK = """(() => {
  window.__ws = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const n = typeof data === 'string' ? data.length : (data.byteLength || data.size || 0);
    window.__ws.push(['out', performance.timeOrigin + performance.now(), n]);
    return send.call(this, data);
  };
  const add = WebSocket.prototype.addEventListener;
  const seen = new WeakSet();
  const hook = ws => {
    if (seen.has(ws)) return;
    seen.add(ws);
    add.call(ws, 'message', e => {
      const d = e.data;
      const n = typeof d === 'string' ? d.length : (d.byteLength || d.size || 0);
      window.__ws.push(['in', performance.timeOrigin + e.timeStamp, n]);
    });
  };
  WebSocket.prototype.addEventListener = function (t, f, o) { hook(this); return add.call(this, t, f, o); };
  const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    set(f) { hook(this); desc.set.call(this, f); }, get() { return desc.get.call(this); }});
})();"""


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def probe_control(page, c, output, moves, title, log):
    bb.wait_idle(page)
    c.original = c.state()
    kernel_execute(page, "from mktme_lite.widgets import TIMINGS as _T, PREFETCHES as _P\n_T.clear(); _P.clear()")
    rows = []
    for i in range(moves):
        bb.wait_idle(page)
        if c.disabled():
            break
        page.evaluate("() => { window.__ws = []; }")
        page.evaluate(bb.ARM, [c.container.element_handle(), output.element_handle(), bb.START_EVENTS[c.kind]])
        c.move(i)
        try:
            page.wait_for_function("() => window.__mktmeBench.done", timeout=bb.MOVE_TIMEOUT_MS, polling="raf")
        except Exception:
            rows.append(None)
            continue
        st = page.evaluate("() => [window.__mktmeBench, performance.timeOrigin, window.__ws]")
        bench, origin, ws = st
        rows.append({"t0": origin + bench["t0"], "content": origin + bench["content"], "ws": ws})
        time.sleep(0.05)
    bb.wait_idle(page)
    out = kernel_execute(page, "import json as _j\nfrom mktme_lite.widgets import TIMINGS as _T, PREFETCHES as _P\n"
                               "print(_j.dumps([list(_T), list(_P)]))\n_T.clear(); _P.clear()")
    timings, prefetches = json.loads(out)
    if c.restore():
        bb.wait_idle(page, 0.3)
    res = []
    for r in rows:
        if r is None:
            continue
        t0, content = r["t0"], r["content"]
        ups = [t for t in timings if t0 - 5 <= 1000 * t["t_wall"] <= content]
        outs = [t for d, t, n in r["ws"] if d == "out" and t >= t0 - 1]
        ins = [(t, n) for d, t, n in r["ws"] if d == "in" and t >= t0 and t <= content + 1]
        sent = outs[0] if outs else t0
        k0 = 1000 * ups[0]["t_wall"] - t0 if ups else None
        arrived = t0 + k0 if k0 is not None else content
        # a setting drawn ahead between the message leaving the page and the update starting held it up
        blocked = [p for p in prefetches if 1000 * p["t_wall"] < arrived and 1000 * p["t_end_wall"] > sent]
        k1 = 1000 * ups[-1]["t_end_wall"] - t0 if ups else None
        res.append({"total": content - t0, "out": (outs[0] - t0) if outs else None, "kernel_start": k0,
                    "kernel_end": k1, "updates": len(ups), "frames_in": len(ins),
                    "bytes_in": sum(n for _, n in ins), "last_in": (ins[-1][0] - t0) if ins else None,
                    "prefetch_blocked": bool(blocked),
                    "prefetch_ms": sum(1000 * (p["t_end_wall"] - p["t_wall"]) for p in blocked),
                    "cached": [u["cached"] for u in ups]})
    summary = {k: med([x[k] for x in res]) for k in ("total", "out", "kernel_start", "kernel_end", "last_in",
                                                       "frames_in", "bytes_in", "updates")}
    summary["prefetch_blocked"] = sum(x["prefetch_blocked"] for x in res)
    summary["n"] = len(res)
    log(f"  {title} / {c.label}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return {"control": c.label, "summary": summary, "moves": res}


def main(lessons, moves, widget=None, label="probe", log=print):
    stems = [course.lesson(n).stem for n in lessons]
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "load": os.getloadavg(), "lessons": {}}
    log(f"load {os.getloadavg()}")
    with running_lab() as lab, chromium() as browser:
        for stem in stems:
            log(f"== {stem}")
            context = browser.new_context(viewport=bb.VIEWPORT)
            context.add_init_script(WS_HOOK)
            page = context.new_page()
            try:
                open_and_run(page, lab, f"notebooks/{stem}.ipynb")
                containers = page.locator(".jp-OutputArea-output .mktme-widget")
                out = []
                for w in range(containers.count()):
                    container = containers.nth(w)
                    container.scroll_into_view_if_needed()
                    title = container.locator("strong").first.inner_text().strip()
                    if widget and widget.lower() not in title.lower():
                        continue
                    output = container.locator(".mktme-widget-output").first
                    later = []  # disabled now (a step button at its end): tried after the others, as the bench does
                    for kind, sel in bb.KINDS.items():
                        found = container.locator(sel)
                        for j in range(found.count()):
                            c = bb.Control(page, container, kind, found.nth(j))
                            if c.disabled():
                                later.append(c)
                                continue
                            out.append({"widget": title, **probe_control(page, c, output, moves, title, log)})
                    for c in later:
                        if not c.disabled():
                            out.append({"widget": title, **probe_control(page, c, output, moves, title, log)})
                report["lessons"][stem] = out
            finally:
                context.close()
    report["load_after"] = os.getloadavg()
    log(f"load after {report['load_after']}")
    bb.RESULTS.mkdir(exist_ok=True)
    (bb.RESULTS / f"probe_{label}.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lessons", nargs="+", required=True)
    ap.add_argument("--moves", type=int, default=8)
    ap.add_argument("--widget", help="only widgets whose title contains this")
    ap.add_argument("--label", default="probe")
    a = ap.parse_args()
    main(a.lessons, a.moves, a.widget, a.label)
