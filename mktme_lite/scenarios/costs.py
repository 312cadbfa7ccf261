"""Lesson 07's cost model: kernel events counted on the kernel model, priced from the literature.

    from mktme_lite.scenarios import costs

    prices = costs.load_prices()                              # mktme_lite/data/costs.toml
    prices["clflush_line"].source                             # where 34 ns comes from
    mine = costs.load_prices(overrides={"tlb_shootdown_ipi": 500})   # or load_prices("my.toml")
    e = costs.estimate("xpfo", "kernel_build", prices, cpus=96)
    e.slowdown, e.breakdown                                   # 1.9..., {"TLB shootdowns (all CPUs)": ...}
    costs.compare("alloc_heavy")                              # every design on one workload
    costs.reference_points()                                  # the model next to the measured slowdowns

How an estimate is made, in three steps the lesson shows one by one:

1. **Count.** :func:`run_workload` boots a kernel under the design's policy and runs a workload
   (a small function of the kernel model: spawn processes, fault pages in, make system calls,
   let a debugger read pages with ``get_user_pages()``, exit). The counts are what
   ``Kernel.measure()`` saw, plus the TLB shootdowns split into the kernel-mapping ones, which
   need every CPU ("all CPUs" in the event's detail), and the local ones of a single-threaded
   process.
2. **Price.** Each count times its price (:data:`EVENT_PRICES`); an all-CPU shootdown costs
   ``tlb_shootdown_base + tlb_shootdown_ipi * (cpus - 1)``.
3. **Compare.** The design's kernel time minus the undefended kernel's (design ``"none"``) on
   the same workload is the overhead. It becomes a slowdown once divided by the whole run time
   of the undefended workload, ``kernel time / (1 - user_share)``: a kernel build spends about
   90% of its time in user mode (Linus Torvalds, 1 Sep 2018), so its kernel time is a tenth of
   the total.

Modelling choices (the lesson names them): the workloads are a few pages long, so an estimate is
a ratio, not a time; every design's policy is Kirill Shutemov's core series
(``Policy.core_series()``: clflush on every KeyID change) with only the direct map changed; MKTME
designs put *all* anonymous memory on one KeyID, as the PATCHv4 measurement did; ``memfd_secret``
moves only the workload's secret pages; XPFO flushes at once on every unmap, on every CPU (Tycho
Andersen's v6 cover, 7 Sep 2017: "we're always flushing everything everywhere"; the deferred-flush
variants of v7-v9 are reference points only); TME's key is on in every design, the undefended one
too; direct-map large-page splits are not counted; the kernel-build mix is a toy of a few pages,
with none of a real build's page-cache copies, pipes or copy-on-write faults.

Which time a measurement is: every XPFO slowdown the covers give is *system* time ("I measured
system time for parallel make", XPFO RFC v7 cover), so :func:`reference_points` sets it beside the
model's kernel time alone (``user_share`` 0 in costs.toml); the MKTME PATCHv4 figure is elapsed
time, set beside the whole-run estimate.

Speed: a workload run costs 0.1-0.5 s (every fault zeroes a page through the XTS model), so runs
are cached per (design, workload, seed); pricing a cached run is arithmetic (microseconds).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from dataclasses import replace as _dc_replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..errors import ParameterError
from ..kernel import PAGE_SIZE, Kernel, SyscallError
from ..kernel.constants import MADV_WILLNEED
from ..machine import Machine
from ..params import choose, instance, items, shown, whole
from .aliasing import policy_for
from .pages import CPU_KEY, RW, SEED

__all__ = [
    "PriceError", "Price", "PriceTable", "Measured", "Design", "Workload", "WorkloadRun", "Estimate",
    "ReferencePoint", "STATUSES", "EVENT_PRICES", "SHOOTDOWN_PRICES", "REQUIRED_PRICES", "DESIGNS", "WORKLOADS",
    "PRICES_FILE", "design_policy", "load_prices", "measured_slowdowns", "workload", "describe", "run_workload", "price_run", "estimate",
    "compare", "reference_points", "solve_price", "MAX_CPUS",
]

#: The package's price list (``mktme_lite/data/costs.toml``).
PRICES_FILE = "costs.toml"
STATUSES = ("SOURCED", "DERIVED", "UNCONFIRMED")
MAX_CPUS = 4096
_FIELDS = ("value", "unit", "per", "event", "source", "year", "status", "note")

#: kernel-model event -> the price of one such event (tlb_shootdown is split, see SHOOTDOWN_PRICES)
EVENT_PRICES: Mapping[str, str] = MappingProxyType({
    "clflush": "clflush_line",
    "wbinvd": "wbinvd",
    "pconfig": "pconfig",
    "page_fault": "page_fault",
    "page_zeroed": "page_zeroed",
    "swap_out": "swap_out",
    "swap_in": "swap_in",
    "direct_map_change": "direct_map_change",
    "kmap": "kmap",
    "kunmap": "kunmap",
    "gup": "gup",
    "frame_alloc": "frame_alloc",
    "frame_free": "frame_free",
    "syscall": "syscall",
})
#: the prices of the two kinds of TLB shootdown
SHOOTDOWN_PRICES = ("tlb_shootdown_base", "tlb_shootdown_ipi", "tlb_flush_local")
REQUIRED_PRICES = tuple(sorted(set(EVENT_PRICES.values()) | set(SHOOTDOWN_PRICES)))


class PriceError(ParameterError):
    """A price list or a price edit the cost model cannot use (the message says what is allowed)."""


# ------------------------------------------------------------------------------------------------
# Prices
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Price:
    """One price: ``value`` ns per ``per``, with its source, year and status."""

    name: str
    value: float
    unit: str
    per: str
    event: str
    source: str
    year: int | str
    status: str
    note: str = ""
    edited: bool = False  # changed by the learner (an override)

    @property
    def confirmed(self) -> bool:
        return self.status != "UNCONFIRMED"


def _number(value, what: str) -> float:
    """A finite price >= 0 in ns (ints and floats; not bools, strings or NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PriceError(f"{what} must be a number of nanoseconds (>= 0); got {shown(value)}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"{what} must be a finite number of nanoseconds >= 0; got {value!r}")
    if value > 1e12:
        raise PriceError(f"{what} = {value!r} ns is more than 1000 seconds per event; the limit is 1e12 ns")
    return value


def _price_from(name: str, entry, where: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where}: [prices.{name}] must be a table of fields; got {shown(entry)}")
    missing = [f for f in _FIELDS if f not in entry]
    unknown = sorted(set(entry) - set(_FIELDS))
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"]
                                                                          if unknown else [])
        raise PriceError(f"{where}: [prices.{name}] has {'; '.join(parts)}; its fields are {', '.join(_FIELDS)}")
    value = _number(entry["value"], f"{where}: prices.{name}.value")
    if entry["unit"] != "ns":
        raise PriceError(f"{where}: prices.{name}.unit must be \"ns\" (every price is in nanoseconds); "
                         f"got {shown(entry['unit'])}")
    for f in ("per", "event", "source", "note"):
        if not isinstance(entry[f], str) or (f != "note" and not entry[f].strip()):
            raise PriceError(f"{where}: prices.{name}.{f} must be a non-empty string; got {shown(entry[f])}")
    year = entry["year"]
    if not (year == "unknown" or (isinstance(year, int) and not isinstance(year, bool) and 1970 <= year <= 2100)):
        raise PriceError(f"{where}: prices.{name}.year must be a year (1970-2100) or \"unknown\"; got {shown(year)}")
    status = entry["status"]
    if status not in STATUSES:
        raise PriceError(f"{where}: prices.{name}.status must be one of {', '.join(STATUSES)}; got {shown(status)}")
    return Price(name, value, "ns", entry["per"], entry["event"], entry["source"], year, status, entry["note"])


@dataclass(frozen=True)
class PriceTable:
    """Every price the cost model uses, by name; ``origin`` says where they came from."""

    prices: tuple[Price, ...]
    origin: str

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {p.name: p for p in self.prices})

    def __getitem__(self, name: str) -> Price:
        choose(name, self._by_name, "price name")
        return self._by_name[name]

    def __iter__(self):
        return iter(self.prices)

    def __len__(self) -> int:
        return len(self.prices)

    def __hash__(self) -> int:
        return hash(tuple((p.name, p.value) for p in self.prices))

    def __eq__(self, other) -> bool:
        return isinstance(other, PriceTable) and [(p.name, p.value) for p in self.prices] == [
            (p.name, p.value) for p in other.prices]

    def value(self, name: str) -> float:
        return self[name].value

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def unconfirmed(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.prices if not p.confirmed)

    def with_overrides(self, overrides: Mapping[str, float] | None) -> "PriceTable":
        """A copy with some values changed (each marked ``edited``); unknown names are refused."""
        if overrides is None or overrides == {}:
            return self
        if not isinstance(overrides, Mapping):
            raise PriceError(f"overrides must be a dict of price name -> ns, e.g. {{'clflush_line': 20}}; "
                             f"got {shown(overrides)}")
        new = {}
        for name, value in overrides.items():
            if not isinstance(name, str) or name not in self._by_name:
                raise PriceError(f"there is no price {shown(name)} to override; the prices are "
                                 f"{', '.join(self._by_name)}")
            new[name] = _number(value, f"the override for {name}")
        prices = tuple(_dc_replace(p, value=new[p.name], edited=True) if p.name in new else p for p in self.prices)
        return PriceTable(prices, f"{self.origin} + your values for {', '.join(new)}")


