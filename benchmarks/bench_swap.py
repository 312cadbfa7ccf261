"""p50/p95 of the lesson 05 swap lab (and the table of all 16 settings).

``render`` is the pure function (a cached swap run, three byte grids of two lines each and four
sentences); ``update`` is what a learner waits for after moving a control: the same call through
the widget shell, which also encodes the PNG. The budget is 100 ms per update (DESIGN.md).

The 16 swap runs are cached in ``scenarios.swap`` (``lru_cache``): the first call of a setting
boots a kernel and swaps a page out and in (about 20 ms), every later one is a dictionary look-up.
``all_runs (first time)`` times the 16 runs from a cold cache, once: what the lesson's first
widget cell pays. ``seal one page`` is what encrypted swap adds to a swap-out in the model (one
software AES-XTS pass over 4096 bytes); not a widget update.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call, time_widget_cases  # noqa: E402

from mktme_lite.scenarios import swap  # noqa: E402
from mktme_lite.widgets import swap as swap_w  # noqa: E402

SETTINGS = [
    {},
    {"frame": "same"},
    {"frame": "same", "flush": True},
    {"path": "page_keyid", "flush": True},
    {"path": "page_keyid", "encrypted": True},
    {"path": "keyid1"},  # refused input: the error path must be quick too
]


def _cold_runs():
    swap._swap_run.cache_clear()
    swap._prepared.cache_clear()
    return swap.all_runs()


def main() -> dict:
    results = {"all_runs (first time)": time_call(_cold_runs, repeat=3, warmup=0, budget_ms=2000,
                                                  label="all_runs (16 settings, cold cache)")}
    results.update(time_widget_cases({"swap_lab": (swap_w.render_swap_lab, swap_w.swap_lab, SETTINGS)}))
    runs = swap.all_runs()
    results["render_swap_table"] = time_call(lambda: swap_w.render_swap_table(runs), label="render_swap_table")
    key, page = bytes(range(32)), swap.PAGE_TEXT
    results["seal one page"] = time_call(lambda: swap.seal(key, page), label="seal one page (encrypted swap)")
    return results


if __name__ == "__main__":
    main()
