"""Checks for the exercises of lesson 07, the XPO comparison (solutions/07_xpo_comparison.ipynb).

Exercise 1 hands over a function of a workload, 2 a function of (design, workload, prices, cpus),
3 a dict naming a design and, for every other design, why it is out::

    from mktme_lite.checks.xpo_comparison import (L07_REQUIRED, check_design_choice, check_slowdown,
                                                  check_xpfo_shootdowns)

    check_xpfo_shootdowns(xpfo_shootdowns)     # all-CPU TLB shootdowns XPFO pays for a workload
    check_slowdown(slowdown)                   # a workload priced by hand, as costs.estimate() does
    check_design_choice({"choice": "...", "ruled_out": {"xpfo": "cost", ...}})

Every verdict is computed on the engine: the checks run the learner's function on workloads and
price tables of their own (some random, from a seeded generator) and compare it with
:mod:`mktme_lite.scenarios.costs` and :mod:`mktme_lite.scenarios.ret2dir`. No widget is imported.
"""

from __future__ import annotations

import math

import numpy as np

from . import Examples, NotAttempted, check, hint, is_placeholder, passed, returned
from ..scenarios import costs, ret2dir

__all__ = ["check_xpfo_shootdowns", "check_slowdown", "check_design_choice", "L07_REQUIRED", "L07_WORKLOAD",
           "L07_CPUS"]

# ----------------------------------------------------------------------------------------------
# Exercise 1 — XPFO's shootdowns
# ----------------------------------------------------------------------------------------------


def _workloads():
    """Workloads that tell the terms apart: pages only, gup reads, secret pages, several jobs."""
    return [
        costs.workload("alloc_heavy", pages=3, secret_pages=0),
        costs.workload("alloc_heavy", pages=2, secret_pages=3),
        costs.workload("gup_heavy", pages=2, gups=5, syscalls=0),
        costs.workload("kernel_build", jobs=3, pages=2, gups=1, syscalls=1),
    ]


def _xpfo_ref(w):
    return w.jobs * (w.pages + w.secret_pages + w.gups)


@check("xpfo_shootdowns", examples=Examples(
    placeholder=...,
    wrong=[(lambda w: w.jobs * (w.pages + w.secret_pages), "kunmap"),
           (lambda w: w.pages + w.secret_pages + w.gups, "jobs"),
           (lambda w: w.jobs * (w.pages + w.gups), "secret"),
           (lambda w: w.jobs * (2 * (w.pages + w.secret_pages) + w.gups), "back"),
           (lambda w: w.jobs * (w.pages + w.secret_pages + 2 * w.gups), "kmap() itself"),
           (lambda w: None, "missing `return`")],
    correct=lambda: _xpfo_ref,
))
def check_xpfo_shootdowns(answer):
    for w in _workloads():
        case = _case(w)
        got = returned(answer(w), "xpfo_shootdowns", "`return n`, the number of all-CPU shootdowns", case=case)
        want = costs.run_workload("xpfo", w).counts["tlb_shootdown_global"]
        if got == want:
            continue
        return hint(f"for {case} you counted {got!r}; the engine counts {want}. " + _why_off(w, got, want))
    return passed("xpfo_shootdowns() agrees with the kernel model on every workload we tried: one all-CPU "
                  "shootdown per page handed to user space and one per kunmap().")


def _case(w) -> str:
    """The workload the check is on, by its own numbers (a changed workload's label would name its base)."""
    return f"the workload ({costs.describe(w)})"


def _why_off(w, got, want) -> str:
    """Which term ``got`` misses on workload ``w``, computed from ``w`` (the one that failed)."""
    pages = w.jobs * (w.pages + w.secret_pages)
    gups = w.jobs * w.gups
    if got == pages and gups:
        return (f"That is one per page ({w.jobs} x {w.pages + w.secret_pages}); every get_user_pages() read goes "
                f"through a temporary kmap(), and its kunmap() removes that mapping again: one shootdown on every "
                f"CPU per kmap/kunmap pair, {gups} more here.")
    if gups and got == pages + 2 * gups:
        return (f"That counts its {gups} gup reads twice each. The kmap() itself adds a mapping, "
                "which needs no flush; only the kunmap() that removes it shoots down.")
    if w.jobs > 1 and got * w.jobs == want:
        return f"That is one job's count: the workload runs {w.jobs} jobs, each with its own pages and gup reads."
    if got == pages + gups + pages:
        return (f"That is {pages} too many, one per freed page: a freed frame is mapped back into the direct map, "
                "but adding a mapping needs no TLB flush.")
    if w.secret_pages and got == want - w.jobs * w.secret_pages:
        return (f"Its {w.jobs * w.secret_pages} secret pages are missing: XPFO takes *every* user page out of the "
                "direct map, the secret pages too (memfd_secret is not used under XPFO).")
    return "Count the pages handed to user space and the kunmap() calls."