def _read_toml(path) -> tuple[dict, str]:
    if path is None:
        raw = resources.files("mktme_lite").joinpath("data", PRICES_FILE).read_bytes()
        where = f"mktme_lite/data/{PRICES_FILE}"
    else:
        if not isinstance(path, (str, Path)):
            raise PriceError(f"path must be the name of a TOML file (a str or Path) or None; got {shown(path)}")
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise PriceError(f"cannot read the price file {str(path)!r}: {exc.strerror or exc}") from None
        except ValueError as exc:  # a NUL byte or a lone surrogate in the name
            raise PriceError(f"{shown(path)} is not a file name the system can open ({exc})") from None
        where = str(path)
    try:
        return tomllib.loads(raw.decode("utf-8")), where
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"{where} is not valid TOML: {exc}") from None


def _load(path) -> PriceTable:
    data, where = _read_toml(path)
    table = data.get("prices")
    if not isinstance(table, dict) or not table:
        raise PriceError(f"{where} has no [prices.<name>] tables; copy mktme_lite/data/{PRICES_FILE} and edit it")
    prices = tuple(_price_from(name, entry, where) for name, entry in table.items())
    missing = [n for n in REQUIRED_PRICES if n not in table]
    if missing:
        raise PriceError(f"{where} lacks the price(s) {', '.join(missing)}; the model needs "
                         f"{', '.join(REQUIRED_PRICES)}")
    return PriceTable(prices, where)


