"""p50/p95 of the lesson 03 alias explorer (and the design table the lesson fills).

``render`` is the pure function (a kernel clone, one write, three reads, the figure); ``update``
is what a learner waits for after moving a control: the same call through the widget shell,
which also encodes the PNG. The budget is 100 ms per update (DESIGN.md).

The figure has four byte grids; the line's ciphertext in DRAM is a sentence, not a fifth grid
(ciphertext looks random whether or not it changed). That took about 12% off an update: p50
from about 44 ms to about 39 ms for ``writer='debugger'`` on the 2-core test machine, measured
side by side in one process. Most of what is left is the PNG encoding and the glyph paths of
``viz.bytes_figure``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call, time_widget_cases  # noqa: E402

from mktme_lite.scenarios import aliasing  # noqa: E402
from mktme_lite.widgets import aliasing as aliasing_w  # noqa: E402

SETTINGS = [
    {},
    {"writer": "debugger"},
    {"writer": "debugger", "written_back": False},
    {"design": "per_keyid", "writer": "debugger"},
    {"design": "rekey"},
    {"design": "unmapped", "writer": "debugger"},
    {"design": "xpfo", "message": "x" * 64},
    {"message": "x" * 70},  # refused input: the error path must be quick too
]


def main() -> dict:
    results = time_widget_cases(
        {"alias_explorer": (aliasing_w.render_alias_explorer, aliasing_w.alias_explorer, SETTINGS)})
    # Not a widget update but one notebook cell: judged against a 1 s budget.
    results["compare_designs (lesson table)"] = time_call(aliasing.compare_designs, repeat=10, budget_ms=1000,
                                                          label="compare_designs (lesson table, one cell)")
    rows = aliasing.compare_designs()
    for view in ("paths", "costs"):
        results[f"render_design_table({view!r})"] = time_call(lambda: aliasing_w.render_design_table(rows, view),
                                                             label=f"render_design_table({view!r})")
    return results


if __name__ == "__main__":
    main()
