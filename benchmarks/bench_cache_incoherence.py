"""p50/p95 of the lesson 04 cache stepper, and of the notebook cells that compute the lesson's tables.

``render`` is the pure function (a stored snapshot turned into an HTML card); ``update`` is what a
learner waits for after moving a control or pressing a step button: the same call through the widget
shell, which also builds the display bundle. The budget is 100 ms per update (DESIGN.md). Every
scenario is run once, on first use (``build``, timed separately with a cold cache); after that a
redraw never touches the machine, so stepping backwards costs what stepping forwards does.

The statistics and the tables are one notebook cell each, judged against a budget of a few seconds.

``python benchmarks/bench_cache_incoherence.py --browser`` (or ``MKTME_BENCH_BROWSER=1``) also measures the
stepper in Chromium: a throw-away JupyterLab (as the browser test starts it) runs a one-cell notebook with the
stepper, and the page clicks "step ▶" and "◀ step back" in turn, 40 times (2 -> 3 -> 2: never at an end, where the
widget disables the button because it would change nothing), then switches to "predict before you step" and changes
"Your prediction" 40 times on step 2, a read (outside predict mode the widget disables it: it changes nothing there),
timing each move until the widget's output has changed in the DOM (a MutationObserver): the round trip through the
comm, the kernel, the render and the front end that a learner waits for. Needs /usr/bin/chromium (or ``MKTME_CHROMIUM``); never ``playwright install``.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call, time_widget_cases  # noqa: E402

from mktme_lite.scenarios import incoherence as inc  # noqa: E402
from mktme_lite.widgets import cache_incoherence as cw  # noqa: E402

SETTINGS = [
    {},
    {"scenario": "c6", "step": 8},
    {"scenario": "c6", "step": 9},
    {"scenario": "protocol", "step": 16},
    {"scenario": "speculative", "step": 5, "mode": "predict"},
    {"scenario": "speculative", "step": 5, "mode": "predict", "prediction": "garbage"},
    {"scenario": "c5", "step": 99},  # refused input: the error path must be quick too
]


ROOT = Path(__file__).resolve().parents[1]
CLICKS_JS = """async (n) => {
  const c = document.querySelector('.jp-OutputArea-output .mktme-widget');
  const out = c.querySelector('.mktme-widget-output');
  const buttons = [...c.querySelectorAll('button')];
  const fwd = buttons.find(b => b.textContent.includes('step ▶'));
  const back = buttons.find(b => b.textContent.includes('step back'));
  const times = [];
  for (let i = 0; i < n; i++) {
    const btn = i % 2 === 0 ? fwd : back;  // 2 -> 3 -> 2 ...: never at an end of the slider
    const before = out.innerHTML;
    const done = new Promise(res => {
      const mo = new MutationObserver(() => {
        if (out.innerHTML !== before && out.children.length) { mo.disconnect(); res(); }
      });
      mo.observe(out, {childList: true, subtree: true, characterData: true});
    });
    const t0 = performance.now();
    btn.click();
    const late = new Promise(res => setTimeout(() => res("timeout"), 10000));
    if (await Promise.race([done, late]) === "timeout") { times.push(-1); continue; }
    times.push(performance.now() - t0);
    await new Promise(r => setTimeout(r, 60));
  }
  return times;
}"""

#: The prediction drop-down, in predict mode on a step with a read (step 2 of C5): each change redraws
#: (the card says what was predicted). Outside predict mode the widget disables it: it changes nothing.
PREDICT_JS = """async (n) => {
  const c = document.querySelector('.jp-OutputArea-output .mktme-widget');
  const out = c.querySelector('.mktme-widget-output');
  const changed = (before) => new Promise(res => {
    const mo = new MutationObserver(() => {
      if (out.innerHTML !== before && out.children.length) { mo.disconnect(); res(); }
    });
    mo.observe(out, {childList: true, subtree: true, characterData: true});
  });
  const mode = [...c.querySelectorAll('.widget-toggle-button')].find(b => b.textContent.includes('predict'));
  let before = out.innerHTML;
  if (!mode.classList.contains('mod-active')) { const d = changed(before); mode.click(); await d; }
  const sel = [...c.querySelectorAll('.widget-dropdown')].find(d => d.textContent.includes('Your prediction'))
    .querySelector('select');
  await new Promise(r => setTimeout(r, 300));
  if (sel.disabled) return ["disabled"];
  const times = [];
  for (let i = 0; i < n; i++) {
    before = out.innerHTML;
    const done = changed(before);
    const t0 = performance.now();
    sel.selectedIndex = (sel.selectedIndex + 1) % sel.options.length;
    sel.dispatchEvent(new Event('change', {bubbles: true}));
    const late = new Promise(res => setTimeout(() => res("timeout"), 10000));
    if (await Promise.race([done, late]) === "timeout") { times.push(-1); continue; }
    times.push(performance.now() - t0);
    await new Promise(r => setTimeout(r, 60));
  }
  return times;
}"""


def _p(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def browser(clicks: int = 40) -> dict:
    """p50/p95 of a stepper click in Chromium, from the click to the changed output in the DOM.

    JupyterLab and Chromium start as the browser test starts them (tests/browser/lab_driver.py)."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from lab_driver import VIEWPORT, chromium, open_and_run, running_lab

    bench_dir = ROOT / "artifacts" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "0", "metadata": {}, "outputs": [],
                     "source": "from mktme_lite.widgets.cache_incoherence import cache_stepper\ncache_stepper()"}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (bench_dir / "stepper.ipynb").write_text(json.dumps(nb))
    with running_lab() as lab, chromium() as b:
        page = b.new_page(viewport=VIEWPORT)
        open_and_run(page, lab, "artifacts/bench/stepper.ipynb")
        page.wait_for_selector(".jp-OutputArea-output .mktme-widget .mktme-widget-output *", state="attached",
                               timeout=60_000)
        print("stepper shown; clicking", flush=True)
        page.evaluate(CLICKS_JS, 6)  # warm-up (an even number: back where it started)
        times = sorted(page.evaluate(CLICKS_JS, clicks))
        if min(times) < 0:
            raise RuntimeError(f"{times.count(-1)} click(s) did not change the output within 10 s")
        guesses = page.evaluate(PREDICT_JS, clicks)
        if guesses == ["disabled"]:
            raise RuntimeError("'Your prediction' is disabled in predict mode on step 2 (a read)")
        if min(guesses) < 0:
            raise RuntimeError(f"{guesses.count(-1)} prediction change(s) did not change the output within 10 s")
    p50, p95 = _p(times)
    verdict = "ok" if p95 <= 100 else "OVER the 100 ms budget"
    print(f"Chromium: stepper click -> output changed: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({clicks} clicks) {verdict}")
    g50, g95 = _p(guesses)
    print(f"Chromium: prediction (predict mode, step 2) -> output changed: p50 {g50:.1f} ms, p95 {g95:.1f} ms "
          f"({clicks} changes) {'ok' if g95 <= 100 else 'OVER the 100 ms budget'}")
    return {"p50_ms": p50, "p95_ms": p95, "runs": clicks, "prediction": {"p50_ms": g50, "p95_ms": g95, "runs": clicks}}