def load_prices(path: str | Path | None = None, overrides: Mapping[str, float] | None = None) -> PriceTable:
    """The price list: the course's (``path=None``) or a TOML file of the same layout, with
    ``overrides`` (price name -> ns) applied on top."""
    if path is not None and not isinstance(path, (str, Path)):
        raise PriceError(f"path must be the name of a TOML file (a str or Path) or None; got {shown(path)}")
    # The course's file is read once; a learner's own file is read on every call (they edit it).
    table = _course_prices() if path is None else _load(str(path))
    return table.with_overrides(overrides)


@lru_cache(maxsize=1)
def _course_prices() -> PriceTable:
    return _load(None)


@dataclass(frozen=True)
class Measured:
    """A measured slowdown from the XPFO and MKTME patch series (each with its cover letter or mail in costs.toml)."""

    mechanism: str
    design: str  # the model's design it corresponds to, or "" (not modelled)
    cpus: int  # hardware threads of the machine it ran on (0: unknown)
    low: float
    high: float
    user_share: float  # the user-time share the model assumes for this metric (0: kernel time only)
    metric: str
    hardware: str
    source: str
    year: int
    status: str


@lru_cache(maxsize=1)
def _measured(path) -> tuple[Measured, ...]:
    data, where = _read_toml(path)
    out = []
    for i, m in enumerate(data.get("measured", [])):
        try:
            out.append(Measured(**{f.name: m[f.name] for f in fields(Measured)}))
        except (KeyError, TypeError) as exc:
            raise PriceError(f"{where}: [[measured]] entry {i} lacks a field ({exc}); its fields are "
                             f"{', '.join(f.name for f in fields(Measured))}") from None
    return tuple(out)


