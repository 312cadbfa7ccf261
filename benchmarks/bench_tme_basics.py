"""p50/p95 of the widget of lesson 01 (TME basics): the DRAM probe.

Two numbers per widget setting:

* ``render``: the pure function alone (engine work + building the figure);
* ``update``: what a learner waits for after moving a control: the same call through the
  widget shell, which also encodes the PNG and builds the display bundle.

The budget is 100 ms per update (DESIGN.md); run with ``make bench`` or directly.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_widget_cases  # noqa: E402

from mktme_lite.widgets import tme_basics as tme_basics_w  # noqa: E402

CASES = {
    "dram_probe": (tme_basics_w.render_dram_probe, tme_basics_w.dram_probe, [
        {},
        {"address": 0x1080},
        {"key_mode": "bypass"},
        {"key_mode": "own_key", "message": "41 42 43 44", "fmt": "hex"},
        {"message": "x" * 70},  # refused input: the error path must be quick too
    ]),
}


def main() -> dict:
    return time_widget_cases(CASES)


if __name__ == "__main__":
    main()