def main() -> dict:
    results = {}
    inc._stepper.cache_clear()
    t0 = time.perf_counter()
    for name in inc.STEPPER_SCENARIOS:
        inc.stepper(name)
    build = (time.perf_counter() - t0) * 1e3
    print(f"build every stepper scenario once (cold): {build:.0f} ms")
    results["build all steppers (cold, once)"] = {"ms": build}
    results.update(time_widget_cases({"cache_stepper": (cw.render_cache_stepper, cw.cache_stepper, SETTINGS)}))
    w = cw.cache_stepper()
    w.set(scenario="protocol")

    def step_forward_and_back():
        w.buttons[1].click()
        w.buttons[0].click()

    results["button: step forward then back (2 updates)"] = time_call(
        step_forward_and_back, label="button: step forward then back (2 updates)", budget_ms=200)
    results["corruption_stats (lesson cell)"] = time_call(lambda: inc.corruption_stats(runs=40), repeat=3, warmup=0,
                                                          budget_ms=20_000, label="corruption_stats(runs=40)")
    results["protocol + instruction_table + coherent_rerun"] = time_call(
        lambda: (inc.protocol(), inc.instruction_table(), inc.coherent_rerun()), repeat=5, budget_ms=3000,
        label="protocol + instruction_table + coherent_rerun")
    pts = inc.corruption_stats(runs=10)
    # One notebook cell (a PNG), not a widget update: judged against 1 s.
    results["render_corruption_plot"] = time_call(lambda: cw.render_corruption_plot(pts), budget_ms=1000,
                                                  label="render_corruption_plot (one cell)")
    if "--browser" in sys.argv or os.environ.get("MKTME_BENCH_BROWSER"):
        results["Chromium: stepper click to changed output"] = browser()
    return results


if __name__ == "__main__":
    main()
