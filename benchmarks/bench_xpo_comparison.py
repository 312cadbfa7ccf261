"""p50/p95 of the lesson 07 cost/security explorer (and the tables the lesson shows).

``render`` is the pure function (price the cached event counts of every design, draw the bars and
the design's row of the security matrix as one figure); ``update`` adds the PNG and the display
bundle, what a learner waits for after changing a control. The budget is 100 ms per update.

The workload runs themselves (the kernel model faulting, flushing and reading pages under each
design, about 0.1-0.5 s each) are cached in mktme_lite.scenarios.costs and run once when the widget
is built; ``build`` times that first, cold start separately (one run, not a widget update).

The pictures are drawn without a matplotlib Axes (patches and glyph outlines placed on the figure
in inches): with an Axes, building it cost more than the whole picture (p50 about 60 ms of render
time on the loaded 2-core test machine, against about 10 ms without).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call, time_widget_cases  # noqa: E402

from mktme_lite.scenarios import costs, ret2dir  # noqa: E402
from mktme_lite.widgets import xpo_comparison as xpo_w  # noqa: E402

SETTINGS = [
    {},
    {"cpus": 4},
    {"ipi_ns": "2000"},
    {"design": "memfd_secret", "workload": "alloc_heavy"},
    {"design": "unmapped", "workload": "gup_heavy"},
    {"clflush_ns": "10", "fault_ns": "500"},
    {"ipi_ns": "fast"},  # refused input: the error path must be quick too
]


def main() -> dict:
    costs._run.cache_clear()
    ret2dir._row.cache_clear()
    ret2dir._ret2dir.cache_clear()
    t0 = time.perf_counter()
    xpo_w.xpo_explorer()
    build_ms = 1000 * (time.perf_counter() - t0)
    print(f"xpo_explorer() cold build (every workload run once): {build_ms:.0f} ms")
    results = {"cold build": {"ms": build_ms}}
    results.update(time_widget_cases({"xpo_explorer": (xpo_w.render_xpo_explorer, xpo_w.xpo_explorer, SETTINGS)}))
    for name, fn in (("render_price_table", xpo_w.render_price_table),
                     ("render_security_matrix", xpo_w.render_security_matrix),
                     ("render_cost_table", xpo_w.render_cost_table),
                     ("render_reference_table", xpo_w.render_reference_table)):
        results[name] = time_call(fn, label=name)
    return results


if __name__ == "__main__":
    main()
