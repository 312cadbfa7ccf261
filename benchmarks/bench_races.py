"""Lesson 06's race explorer: every interleaving of every lesson scenario, under every key-table scope.

The budget (issue 14) is < 2 s for ALL of them together; the explorer merges interleavings that
reach the same state, so the work is the number of distinct states (a few hundred per scenario),
not the number of interleavings (up to about 260 000).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import time_call  # noqa: E402

from mktme_lite.machine import KEYTABLE_SCOPES  # noqa: E402
from mktme_lite.scenarios import races  # noqa: E402

BUDGET_ALL_S = 2.0


def explore_all() -> dict:
    out = {}
    for name, scen in races.SCENARIOS.items():
        for scope in KEYTABLE_SCOPES:
            ex = races.explore(scen, scope)
            out[f"{name}/{scope}"] = (ex.interleavings, ex.states)
    return out


def main() -> dict:
    results = {}
    t0 = time.perf_counter()
    counts = explore_all()
    total = time.perf_counter() - t0
    for key, (inter, states) in counts.items():
        print(f"{key:32} {inter:7} interleavings, {states:4} states")
    verdict = "ok" if total < BUDGET_ALL_S else f"OVER the {BUDGET_ALL_S} s budget"
    print(f"every scenario x scope: {total * 1e3:.0f} ms ({verdict})")
    results["all_scenarios_ms"] = total * 1e3
    results["largest"] = max(counts.items(), key=lambda kv: kv[1][0])
    for name in ("rotate_unsafe", "rotate_safe", "rotate_safe_retry"):
        scen = races.SCENARIOS[name]
        results[name] = time_call(lambda: races.explore(scen, "platform"), repeat=10,
                                  label=f"explore {name} (platform)", budget_ms=BUDGET_ALL_S * 1e3)
    scen = races.SCENARIOS["rotate_unsafe"]
    path = races.explore(scen).first_bad().example
    results["replay"] = time_call(lambda: races.replay(scen, path), repeat=30, label="replay one interleaving")
    return results


if __name__ == "__main__":
    main()
