"""p50/p95 of the lesson 04 cache stepper, and of the notebook cells that compute the lesson's tables.

``render`` is the pure function (a stored snapshot turned into an HTML card); ``update`` is what a
learner waits for after moving a control or pressing a step button: the same call through the widget
shell, which also builds the display bundle. The budget is 100 ms per update (DESIGN.md). Every
scenario is run once, on first use (``build``, timed separately with a cold cache); after that a
redraw never touches the machine, so stepping backwards costs what stepping forwards does.

The statistics and the tables are one notebook cell each, judged against a budget of a few seconds.
"""
from __future__ import annotations

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
    return results


if __name__ == "__main__":
    main()