# ----------------------------------------------------------------------------------------------
# Exercise 2 — a workload priced by hand
# ----------------------------------------------------------------------------------------------


def _kernel_ns(run, prices, cpus):
    c = run.counts
    ns = c["tlb_shootdown_global"] * (prices.value("tlb_shootdown_base") + prices.value("tlb_shootdown_ipi") * (cpus - 1))
    ns += c["tlb_shootdown_local"] * prices.value("tlb_flush_local")
    for event, name in costs.EVENT_PRICES.items():
        ns += c[event] * prices.value(name)
    return ns


def _slowdown_ref(design, workload, prices, cpus):
    mine = _kernel_ns(costs.run_workload(design, workload), prices, cpus)
    base = _kernel_ns(costs.run_workload("none", workload), prices, cpus)
    total = base / (1 - costs.WORKLOADS[workload].user_share)
    return (total + mine - base) / total


def _price_cases():
    rng = np.random.default_rng(707)
    cases = [("xpfo", "kernel_build", costs.load_prices(), 96),
             ("per_keyid", "alloc_heavy", costs.load_prices(), 4),
             ("rekey", "gup_heavy", costs.load_prices(overrides={"tlb_flush_local": 5000}), 8)]
    for design, workload in (("xpfo", "gup_heavy"), ("memfd_secret", "alloc_heavy"), ("unmapped", "kernel_build")):
        edits = {name: float(rng.integers(1, 4000)) for name in ("tlb_shootdown_base", "tlb_shootdown_ipi",
                                                                 "clflush_line", "page_fault", "syscall")}
        cases.append((design, workload, costs.load_prices(overrides=edits), int(rng.integers(2, 128))))
    return cases


def _no_baseline(design, workload, prices, cpus):
    total = _kernel_ns(costs.run_workload("none", workload), prices, cpus) / (1 - costs.WORKLOADS[workload].user_share)
    return _kernel_ns(costs.run_workload(design, workload), prices, cpus) / total + 1


def _kernel_only(design, workload, prices, cpus):
    return (_kernel_ns(costs.run_workload(design, workload), prices, cpus)
            / _kernel_ns(costs.run_workload("none", workload), prices, cpus))


def _ipi_per_cpu(design, workload, prices, cpus):
    return _slowdown_ref(design, workload, prices.with_overrides({}), cpus + 1)


def _all_global(design, workload, prices, cpus):
    def ns(run):
        c = dict(run.counts)
        c["tlb_shootdown_global"] = c["tlb_shootdown"]
        c["tlb_shootdown_local"] = 0
        return _kernel_ns(type(run)(run.design, run.workload, c, run.failed_gups), prices, cpus)
    mine, base = ns(costs.run_workload(design, workload)), ns(costs.run_workload("none", workload))
    total = base / (1 - costs.WORKLOADS[workload].user_share)
    return (total + mine - base) / total


@check("slowdown", examples=Examples(
    placeholder=...,
    wrong=[(_no_baseline, "subtract"),
           (_kernel_only, "user_share"),
           (_ipi_per_cpu, "*other* CPU"),
           (_all_global, "local"),
           (lambda d, w, p, c: None, "missing `return`")],
    correct=lambda: _slowdown_ref,
))
def check_slowdown(answer):
    for design, workload, prices, cpus in _price_cases():
        got = returned(answer(design, workload, prices, cpus), "slowdown", "`return s`, the slowdown (a float)",
                       case=f"{design} on {workload}")
        want = costs.estimate(design, workload, prices, cpus).slowdown
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
            return hint(f"slowdown() must return a number (for example 1.22 for 22% slower); got {got!r}")
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        where = f"{design} on {workload} with {cpus} CPUs"
        if math.isclose(got, _no_baseline(design, workload, prices, cpus), rel_tol=1e-9):
            return hint(f"{where}: you added the design's whole kernel time. The overhead is the design's kernel "
                        "time minus the undefended kernel's (design 'none'): subtract it before dividing.")
        if math.isclose(got, _kernel_only(design, workload, prices, cpus), rel_tol=1e-9) and \
                costs.WORKLOADS[workload].user_share:
            return hint(f"{where}: you divided by the undefended kernel time alone. The workload spends "
                        f"user_share = {costs.WORKLOADS[workload].user_share} of its time in user mode: the whole "
                        "run is kernel time / (1 - user_share).")
        if math.isclose(got, _ipi_per_cpu(design, workload, prices, cpus), rel_tol=1e-9):
            return hint(f"{where}: an all-CPU shootdown sends one IPI to every *other* CPU: "
                        "base + ipi * (cpus - 1), not * cpus.")
        if math.isclose(got, _all_global(design, workload, prices, cpus), rel_tol=1e-9):
            return hint(f"{where}: only counts['tlb_shootdown_global'] reach every CPU; "
                        "counts['tlb_shootdown_local'] are a process's own TLB flush, priced tlb_flush_local.")
        return hint(f"{where}: you got {got:.6g}, costs.estimate() gets {want:.6g}. Price every count: the two "
                    "kinds of shootdown, then each event of costs.EVENT_PRICES, for the design and for 'none'.")
    return passed("slowdown() prices every workload as costs.estimate() does, with the course's prices, prices "
                  "of your own and random ones.")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — the cheapest design that meets a requirement
