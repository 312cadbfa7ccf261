"""p50/p95 of the lesson 06 race explorer.

``render`` is the pure function (the remembered exploration, a replay, the figure); ``update`` is
what a learner waits for after moving a control: the same call through the widget shell, which
also encodes the PNG. The budget is 100 ms per update (DESIGN.md).

Every exploration is remembered per (scenario, scope) (``races.explored``): the first visit of a
scenario under a scope pays for the explorer once (``first visit`` below, up to a few hundred
milliseconds for rotate_safe_retry under the platform scope); every later redraw reuses it.
``time_widget_cases`` warms up first, so its numbers are those later redraws.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_widget_cases  # noqa: E402

from mktme_lite.machine import KEYTABLE_SCOPES  # noqa: E402
from mktme_lite.scenarios import races  # noqa: E402
from mktme_lite.widgets import pconfig_races as races_w  # noqa: E402

SETTINGS = [
    {},
    {"step": 3},
    {"scenario": "rotate_no_barrier", "scope": "writer"},
    {"scenario": "rotate_safe", "scope": "platform"},  # the longest interleaving of a safe rotation
    {"scenario": "rotate_safe_retry", "scope": "platform", "group": 1},  # 26 steps, the tallest picture
    {"scenario": "busy_retry", "scope": "home", "group": 2},
    {"group": 9},  # refused: the error path must be quick too
]


def first_visits() -> dict:
    """What the first redraw of each scenario and scope costs: the exploration itself, once."""
    out = {}
    for name, scen in races.SCENARIOS.items():
        for scope in KEYTABLE_SCOPES:
            t0 = time.perf_counter()
            races.explore(scen, scope)
            out[f"{name}/{scope}"] = 1e3 * (time.perf_counter() - t0)
    worst = max(out, key=out.get)
    print(f"first visit (explore once per scenario x scope): worst {worst} {out[worst]:.0f} ms")
    return out


def main() -> dict:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = time_widget_cases({"race_explorer": (races_w.render_race_explorer, races_w.race_explorer, SETTINGS)})
    results["first visit"] = first_visits()
    return results


if __name__ == "__main__":
    main()
