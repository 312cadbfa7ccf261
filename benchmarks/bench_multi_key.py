"""p50/p95 of the lesson 02 widgets: the KeyID-bit budget and the PCONFIG console.

Two numbers per setting, as in bench_tme_basics.py:

* ``render``: the pure function alone (engine work + building the figure or table);
* ``update``: the Python part of what a learner waits for after moving a control: the same call
  through the widget shell (``LessonWidget.view``), which also encodes the palette PNG and builds
  the live output's HTML. benchmarks/bench_browser.py times the whole round trip in Chromium.

The budget is 100 ms per update (DESIGN.md); run with ``make bench`` or directly.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_widget_cases  # noqa: E402

from mktme_lite.scenarios import multi_key  # noqa: E402
from mktme_lite.widgets import multi_key as multi_key_w  # noqa: E402

CASES = {
    "keyid_budget": (multi_key_w.render_keyid_budget, multi_key_w.keyid_budget, [
        {},
        {"keyid_bits": 0},
        {"phys_bits": 52, "keyid_bits": 15, "max_keyid_bits": 15, "dram_bytes": 16 * multi_key.GIB},
        {"max_keyid_bits": 15},  # the CPU's limit drawn: the bracket over 15 bits
        {"keyid_bits": 7},  # refused (#GP): the error path must be quick too
        {"phys_bits": 36, "dram_bytes": 16 * multi_key.TIB},  # refused: DRAM beyond the whole address space
    ]),
    "pconfig_console": (multi_key_w.render_pconfig_console, multi_key_w.pconfig_console, [
        {},
        {"package": multi_key.EVERY},
        {"package": multi_key.EVERY, "command": 0, "key": "key_a"},
        {"package": multi_key.EVERY, "failure": "busy"},
        {"keyid": 64},
        {"command": 0},  # refused: SET_KEY_DIRECT needs key material
        {"command": []},  # refused: a value of the wrong type is a message too, never a crash
    ]),
}


def main() -> dict:
    return time_widget_cases(CASES)


if __name__ == "__main__":
    main()