def measured_slowdowns(path: str | Path | None = None) -> tuple[Measured, ...]:
    """The measured kernel-build slowdowns kept beside the prices (``[[measured]]`` in costs.toml)."""
    if path is None:
        return _measured(None)
    if not isinstance(path, (str, Path)):
        raise PriceError(f"path must be the name of a TOML file (a str or Path) or None; got {shown(path)}")
    return _measured.__wrapped__(str(path))


# ------------------------------------------------------------------------------------------------
# Designs and workloads
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """A way to keep user data from the kernel's direct map, as the kernel model runs it."""

    name: str
    label: str
    direct_map: str  # Policy.direct_map
    protect: str  # how a page holding secrets is kept: "plain", "encrypt" (an MKTME KeyID), "secret"
    family: str  # "none", "MKTME" or "XPO" (no MKTME: pages out of the direct map)


DESIGNS: Mapping[str, Design] = MappingProxyType({d.name: d for d in (
    Design("none", "No defence: one KeyID-0 direct map, no MKTME key (TME alone)", "keyid0", "plain", "none"),
    Design("keyid0", "MKTME KeyIDs, one KeyID-0 direct map (RFC v2 API alone)", "keyid0", "encrypt", "MKTME"),
    Design("per_keyid", "MKTME KeyIDs, a direct map per KeyID (core series)", "per_keyid", "encrypt", "MKTME"),
    Design("rekey", "MKTME KeyIDs, direct-map entry re-keyed (pageattr)", "rekey", "encrypt", "MKTME"),
    Design("unmapped", "MKTME KeyIDs, encrypted pages out of the direct map", "unmapped", "encrypt", "MKTME"),
    Design("xpfo", "XPFO: every user page out of the direct map", "xpfo", "plain", "XPO"),
    Design("memfd_secret", "memfd_secret(): only secret pages out of the direct map", "keyid0", "secret", "XPO"),
)})


def design_policy(design: str):
    """The kernel policy a design runs under: the core series with only its direct map changed."""
    return policy_for(DESIGNS[choose(design, DESIGNS, "design")].direct_map, "core_series")


@dataclass(frozen=True)
class Workload:
    """A mix of kernel work: ``jobs`` processes each fault in ``pages`` ordinary pages and
    ``secret_pages`` pages holding secrets, make ``syscalls`` cheap system calls, have ``gups``
    of their pages read by a debugger (``process_vm_readv``: get_user_pages + kmap), and exit
    (every page freed). ``user_share`` is the fraction of the undefended run spent in user mode."""

    name: str
    label: str
    jobs: int
    pages: int
    secret_pages: int
    gups: int
    syscalls: int
    user_share: float


WORKLOADS: Mapping[str, Workload] = MappingProxyType({w.name: w for w in (
    Workload("alloc_heavy", "allocation-heavy: fault 16 pages (4 of them secrets), free them", 1, 12, 4, 0, 0, 0.0),
    Workload("gup_heavy", "syscall/gup-heavy: 32 system calls and 32 gup reads of 4 pages", 1, 4, 0, 32, 32, 0.0),
    Workload("kernel_build", "kernel-build-like: 4 short jobs, 8 pages, 24 syscalls, 2 gups each; 90% user time",
             4, 8, 0, 2, 24, 0.9),
)})


