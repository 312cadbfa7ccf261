"""Lesson 07 widgets and tables: what each design costs and what it stops.

    from mktme_lite.widgets.xpo_comparison import (xpo_explorer, render_xpo_explorer, render_price_table,
                                                   render_security_matrix, render_cost_table,
                                                   render_reference_table)
    xpo_explorer()                                    # design x workload x prices -> bars + the design's row
    render_price_table()                              # every price with its source, year and status
    render_security_matrix(highlight="memfd_secret")  # the whole design x threat grid
    render_cost_table("kernel_build", cpus=96)        # the event counts behind the bars
    render_reference_table()                          # the model beside the measured slowdowns

The numbers come from :mod:`mktme_lite.scenarios.costs` and :mod:`mktme_lite.scenarios.ret2dir`;
this module only draws them. The workload runs are cached there, so a redraw prices cached counts
and draws one figure (the first call per workload runs the kernel model, about a second).
"""

from __future__ import annotations

import math

from ..errors import ParameterError
from ..params import choose, shown, whole
from ..scenarios import costs, ret2dir
from ..viz import HTMLCard, LessonFigure, cost_and_security, security_grid
from ..viz.tables import Cell, table
from . import LessonWidget, Telling, dropdown, slider, text

__all__ = ["render_xpo_explorer", "xpo_explorer", "render_price_table", "render_security_matrix",
           "render_cost_table", "render_reference_table"]

CPU_CHOICES = (1, 2, 4, 8, 16, 32, 64, 96, 128, 256)
#: the explorer's editable prices: parameter -> price name in costs.toml
EDITABLE = {"ipi_ns": "tlb_shootdown_ipi", "clflush_ns": "clflush_line", "fault_ns": "page_fault"}
#: parameter -> the label of its text box, which is what an error card names
LABELS = {"ipi_ns": "ns per IPI (shootdown)", "clflush_ns": "ns per clflush line", "fault_ns": "ns per page fault"}


