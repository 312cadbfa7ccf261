#!/usr/bin/env python3
"""Run every benchmarks/bench_*.py in turn (`make bench`).

Each bench script has a ``main()`` that prints its own report and may return a dict of
numbers; those are saved to benchmarks/results/<name>.json (git-ignored) with the time of
the run. Widget benchmarks can use :func:`time_call` for p50/p95 of a pure render function:

    from run_all import time_call
    def main():
        return time_call(lambda: render_dram_probe(text="hi", keyid=3), label="dram probe")

``bench_browser.py`` times the same updates end to end in Chromium (input event -> new output);
without Chromium its ``main()`` returns ``{"skipped": ...}`` and the others run on.

Exit status: 1 if any benchmark raised (the others still run).
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WIDGET_BUDGET_MS = 100.0  # a widget update should feel instant (DESIGN.md)


def time_call(fn, repeat: int = 30, warmup: int = 3, label: str = "",
              budget_ms: float = WIDGET_BUDGET_MS) -> dict:
    """Call fn repeatedly; print and return p50/p95 in milliseconds.

    matplotlib figures returned by fn are closed so memory stays flat.
    """
    def once() -> float:
        t0 = time.perf_counter()
        out = fn()
        elapsed = (time.perf_counter() - t0) * 1e3
        if hasattr(out, "savefig"):
            import matplotlib.pyplot as plt
            plt.close(out)
        return elapsed

    for _ in range(warmup):
        once()
    samples = sorted(once() for _ in range(repeat))
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    verdict = "ok" if p95 <= budget_ms else f"OVER the {budget_ms:.0f} ms budget"
    print(f"{label or getattr(fn, '__name__', 'call')}: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"({repeat} runs) {verdict}")
    return {"p50_ms": p50, "p95_ms": p95, "runs": repeat}


def _short(value) -> str:
    """A parameter value short enough for a benchmark label (ints in hex: they are addresses)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)
    text = repr(value)
    return text if len(text) <= 20 else text[:12] + "…"


def time_widget_cases(cases: dict) -> dict:
    """Time every widget setting twice: the pure ``render`` function alone, and a full
    ``update`` through the widget shell (render + palette PNG + the live output's HTML,
    ``LessonWidget.view``: the Python part of what a learner waits for; the widget's cache of
    seen settings is not used, so this is a first visit).

    ``cases`` maps a name to ``(render, build, settings)``: the pure function, the function that
    builds the widget, and a list of parameter dicts (each merged over the widget's defaults).
    A refused setting has only an ``update`` time: the error path must be quick too.
    """
    results = {}
    for name, (render, build, settings) in cases.items():
        widget = build()
        for params in settings:
            label = f"{name}({', '.join(f'{k}={_short(v)}' for k, v in params.items()) or 'defaults'})"
            full = {**widget.defaults, **params}
            if widget.view(full) and widget.last_status == "ok":
                results[f"{label} render"] = time_call(lambda: render(**full), label=f"{label} render")
            results[f"{label} update"] = time_call(lambda: widget.view(full), label=f"{label} update")
    return results


def _jsonable(value):
    """JSON needs string keys; benchmark scripts may key results by tuples (e.g. (op, policy))."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else " / ".join(map(str, k)) if isinstance(k, tuple) else str(k):
                _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    sys.path.insert(0, str(HERE))
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("no benchmarks/bench_*.py yet")
        return 0
    RESULTS.mkdir(exist_ok=True)
    failed = []
    for path in scripts:
        print(f"== {path.name}")
        t0 = time.perf_counter()
        try:
            result = load(path).main()
        except Exception:
            traceback.print_exc()
            failed.append(path.name)
            continue
        record = {"script": path.name, "seconds": round(time.perf_counter() - t0, 3),
                  "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "result": result}
        (RESULTS / f"{path.stem}.json").write_text(json.dumps(_jsonable(record), indent=1, default=str))
    if failed:
        print(f"benchmarks that raised: {', '.join(failed)}")
        return 1
    print(f"{len(scripts)} benchmark(s) ran; results in benchmarks/results/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