def workload(base: str = "kernel_build", **changes) -> Workload:
    """A workload: one of :data:`WORKLOADS`, optionally with some fields changed (checked)."""
    w = WORKLOADS[choose(base, WORKLOADS, "workload")]
    allowed = ("jobs", "pages", "secret_pages", "gups", "syscalls", "user_share")
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ParameterError(f"a workload has no field {', '.join(unknown)}; it has {', '.join(allowed)}")
    if not changes:
        return w
    limits = {"jobs": (1, 8), "pages": (0, 24), "secret_pages": (0, 24), "gups": (0, 256), "syscalls": (0, 256)}
    for name, (low, high) in limits.items():
        if name in changes:
            changes[name] = whole(changes[name], f"{name} (of the workload)", low, high)
    if "user_share" in changes:
        u = changes["user_share"]
        if isinstance(u, bool) or not isinstance(u, (int, float)) or not 0 <= u < 1:
            raise ParameterError(f"user_share must be a number from 0 up to (not including) 1; got {shown(u)}")
        changes["user_share"] = float(u)
    new = _dc_replace(w, **changes)
    if new.pages + new.secret_pages == 0:
        raise ParameterError("a workload needs at least one page (pages + secret_pages >= 1)")
    if new.pages + new.secret_pages > 24:
        raise ParameterError(f"pages + secret_pages is at most 24 per job (the model's DRAM); got "
                             f"{new.pages + new.secret_pages}")
    if (new.gups or new.syscalls) and new.pages == 0:
        raise ParameterError("gups and syscalls act on ordinary pages: give the workload pages >= 1")
    changed = ", ".join(f"{k}={v}" for k, v in changes.items())
    return _dc_replace(new, name=f"{w.name}+custom", label=f"{w.name} with {changed}: {describe(new)}")


def describe(w: str | Workload) -> str:
    """What workload ``w`` (a name or a :func:`workload`) does, in words computed from its fields: a
    changed workload's own numbers, never its base's."""
    w = _workload_arg(w)
    secrets = f" and {w.secret_pages} secret page{'s' if w.secret_pages != 1 else ''}" if w.secret_pages else ""
    return (f"{w.jobs} job{'s' if w.jobs != 1 else ''}, each faulting {w.pages} page{'s' if w.pages != 1 else ''}"
            f"{secrets}, {w.syscalls} syscall{'s' if w.syscalls != 1 else ''} and {w.gups} gup "
            f"read{'s' if w.gups != 1 else ''}; {w.user_share:.0%} user time")


@dataclass(frozen=True)
class WorkloadRun:
    """What one workload did under one design: event counts and refused gup reads."""

    design: str
    workload: Workload
    counts: Mapping[str, int]  # COST_EVENTS, plus tlb_shootdown_global / tlb_shootdown_local
    failed_gups: int


def _alloc(proc, npages: int, secret: bool, design: Design, serial: int) -> int:
    length = npages * PAGE_SIZE
    if design.protect == "secret" and secret:
        return proc.memfd_secret(length)
    va = proc.mmap(length, RW)
    if design.protect == "encrypt":
        proc.encrypt_mprotect(va, length, RW, serial)
    return va


@lru_cache(maxsize=256)
def _run(design: str, w: Workload, seed: int) -> WorkloadRun:
    d = DESIGNS[design]
    k = Kernel(Machine(packages=1, seed=seed, trace=True, trace_cap=None), design_policy(design))
    serial = k.add_key("mktme", "all-anonymous-memory", CPU_KEY)  # one KeyID for everything (PATCHv4)
    debugger = k.spawn("gdb")
    k.machine.reset_trace()
    failed = 0
    with k.measure() as spent:
        for j in range(w.jobs):
            p = k.spawn(f"job{j}")
            regions = []
            if w.pages:
                regions.append((_alloc(p, w.pages, False, d, serial), w.pages))
            if w.secret_pages:
                regions.append((_alloc(p, w.secret_pages, True, d, serial), w.secret_pages))
            for va, n in regions:
                for i in range(n):
                    p.write(va + i * PAGE_SIZE, b"job data")
            ordinary = regions[0][0] if w.pages else None
            for _ in range(w.syscalls):
                p.madvise(ordinary, PAGE_SIZE, MADV_WILLNEED)  # a cheap system call
            for g in range(w.gups):
                try:
                    debugger.process_vm_readv(p, ordinary + (g % w.pages) * PAGE_SIZE, 64)
                except SyscallError:
                    failed += 1
            p.exit()
    counts = dict(spent)
    glob = sum(1 for e in k.machine.trace if e.kind == "tlb_shootdown" and "all CPUs" in e.detail)
    counts["tlb_shootdown_global"] = glob
    counts["tlb_shootdown_local"] = counts["tlb_shootdown"] - glob
    return WorkloadRun(design, w, MappingProxyType(counts), failed)


