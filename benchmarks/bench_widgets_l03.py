"""p50/p95 of the lesson 03 alias explorer (and the design table the lesson fills).

``render`` is the pure function (a kernel clone, one write, four reads, the figure); ``update``
is what a learner waits for after moving a control: the same call through the widget shell,
which also encodes the PNG. The budget is 100 ms per update (DESIGN.md).
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call  # noqa: E402

from mktme_lite.widgets import aliasing  # noqa: E402

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
    results = {}
    widget = aliasing.alias_explorer()
    for params in SETTINGS:
        label = "alias_explorer(" + (", ".join(f"{k}={v!r}" if len(repr(v)) < 16 else f"{k}=…"
                                              for k, v in params.items()) or "defaults") + ")"
        full = {**widget.defaults, **params}
        widget.draw(full)
        if widget.last_status == "ok":
            results[f"{label} render"] = time_call(lambda: aliasing.render_alias_explorer(**full),
                                                   label=f"{label} render")
        results[f"{label} update"] = time_call(lambda: widget.draw(full), label=f"{label} update")
    # Not a widget update but one notebook cell: judged against a 1 s budget.
    results["compare_designs (lesson table)"] = time_call(aliasing.compare_designs, repeat=10, budget_ms=1000,
                                                          label="compare_designs (lesson table, one cell)")
    return results


if __name__ == "__main__":
    main()