# ----------------------------------------------------------------------------------------------
#: The requirement: a stray kernel read must not see alice's secret, and get_user_pages() must work on
#: every page of hers (her database reads its secret pages with O_DIRECT).
L07_REQUIRED = ("stray_read", "gup_secret", "gup_ordinary")
L07_WORKLOAD = "kernel_build"
L07_CPUS = 96


def _truth():
    est = {e.design: e for e in costs.compare(L07_WORKLOAD, cpus=L07_CPUS)}
    m = ret2dir.security_matrix()
    choice = ret2dir.cheapest_meeting(L07_REQUIRED, list(est.values()), m)
    fails = {d: tuple(c for c in L07_REQUIRED if not m.cell(d, c).ok) for d in costs.DESIGNS}
    return choice, fails, est


def _answer_ref():
    choice, fails, _ = _truth()
    return {"choice": choice, "ruled_out": {d: (f[0] if f else "cost") for d, f in fails.items() if d != choice}}


@check("design_choice", examples=Examples(
    placeholder=...,
    wrong=[({"choice": "memfd_secret", "ruled_out": {}}, "gup_secret"),
           ({"choice": "xpfo", "ruled_out": {}}, "cheaper"),
           ({"choice": "per_keyid", "ruled_out": {"none": "stray_read", "keyid0": "gup_secret", "rekey": "stray_read",
                                                  "unmapped": "gup_secret", "xpfo": "gup_secret",
                                                  "memfd_secret": "gup_secret"}}, "xpfo's 'gup_secret' cell holds"),
           ({"choice": "per_keyid", "ruled_out": {"none": "cost", "keyid0": "gup_secret", "rekey": "stray_read",
                                                  "unmapped": "gup_secret", "xpfo": "cost",
                                                  "memfd_secret": "gup_secret"}}, "none is not out because of its cost"),
           ({"choice": "per_keyid"}, "ruled_out"),
           ("per_keyid", "dict")],
    correct=_answer_ref,
))
def check_design_choice(answer):
    if not isinstance(answer, dict):
        return hint("answer must be a dict: {'choice': a design name, 'ruled_out': {other design: reason}}")
    choice, fails, est = _truth()
    m = ret2dir.security_matrix()
    picked = answer.get("choice")
    if is_placeholder(picked):
        raise NotAttempted
    if picked not in costs.DESIGNS:
        return hint(f"answer['choice'] must be one of {', '.join(costs.DESIGNS)}; got {picked!r}")
    if fails[picked]:
        col = fails[picked][0]
        return hint(f"{picked} does not meet the requirement: its {col!r} cell is {m.cell(picked, col).word} "
                    f"({m.cell(picked, col).detail}).")
    if picked != choice:
        return hint(f"{picked} meets the requirement, but {choice} does too and is cheaper: x{est[choice].slowdown:.3g} "
                    f"against x{est[picked].slowdown:.3g} on the {L07_WORKLOAD} mix with {L07_CPUS} CPUs.")
    ruled = answer.get("ruled_out")
    if not isinstance(ruled, dict):
        return hint("the choice is right; now defend it: answer['ruled_out'] maps every other design to the "
                    "requirement column it fails, or to 'cost' if it meets the requirement but costs more.")
    missing = [d for d in costs.DESIGNS if d != choice and d not in ruled]
    if missing:
        return hint(f"the choice is right; ruled_out still lacks {', '.join(missing)}: say why each is out.")
    for d, reason in ruled.items():
        if d not in costs.DESIGNS or d == choice:
            return hint(f"ruled_out has {d!r}, which is not another design; the designs are {', '.join(costs.DESIGNS)}")
        if reason == "cost":
            if fails[d]:
                return hint(f"{d} is not out because of its cost: it fails {fails[d][0]!r} "
                            f"({m.cell(d, fails[d][0]).word}).")
            continue
        if reason not in L07_REQUIRED:
            return hint(f"ruled_out[{d!r}] = {reason!r}: a reason is one of the required columns "
                        f"{', '.join(L07_REQUIRED)} or 'cost'")
        if m.cell(d, reason).ok:
            return hint(f"{d}'s {reason!r} cell holds ({m.cell(d, reason).word}); look at its other required "
                        "cells" + (", or at its cost." if not fails[d] else "."))
    return passed(f"{choice} is the cheapest design whose {', '.join(L07_REQUIRED)} cells all hold, and every "
                  "other design is out for a reason the matrix or the estimate shows.")