def _workload_arg(w) -> Workload:
    if isinstance(w, Workload):
        return w
    if isinstance(w, str):
        return WORKLOADS[choose(w, WORKLOADS, "workload")]
    raise ParameterError(f"workload must be a name ({', '.join(WORKLOADS)}) or a costs.workload(...); got {shown(w)}")


def run_workload(design: str, w: str | Workload = "kernel_build") -> WorkloadRun:
    """Run workload ``w`` on a fresh kernel under ``design``'s policy; count its events (cached).

    The counts do not depend on the machine's keys, so the run uses the course's one seed."""
    choose(design, DESIGNS, "design")
    return _run(design, _workload_arg(w), SEED)


# ------------------------------------------------------------------------------------------------
# Prices x counts
# ------------------------------------------------------------------------------------------------
SHOOTDOWN_ITEM = "TLB shootdowns (all CPUs)"
LOCAL_ITEM = "local TLB flushes"


def price_run(run: WorkloadRun, prices: PriceTable | Mapping | None = None, cpus: int = 96) -> dict[str, float]:
    """Nanoseconds per item of ``run``: the two kinds of TLB flush, then one item per event."""
    run = instance(run, WorkloadRun, "run (what costs.run_workload() returned)", "costs.run_workload('xpfo')")
    prices, cpus = _prices_arg(prices), _cpus(cpus)
    c = run.counts
    out = {
        SHOOTDOWN_ITEM: c["tlb_shootdown_global"] * (prices.value("tlb_shootdown_base")
                                                    + prices.value("tlb_shootdown_ipi") * (cpus - 1)),
        LOCAL_ITEM: c["tlb_shootdown_local"] * prices.value("tlb_flush_local"),
    }
    for event, name in EVENT_PRICES.items():
        out[event] = c[event] * prices.value(name)
    return out


@dataclass(frozen=True)
class Estimate:
    """A design's estimated cost on a workload, next to the undefended kernel's."""

    design: str
    workload: Workload
    cpus: int
    kernel_ns: float  # the design's kernel time for the workload
    baseline_kernel_ns: float  # the undefended kernel's ("none")
    baseline_total_ns: float  # the undefended run, user time included
    slowdown: float  # (baseline_total + overhead) / baseline_total
    breakdown: Mapping[str, float]  # overhead per item (this design minus "none"), ns
    counts: Mapping[str, int]
    failed_gups: int
    prices: str  # where the prices came from

    @property
    def overhead_ns(self) -> float:
        return self.kernel_ns - self.baseline_kernel_ns

    @property
    def overhead_percent(self) -> float:
        return 100.0 * (self.slowdown - 1.0)

    @property
    def biggest(self) -> str:
        """The item that adds the most time ("" when the design adds nothing)."""
        item = max(self.breakdown, key=lambda k: self.breakdown[k])
        return item if self.breakdown[item] > 0 else ""


def _cpus(cpus) -> int:
    return whole(cpus, "cpus (hardware threads a shootdown must reach)", 1, MAX_CPUS)


def _prices_arg(prices) -> PriceTable:
    if prices is None:
        return load_prices()
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, Mapping):
        return load_prices(overrides=prices)
    raise PriceError(f"prices must be a PriceTable (costs.load_prices()), a dict of overrides or None; "
                     f"got {shown(prices)}")


