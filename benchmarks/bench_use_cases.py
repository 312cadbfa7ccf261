"""p50/p95 of the lesson 08 widgets: the KeyID partition explorer and the pmem lab, and the lesson's tables.

Two numbers per setting, as in bench_multi_key.py:

* ``render``: the pure function alone (engine work, cached after the first call, + the figure or table);
* ``update``: what a learner waits for after moving a control: the same call through the widget shell,
  which also encodes the PNG and builds the display bundle.

The tables are timed on their own (``time_call``): the lesson draws each once. The budget is 100 ms per
update (DESIGN.md); run with ``make bench`` or directly.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call, time_widget_cases  # noqa: E402

from mktme_lite.widgets import use_cases as w  # noqa: E402

CASES = {
    "partition_explorer": (w.render_partition_explorer, w.partition_explorer, [
        {},
        {"tdx_keyid_bits": 0},
        {"keyid_bits": 15, "tdx_keyid_bits": 7, "phys_bits": 52},
        {"keyid_bits": 4, "tdx_keyid_bits": 5},  # refused: the error path must be quick too
    ]),
    "pmem_lab": (w.render_pmem_lab, w.pmem_lab, [
        {},
        {"key": "cpu"},
        {"move": "raw", "flushed": False},
    ]),
}


def main() -> dict:
    results = time_widget_cases(CASES)
    for name in ("render_msr_view", "render_pmem_table", "render_coherence_table", "render_vm_table",
                 "render_verdict"):
        results[name] = time_call(getattr(w, name), label=name)
    return results


if __name__ == "__main__":
    main()
