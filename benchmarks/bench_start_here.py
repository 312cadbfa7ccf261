"""p50/p95 of the widget of lesson 00 (start here): the claim map.

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

from mktme_lite.widgets import start_here  # noqa: E402

CASES = {
    "claim_map": (start_here.render_claim_card, start_here.claim_map, [{}, {"claim": "C5"}]),
}


def main() -> dict:
    return time_widget_cases(CASES)


if __name__ == "__main__":
    main()
