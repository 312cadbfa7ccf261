"""Cold first visits of the lesson 01-03 widget controls, measured in the kernel's own terms.

A browser timing on a shared 2-core machine moves by a factor of 2-5 with the load
(bench_browser.py). This script gives two numbers that do not: the Python function calls one
cold update makes (``live_html(render(**params))`` at a setting no cache has seen, counted with
cProfile: deterministic for a given matplotlib) and its CPU time (``time.process_time``, which
other jobs inflate far less than wall-clock time), median and max over the values each control
offers. Single-glyph caches are warm, as they are after a lesson's Run All; the caches of whole
lines of text are emptied before each pass, so every pass pays for its new strings as a first
visit does.

    .venv/bin/python benchmarks/bench_cold_controls.py
"""
from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mktme_lite.scenarios.tme_basics import ADDRESSES  # noqa: E402
from mktme_lite.viz import glyphs, live_html  # noqa: E402
from mktme_lite.widgets.aliasing import render_alias_explorer  # noqa: E402
from mktme_lite.widgets.multi_key import render_keyid_budget  # noqa: E402
from mktme_lite.widgets.tme_basics import render_dram_probe  # noqa: E402

#: control -> (render function, the settings a learner reaches by moving it from the default).
CASES = {
    "01 DRAM probe / Address": (render_dram_probe, [{"address": a} for a in ADDRESSES[:8]]),
    "01 DRAM probe / Key": (render_dram_probe, [{"key_mode": k, "address": 0x2000}
                                                for k in ("bypass", "no_encrypt", "tme")]),
    "02 KeyID-bit budget / phys bits": (render_keyid_budget, [{"phys_bits": p} for p in range(44, 53)]),
    "02 KeyID-bit budget / CPU allows": (render_keyid_budget, [{"max_keyid_bits": c} for c in range(7, 16)]),
    "03 Alias explorer / design": (render_alias_explorer, [{"design": d, "writer": "debugger"}
                                                           for d in ("per_keyid", "unmapped", "keyid0")]),
    "03 Alias explorer / writer": (render_alias_explorer, [{"writer": w, "design": "per_keyid"}
                                                           for w in ("process", "copy_to_user", "debugger")]),
}


def _forget_lines() -> None:
    for cache in (glyphs._line, glyphs._sans_width):
        cache.cache_clear()


def main(log=print) -> dict:
    for fn in (render_dram_probe, render_keyid_budget, render_alias_explorer):
        live_html(fn())  # warm the imports and the glyph caches, as Run All does
    out = {}
    for name, (fn, settings) in CASES.items():
        cpu = []
        _forget_lines()
        for p in settings:
            t = time.process_time()
            live_html(fn(**p))
            cpu.append(1000 * (time.process_time() - t))
        _forget_lines()
        prof = cProfile.Profile()
        prof.enable()
        for p in settings:
            live_html(fn(**p))
        prof.disable()
        calls = pstats.Stats(prof).total_calls // len(settings)
        out[name] = {"calls": calls, "cpu_p50_ms": round(statistics.median(cpu), 1), "cpu_max_ms": round(max(cpu), 1)}
        log(f"{name:36} {calls:7d} calls  CPU p50 {out[name]['cpu_p50_ms']:6.1f} ms  max {out[name]['cpu_max_ms']:6.1f} ms")
    return out


if __name__ == "__main__":
    main()