def estimate(design: str, w: str | Workload = "kernel_build", prices: PriceTable | Mapping | None = None,
             cpus: int = 96) -> Estimate:
    """Estimated slowdown of workload ``w`` under ``design`` on a ``cpus``-thread machine."""
    prices = _prices_arg(prices)
    cpus = _cpus(cpus)
    run = run_workload(design, w)
    base = run_workload("none", run.workload)
    mine, theirs = price_run(run, prices, cpus), price_run(base, prices, cpus)
    kernel_ns, base_ns = sum(mine.values()), sum(theirs.values())
    total = base_ns / (1.0 - run.workload.user_share)
    breakdown = {item: mine[item] - theirs[item] for item in mine}
    return Estimate(design, run.workload, cpus, kernel_ns, base_ns, total, (total + kernel_ns - base_ns) / total,
                    MappingProxyType(breakdown), run.counts, run.failed_gups, prices.origin)


def compare(w: str | Workload = "kernel_build", prices: PriceTable | Mapping | None = None, cpus: int = 96,
            designs=tuple(DESIGNS)) -> tuple[Estimate, ...]:
    """:func:`estimate` for every design in ``designs`` on one workload, with one price list."""
    designs = _designs_arg(designs)
    prices = _prices_arg(prices)
    return tuple(estimate(d, w, prices, cpus) for d in designs)


def _designs_arg(designs) -> tuple[str, ...]:
    """A design name or a list of them (each one of DESIGNS)."""
    if isinstance(designs, str):
        designs = (designs,)
    names = items(designs, "designs (a list of design names)", 1, len(DESIGNS))
    return tuple(choose(d, DESIGNS, "design") for d in names)


@dataclass(frozen=True)
class ReferencePoint:
    """A measured slowdown next to the model's estimate for the same design and CPU count."""

    measured: Measured
    model: float | None  # the model's slowdown on kernel_build (None: the mechanism is not modelled)
    ratio: float | None  # model overhead / measured overhead (the middle of the measured range)

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "not modelled"
        if 1 / 3 <= self.ratio <= 3:
            return "agrees within a factor of 3"
        if 0.1 <= self.ratio <= 10:
            return (f"same order of magnitude (model's overhead {'low' if self.ratio < 1 else 'high'} by "
                    f"{max(self.ratio, 1 / self.ratio):.1f}x)")
        return (f"overheads (slowdown - 1) off by more than 10x (model's overhead {'low' if self.ratio < 1 else 'high'} "
                f"by {max(self.ratio, 1 / self.ratio):.0f}x)")


def reference_points(prices: PriceTable | Mapping | None = None,
                     w: str | Workload = "kernel_build") -> tuple[ReferencePoint, ...]:
    """Every measured slowdown of costs.toml beside the model's kernel-build estimate at its CPU count."""
    prices = _prices_arg(prices)
    out = []
    for m in measured_slowdowns():
        if not m.design:
            out.append(ReferencePoint(m, None, None))
            continue
        wl = _workload_arg(w)
        wl = workload(wl.name, user_share=m.user_share) if wl.name in WORKLOADS else _dc_replace(
            wl, user_share=m.user_share)
        e = estimate(m.design, wl, prices, m.cpus or 96)
        mid = (m.low + m.high) / 2
        out.append(ReferencePoint(m, e.slowdown, (e.slowdown - 1) / (mid - 1)))
    return tuple(out)


def solve_price(design: str, target: float, price: str, w: str | Workload = "kernel_build",
                prices: PriceTable | Mapping | None = None, cpus: int = 96) -> float | None:
    """The value of ``price`` (ns) at which ``design``'s estimated slowdown on ``w`` equals ``target``.

    An estimate is linear in every price, so two estimates fix the line. None when the price does
    not move this design's estimate (or the answer would be negative)."""
    prices = _prices_arg(prices)
    choose(price, prices.names(), "price name")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target) or target < 1:
        raise ParameterError(f"target must be a slowdown >= 1 (e.g. 26.37); got {shown(target)}")
    p0 = prices.value(price)
    s0 = estimate(design, w, prices, cpus).slowdown
    s1 = estimate(design, w, prices.with_overrides({price: p0 + 1000.0}), cpus).slowdown
    slope = (s1 - s0) / 1000.0
    if slope <= 0:
        return None
    value = p0 + (target - s0) / slope
    return value if value >= 0 else None