def _ns(value, what: str) -> float:
    """A price typed by the learner ("200", "1e3", 34) as nanoseconds."""
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            raise ParameterError(f"{what} must be a number of nanoseconds, e.g. 200; got {shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"{what} must be a number of nanoseconds >= 0, e.g. 200; got {shown(value)}")
    if value < 0:
        raise ParameterError(f"{what} must be >= 0 nanoseconds (a price cannot be negative), e.g. 200; "
                             f"got {value:g}")
    return float(value)


def _prices(ipi_ns, clflush_ns, fault_ns) -> costs.PriceTable:
    typed = {"ipi_ns": ipi_ns, "clflush_ns": clflush_ns, "fault_ns": fault_ns}
    base = costs.load_prices()
    overrides = {}
    for param, name in EDITABLE.items():
        value = _ns(typed[param], f"“{LABELS[param]}” ({param})")
        if value != base.value(name):
            overrides[name] = value
    return base.with_overrides(overrides)


def _bars(estimates) -> list[tuple[str, float, str, str]]:
    return [(e.design, e.slowdown, f"{e.failed_gups} gup reads refused (EFAULT)" if e.failed_gups else "",
             costs.DESIGNS[e.design].family) for e in estimates]


def _references(cpus: int) -> list[tuple[str, float]]:
    """Measured kernel-build slowdowns of an XPO or MKTME kernel, for the machine size shown: only the
    elapsed-time ones, since the bars are elapsed-time estimates (the XPFO covers measured system time)."""
    out = []
    for m in costs.measured_slowdowns():
        if m.design and "elapsed" in m.metric and (m.cpus in (0, cpus)):
            out.append((f"measured: {m.mechanism.split(',')[0]}" + (f" ({m.hardware})" if m.cpus else ""), m.low))
    return out


def render_xpo_explorer(design: str = "xpfo", workload: str = "kernel_build", cpus: int = 96,
                        ipi_ns: str = "200", clflush_ns: str = "34", fault_ns: str = "1000") -> LessonFigure:
    """Every design's estimated slowdown on ``workload`` with the prices given (bars; ``design``'s
    framed), over ``design``'s row of the security matrix."""
    choose(design, costs.DESIGNS, "design")
    choose(workload, costs.WORKLOADS, "workload")
    cpus = whole(cpus, "cpus (hardware threads)", 1, costs.MAX_CPUS)
    prices = _prices(ipi_ns, clflush_ns, fault_ns)
    estimates = costs.compare(workload, prices, cpus)
    row = ret2dir.security_matrix().row(design)
    mine = next(e for e in estimates if e.design == design)
    w = costs.WORKLOADS[workload]
    edited = [p.name for p in prices if p.edited]
    note = ("Prices: costs.toml" + (f", with your {', '.join(edited)}" if edited else "")
            + f". {len(prices.unconfirmed())} of {len(prices)} prices are UNCONFIRMED (see the price table).")
    fig = cost_and_security(_bars(estimates), design, list(ret2dir.SHORT.values()),
                            [(o.word, o.ok) for o in row.cells.values()],
                            title=f"{w.label}; {cpus} CPUs", references=_references(cpus) if workload ==
                            "kernel_build" else (), note=note)
    biggest = f", most of it {mine.biggest}" if mine.biggest else ""
    first = f"{design}: estimated x{mine.slowdown:.3g} on this workload{biggest}."
    fig.mktme_alt = first + " " + fig.mktme_alt
    return fig


def xpo_explorer() -> LessonWidget:
    """The cost/security explorer (lesson 07)."""
    for w in costs.WORKLOADS:  # run every workload once now, so that no redraw waits for the kernel model
        costs.compare(w)
    ret2dir.security_matrix()
    base = costs.load_prices()
    controls = {
        "design": dropdown("Design", [(d.label, name) for name, d in costs.DESIGNS.items()], "xpfo"),
        "workload": dropdown("Workload", [(w.label, name) for name, w in costs.WORKLOADS.items()], "kernel_build"),
        "cpus": slider("CPUs a shootdown reaches", [(str(c), c) for c in CPU_CHOICES], 96),
        "ipi_ns": text(LABELS["ipi_ns"], f"{base.value('tlb_shootdown_ipi'):g}", placeholder="e.g. 200"),
        "clflush_ns": text(LABELS["clflush_ns"], f"{base.value('clflush_line'):g}", placeholder="e.g. 34"),
        "fault_ns": text(LABELS["fault_ns"], f"{base.value('page_fault'):g}", placeholder="e.g. 1000"),
    }
    controls["design"].layout.width = "40em"
    controls["workload"].layout.width = "44em"
    for name in EDITABLE:
        controls[name].layout.width = "18em"
    telling = [
        Telling("XPFO on the kernel-build mix, 96 CPUs: about x2.3 of elapsed time by the model (a build is 90% user "
                "time); its kernel time alone, x13.8, is what the x26 measured system time compares with. It stops "
                "ret2dir, but kernel code's gup + kmap still reads the secret.", {}),
        Telling("The same on 4 CPUs: the shootdowns get cheap, the model says about x1.1 elapsed (kernel time "
                "x2.3; measured: x2.6 system time).", {"cpus": 4}),
        Telling("IPIs at 400 ns, about what the measured x26 system time on 96 threads implies: the model's XPFO "
                "estimate of elapsed time reaches about x3.5.", {"ipi_ns": "400"}),
        Telling("memfd_secret on the allocation-heavy workload: only the 4 secret pages pay a shootdown; "
                "ret2dir into the attacker's ordinary page still works.", {"design": "memfd_secret",
                                                                           "workload": "alloc_heavy"}),
    ]
    return LessonWidget(render_xpo_explorer, controls, title="Cost/security explorer", telling=telling, cache=64,
                        front=("design", "workload", "cpus"),
                        draw_ahead=False,
                        intro="pick a design, a workload and your own prices; every design's estimated slowdown "
                              "is drawn, and what the picked design stops.")


def render_price_table() -> HTMLCard:
    """Every price of costs.toml: value, what it is per, status, source and year."""
    rows = [[p.name, f"{p.value:g} ns", p.per, Cell(p.status, strong=not p.confirmed), f"{p.source} ({p.year})"]
            for p in costs.load_prices()]
    return table(["price", "value", "per", "status", "source (year)"], rows, ruled=True,
                 caption="The prices (mktme_lite/data/costs.toml). UNCONFIRMED: no primary source; change it "
                         "and see what moves.", css_class="mktme-price-table")


def render_security_matrix(highlight: str | None = None) -> LessonFigure:
    """The whole matrix: every design against every threat and kernel function."""
    m = ret2dir.security_matrix()
    if highlight is not None:
        choose(highlight, costs.DESIGNS, "design to highlight")
    return security_grid([r.design for r in m.rows], list(ret2dir.SHORT.values()),
                         [[(o.word, o.ok) for o in r.cells.values()] for r in m.rows],
                         title="What each design stops (ticks), and what still works", highlight=highlight)


def render_cost_table(workload: str = "kernel_build", cpus: int = 96, overrides: dict | None = None) -> HTMLCard:
    """The events behind the bars: per design, the counts that differ between designs and the slowdown."""
    choose(workload, costs.WORKLOADS, "workload")
    estimates = costs.compare(workload, costs.load_prices(overrides=overrides), cpus)
    kinds = ("tlb_shootdown_global", "tlb_shootdown_local", "clflush", "direct_map_change", "kmap", "syscall")
    heads = ["design", "all-CPU shootdowns", "local TLB flushes", "clflush lines", "direct-map changes", "kmaps",
             "syscalls", "gup refused", "slowdown"]
    rows = [[e.design] + [str(e.counts[k]) for k in kinds] + [str(e.failed_gups), f"x{e.slowdown:.3g}"]
            for e in estimates]
    w = costs.WORKLOADS[workload]
    return table(heads, rows, ruled=True, caption=f"{w.label}; {cpus} CPUs. Every design also pays "
                 f"{estimates[0].counts['page_fault']} page faults and as many zeroed and freed pages.",
                 css_class="mktme-cost-table")


def render_reference_table(overrides: dict | None = None) -> HTMLCard:
    """The measured slowdowns of costs.toml beside the model's estimate for the same design and CPUs."""
    rows = []
    for p in costs.reference_points(costs.load_prices(overrides=overrides)):
        m = p.measured
        measured = f"x{m.low:g}" if m.low == m.high else f"x{m.low:g}-{m.high:g}"
        model = "-" if p.model is None else f"x{p.model:.3g}"
        rows.append([m.mechanism, m.metric, measured, model, Cell(p.verdict, strong=p.ratio is not None and not
                     (1 / 3 <= p.ratio <= 3)), f"{m.source} ({m.status})"])
    return table(["mechanism", "metric", "measured", "model", "agreement", "source"], rows, ruled=True,
                 caption="The model's kernel-build estimate beside what the patch series measured.",
                 css_class="mktme-reference-table")
