"""A long Machine session: does the trace stay bounded, the run time flat and clone() cheap?

Targets (hardening issue, 2-core machine class): 10**6 stores hold under 50 MB of trace (it
used to be 942 MB, every event kept); clone() of that session under 5 ms (it was 110 ms); the
time per store flat over the session, and close to a machine with the trace off (it used to
double: the garbage collector walked millions of live events). A script that prints numbers,
not a test: timings on a shared machine are too noisy to gate on. ``BENCH_STORES`` sets the
session length (default 10**6, about a minute).
"""

from __future__ import annotations

import os
import resource
import sys
import time

from mktme_lite import Machine


def _trace_bytes(trace) -> int:
    """Memory held by the trace: the deque plus every event and the strings only it keeps."""
    total = sys.getsizeof(trace)
    for e in trace:
        total += sys.getsizeof(e) + (sys.getsizeof(e.detail) if e.detail else 0)
    return total


def _session(stores: int, **kw) -> tuple[Machine, list[float]]:
    m = Machine(**kw)
    quarters, lap = [], time.perf_counter()
    for i in range(stores):
        m.store((i * 64 * 7) % m.dram_bytes, b"x" * 8)  # every store misses, most write back a victim
        if (i + 1) % max(1, stores // 4) == 0:
            now = time.perf_counter()
            quarters.append(now - lap)
            lap = now
    return m, quarters


def main() -> dict:
    stores = int(os.environ.get("BENCH_STORES", 10**6))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m, quarters = _session(stores)
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    trace_mb = _trace_bytes(m.trace) / 1e6
    clones = []
    for _ in range(5):
        t0 = time.perf_counter()
        m.clone()
        clones.append(time.perf_counter() - t0)
    clone_ms = min(clones) * 1e3
    per_store = [q / (stores / 4) * 1e6 for q in quarters]
    _, off = _session(stores // 10, trace=False)
    off_us = sum(off) / (stores // 10) * 1e6
    events = sum(m.counters.values())
    print(f"{stores} stores, {events} events: trace keeps {len(m.trace)} (cap {m.trace_cap}), "
          f"{trace_mb:.1f} MB (target < 50 MB); process grew {rss_mb:.0f} MB (max RSS)")
    print(f"time per store by quarter: {', '.join(f'{u:.1f}' for u in per_store)} us; "
          f"with the trace off: {off_us:.1f} us")
    print(f"clone() after the session: {clone_ms:.2f} ms (best of 5, target < 5 ms)")
    return {"stores": stores, "events": events, "trace_events": len(m.trace), "trace_mb": trace_mb,
            "rss_growth_mb": rss_mb, "us_per_store_by_quarter": per_store, "us_per_store_trace_off": off_us,
            "clone_ms": clone_ms}


if __name__ == "__main__":
    main()
