"""Time the kernel model's typical operations and print p50/p95 per operation.

Target (issue #4): every operation a lesson or widget triggers stays well under 100 ms. A page
is 64 cache lines, each filled or written back through per-line AES-XTS, so a page fault that
zeroes a page costs a few milliseconds; that is the unit everything here is measured in.

Operations, each under both presets:
* fault+zero: first touch of a fresh anonymous page (allocate, flushes per policy, zero);
* swap round trip: swap a page out, then touch it again (swap-in into whatever frame is free);
* encrypt_mprotect x16: encrypt_mprotect over 16 populated pages (zap 16 pages, flushes).
"""

from __future__ import annotations

import statistics
import time

from mktme_lite import Machine
from mktme_lite.kernel import PAGE_SIZE, PROT_READ, PROT_WRITE, Kernel, Policy

RW = PROT_READ | PROT_WRITE


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _boot(policy: Policy) -> tuple[Kernel, object]:
    m = Machine(dram_bytes=1024 * 1024, seed=1)
    k = Kernel(m, policy, swap_slots=64)
    return k, k.spawn("bench")


def bench_fault_zero(policy: Policy, n: int = 60) -> list[float]:
    k, p = _boot(policy)
    key = k.add_key("mktme", "bench", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(n * PAGE_SIZE, RW)
    p.encrypt_mprotect(va, n * PAGE_SIZE, RW, key)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        p.write(va + i * PAGE_SIZE, b"x")
        out.append(time.perf_counter() - t0)
    return out


def bench_swap_round_trip(policy: Policy, n: int = 40) -> list[float]:
    k, p = _boot(policy)
    key = k.add_key("mktme", "bench", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(n * PAGE_SIZE, RW)
    p.encrypt_mprotect(va, n * PAGE_SIZE, RW, key)
    p.write(va, b"y" * (n * PAGE_SIZE))
    out = []
    for i in range(n):
        page = va + i * PAGE_SIZE
        t0 = time.perf_counter()
        k.swap_out(p, page)
        p.read(page, 8)
        out.append(time.perf_counter() - t0)
    return out


def bench_encrypt_mprotect_16(policy: Policy, n: int = 12) -> list[float]:
    k, p = _boot(policy)
    keys = [k.add_key("mktme", f"bench{i}", "type=cpu algorithm=aes-xts-128") for i in range(2)]
    va = p.mmap(16 * PAGE_SIZE, RW)
    out = []
    for i in range(n):
        p.write(va, b"z" * (16 * PAGE_SIZE))  # populate (not timed)
        t0 = time.perf_counter()
        p.encrypt_mprotect(va, 16 * PAGE_SIZE, RW, keys[i % 2])
        out.append(time.perf_counter() - t0)
    return out


def main() -> dict:
    results = {}
    benches = [
        ("fault+zero", bench_fault_zero),
        ("swap round trip", bench_swap_round_trip),
        ("encrypt_mprotect x16", bench_encrypt_mprotect_16),
    ]
    print(f"{'operation':<22} {'policy':<12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, fn in benches:
        for policy in (Policy.as_proposed(), Policy.fixed()):
            samples = fn(policy)
            p50, p95 = _pct(samples, 0.5) * 1e3, _pct(samples, 0.95) * 1e3
            results[(name, policy.name)] = {"p50_ms": p50, "p95_ms": p95, "max_ms": max(samples) * 1e3,
                                            "mean_ms": statistics.fmean(samples) * 1e3}
            print(f"{name:<22} {policy.name:<12} {p50:8.2f} {p95:8.2f} {max(samples) * 1e3:8.2f}")
    worst = max(r["p95_ms"] for r in results.values())
    print(f"worst p95: {worst:.1f} ms (target: well under 100 ms)")
    return results


if __name__ == "__main__":
    main()
