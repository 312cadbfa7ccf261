"""p50/p95 of lesson 00's widget, the claim map (render and update, as bench_tme_basics.py explains)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_widget_cases  # noqa: E402

from mktme_lite.widgets import start_here  # noqa: E402

CASES = {"claim_map": (start_here.render_claim_card, start_here.claim_map, [{}, {"claim": "C5"}])}


def main() -> dict:
    return time_widget_cases(CASES)


if __name__ == "__main__":
    main()
